"""Reader against the virtual chip (in-process transport): every access protocol, cipher and
curve, short and extended APDUs, AA/CA hooks, faults and the Dutch 2006 test passport."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import dsa, ec

from drivers.chiplink import ChipLink
from gate.emrtd.access.pace import PACECard, PACETerminal, can_password
from gate.emrtd.crypto.ecmath import DHGroup, curve
from gate.emrtd.crypto.kdf import ENC, MAC, derive_key
from gate.emrtd.errors import (
    BACError,
    CardRemovedError,
    PACEError,
    SecureMessagingError,
    StatusWordError,
)
from gate.emrtd.iso7816.apdu import CommandAPDU
from gate.emrtd.lds import lds
from gate.emrtd.lds.securityinfos import PACEInfo, pace_oid
from gate.emrtd.reader import Reader, ReadPolicy, atr_supports_extended_length
from simulator.chip.builder import ImageSpec, build_image
from simulator.chip.card import ChipConfig, Faults, VirtualChip
from simulator.chip.image import ChipImage, load_image
from simulator.chip.transport import InProcessTransport

FILES = ["EF.COM", "EF.SOD", "DG1", "DG2"]


def _read(
    image: ChipImage,
    config: ChipConfig | None = None,
    faults: Faults | None = None,
    can: str | None = None,
    policy: ReadPolicy | None = None,
    files: list[str] = FILES,
) -> tuple[Reader, InProcessTransport, dict[str, bytes], str]:
    chip = VirtualChip(image, config or ChipConfig(), faults or Faults())
    transport = InProcessTransport(chip)
    link = ChipLink(transport)
    session = link.session
    session.keep_log = True
    reader = Reader(session, policy or ReadPolicy())
    result = link.run(reader.open(None if can else image.mrz_information, can))
    out = {n: r.data for n, r in link.run(reader.read_files(files)).items()}
    label = result.protocol + (f"-{result.mapping}-{result.cipher}" if result.mapping else "")
    return reader, transport, out, label


@pytest.fixture(scope="module")
def bac_image() -> ChipImage:
    return build_image(ImageSpec(pace=[], aa="RSA", dg2_size=15000))


@pytest.mark.parametrize("extended", [True, False])
def test_bac_reads_files_byte_identical(bac_image: ChipImage, extended: bool) -> None:
    cfg = ChipConfig(extended_length=extended, max_response=65536 if extended else 256)
    _reader, transport, files, label = _read(bac_image, cfg)
    assert label == "BAC"
    assert files == {n: bac_image.files[n] for n in FILES}
    # reading is as short as the chip allows: one READ per file with extended length
    if extended:
        assert transport.apdus <= 3 + 2 + 1 + len(FILES) + 1
    else:
        assert transport.apdus > 60


CASES = [
    ("GM", "3DES", 13), ("GM", "AES-128", 13), ("GM", "AES-192", 13), ("GM", "AES-256", 13),
    ("GM", "AES-128", 16), ("GM", "AES-256", 17), ("GM", "AES-128", 12), ("GM", "AES-192", 15),
    ("GM", "AES-256", 18), ("CAM", "AES-128", 13), ("CAM", "AES-192", 12),
    ("CAM", "AES-256", 17), ("GM", "AES-128", 0), ("GM", "3DES", 1), ("GM", "AES-256", 2),
]  # fmt: skip


CA_CURVE = {13: "brainpoolP256r1", 15: "secp384r1", 16: "brainpoolP384r1",
            17: "brainpoolP512r1", 18: "secp521r1"}  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[f"{m}-{c}-{p}" for m, c, p in CASES])
@pytest.mark.parametrize("extended", [True, False], ids=["ext", "short"])
def test_pace_variants_read_files(case: tuple[str, str, int], extended: bool) -> None:
    mapping, cipher, pid = case
    curve_name = CA_CURVE.get(pid, "secp256r1")
    image = build_image(ImageSpec(pace=[case], aa=None, dg2_size=3000, ca_curve=curve_name))
    cfg = ChipConfig(extended_length=extended, max_response=65536 if extended else 256)
    _reader, _, files, label = _read(image, cfg)
    # 2048-bit DH keys (ids 1, 2) on a short link: chained GENERAL AUTHENTICATE, still PACE
    assert label == f"PACE-{mapping}-{cipher}"
    assert files == {n: image.files[n] for n in FILES}


def test_pace_with_can_and_cam_verification() -> None:
    image = build_image(
        ImageSpec(pace=[("CAM", "AES-128", 13), ("GM", "AES-128", 13)], can="654321")
    )
    chip = VirtualChip(image)
    link = ChipLink(InProcessTransport(chip))
    reader = link.reader()
    result = link.run(reader.open(can="654321"))
    assert (result.protocol, result.mapping, result.cam_verified) == ("PACE", "CAM", True)
    assert link.run(reader.read_files(["DG1"]))["DG1"].data == image.files["DG1"]


def test_wrong_can_raises_pace_error() -> None:
    image = build_image(ImageSpec(can="654321"))
    link = ChipLink(InProcessTransport(VirtualChip(image)))
    reader = link.reader()
    with pytest.raises(PACEError, match=r"wrong password|authentication token"):
        link.run(reader.open(can="111111"))


def test_chip_rejecting_tag_84_gets_mse_without_it() -> None:
    image = build_image(ImageSpec(aa=None))
    _, _transport, files, label = _read(image, ChipConfig(reject_parameter_id=True))
    assert label == "PACE-GM-AES-128" and files["DG1"] == image.files["DG1"]


def test_pace_failure_falls_back_to_bac() -> None:
    image = build_image(ImageSpec(aa=None))
    chip = VirtualChip(image)
    chip.pace_infos = []  # the chip advertises PACE but refuses MSE:Set AT
    link = ChipLink(InProcessTransport(chip))
    reader = link.reader()
    result = link.run(reader.open(image.mrz_information))
    assert result.protocol == "BAC" and result.pace_error is not None
    assert link.run(reader.read_files(["DG1"]))["DG1"].data == image.files["DG1"]


def test_wrong_mrz_raises_bac_error(bac_image: ChipImage) -> None:
    link = ChipLink(InProcessTransport(VirtualChip(bac_image)))
    reader = link.reader()
    with pytest.raises(BACError, match="does not open this chip"):
        link.run(reader.open("AB12345673" + "8001014" + "3001015"))


def test_nothing_readable_before_access_control(bac_image: ChipImage) -> None:
    link = ChipLink(InProcessTransport(VirtualChip(bac_image)))
    session = link.session
    reader = Reader(session)
    link.run(reader.select_application())
    with pytest.raises(StatusWordError) as info:
        link.run(reader.read_file("DG1"))
    assert info.value.sw == 0x6982


def test_large_dg2_uses_odd_ins_read_binary() -> None:
    image = build_image(ImageSpec(pace=[], aa=None, dg2_size=60000))
    cfg = ChipConfig(extended_length=True, max_response=4096, publish_atr_info=True)
    reader, _transport, files, _ = _read(image, cfg, files=["DG2"])
    assert files["DG2"] == image.files["DG2"]
    # with 4 KB per response, 60 KB need about 15 reads, those above 32 KB with INS B1
    assert reader.session.stats.apdus < 30
    assert any(cmd[1] == 0xB1 for cmd, _ in reader.session.log)


def test_reader_adapts_to_unpublished_response_limit() -> None:
    image = build_image(ImageSpec(pace=[], aa=None, dg2_size=8000))
    cfg = ChipConfig(extended_length=True, max_response=1000, publish_atr_info=False)
    _, _, files, _ = _read(image, cfg, files=["DG2", "DG1"])
    assert files["DG2"] == image.files["DG2"]


def test_active_authentication_through_the_session() -> None:
    for kind in ("RSA", "EC"):
        image = build_image(ImageSpec(pace=[], aa=kind, dg2_size=500))
        link = ChipLink(InProcessTransport(VirtualChip(image)))
        reader = link.reader()
        link.run(reader.open(image.mrz_information))
        challenge = bytes(range(8))
        resp = link.run(
            reader.session.transmit(CommandAPDU(0x00, 0x88, 0x00, 0x00, challenge, le=256))
        )
        assert resp.ok and len(resp.data) >= 64
        assert image.aa_key is not None
        if kind == "EC":
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

            key = image.aa_key.public_key()
            assert isinstance(key, ec.EllipticCurvePublicKey)
            r, s = resp.data[:32], resp.data[32:]
            der = encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big"))
            key.verify(der, challenge, ec.ECDSA(hashes.SHA256()))
        else:
            numbers = image.aa_key.public_key().public_numbers()  # type: ignore[union-attr]
            recovered = pow(int.from_bytes(resp.data, "big"), numbers.e, numbers.n)
            assert recovered.to_bytes(128, "big")[0] == 0x6A and recovered & 0xFF == 0xBC


def test_chip_authentication_restarts_secure_messaging() -> None:
    image = build_image(ImageSpec(pace=[], aa=None, dg2_size=500))
    link = ChipLink(InProcessTransport(VirtualChip(image)))
    reader = link.reader()
    link.run(reader.open(image.mrz_information))
    assert image.ca_key is not None
    c = curve("brainpoolP256r1")
    sk = 0x1234567890ABCDEF1234567890ABCDEF
    pk = c.encode_point(c.mul(sk, c.g))
    oid = bytes.fromhex("04007F00070202030202")  # id-CA-ECDH-AES-CBC-CMAC-128
    s = reader.session
    assert link.run(s.transmit(CommandAPDU(0x00, 0x22, 0x41, 0xA4, b"\x80\x0a" + oid))).ok
    assert link.run(
        s.transmit(CommandAPDU(0x00, 0x86, 0x00, 0x00, b"\x7c\x43\x80\x41" + pk, 256))
    ).ok
    chip_pub = image.ca_key.public_key().public_numbers()
    shared = c.mul(sk, (chip_pub.x, chip_pub.y))
    assert shared is not None
    secret = shared[0].to_bytes(32, "big")
    s.restart_secure_messaging(
        derive_key(secret, ENC, "AES-128"), derive_key(secret, MAC, "AES-128"), "AES-128", 0
    )
    assert link.run(reader.read_file("DG1")) == image.files["DG1"]


def test_card_removed_mid_read_then_reader_usable_again(bac_image: ChipImage) -> None:
    chip = VirtualChip(bac_image, ChipConfig(max_response=1024), Faults(remove_after_apdus=8))
    transport = InProcessTransport(chip)
    link = ChipLink(transport)
    reader = link.reader()
    link.run(reader.open(bac_image.mrz_information))
    with pytest.raises(CardRemovedError):
        link.run(reader.read_files(["DG2"]))
    transport.reinsert()
    link = ChipLink(transport)
    reader = link.reader()
    link.run(reader.open(bac_image.mrz_information))
    assert link.run(reader.read_files(["DG2"]))["DG2"].data == bac_image.files["DG2"]


def test_corrupted_mac_ends_session(bac_image: ChipImage) -> None:
    chip = VirtualChip(bac_image, faults=Faults(corrupt_mac_at=6))
    link = ChipLink(InProcessTransport(chip))
    reader = link.reader()
    link.run(reader.open(bac_image.mrz_information))
    with pytest.raises(SecureMessagingError, match="MAC"):
        link.run(reader.read_files(FILES))
    with pytest.raises(SecureMessagingError, match="closed"):
        link.run(reader.read_file("DG1"))


def test_slow_chip_shows_in_the_timing_model(bac_image: ChipImage) -> None:
    times = []
    for slow in (0.0, 0.02):
        _, transport, _, _ = _read(bac_image, faults=Faults(slow_seconds=slow), files=["DG1"])
        times.append((transport.modelled_seconds, transport.apdus))
    assert times[1][0] == pytest.approx(times[0][0] + 0.02 * times[1][1])


def test_atr_capabilities() -> None:
    assert atr_supports_extended_length(VirtualChip(build_image(ImageSpec(aa=None))).atr)
    short = VirtualChip(build_image(ImageSpec(aa=None)), ChipConfig(extended_length=False))
    assert not atr_supports_extended_length(short.atr)
    assert not atr_supports_extended_length(bytes.fromhex("3B8F8001804F0CA000000306030001"))


def test_rfc5114_groups_are_consistent() -> None:
    from gate.emrtd.crypto.ecmath import STANDARD_DH_GROUPS

    for group in STANDARD_DH_GROUPS.values():
        assert (group.p - 1) % group.q == 0
        assert pow(group.g, group.q, group.p) == 1 and group.g != 1
        assert pow(2, group.p - 1, group.p) == 1  # Fermat check of p


def test_pace_dh_generic_mapping() -> None:
    params = dsa.generate_parameters(1024).parameter_numbers()
    groups = {0: DHGroup(params.p, params.g, params.q)}
    info = PACEInfo(pace_oid("DH", "GM", "AES-128"), 2, 0)
    card = PACECard([info], {2: can_password("123456")}, dh_groups=groups)
    term = PACETerminal(info, can_password("123456"), 2, dh_groups=groups)
    from gate.emrtd.iso7816.apdu import ResponseAPDU

    resp = ResponseAPDU(b"", card.set_at(term.mse_set_at().data))
    cmd = term.get_nonce(resp)
    sm = None
    for step in (term.map_nonce, term.key_agreement, term.mutual_authentication):
        resp, _ = card.general_authenticate(cmd.data)
        cmd = step(resp)
    resp, sm = card.general_authenticate(cmd.data)
    terminal_sm = term.finish(resp)
    assert sm is not None and terminal_sm.ks_enc == sm.ks_enc


def test_dutch_2006_passport_in_process(testdata_dir: Callable[..., Path]) -> None:
    base = testdata_dir("epassport", "jmrtd_samples", "loes2006_NL_specimen")
    image = load_image(Path(base))
    assert image.mrz_information == "XX00013286711019511100121"[:10] + "7110195" + "1110012"
    names = ["EF.COM", "DG1", "DG2", "DG15", "EF.SOD"]
    _, _, files, label = _read(
        image, ChipConfig(extended_length=False, max_response=256), files=names
    )
    assert label == "BAC"
    for name in names:
        assert files[name] == image.files[name]
    assert lds.parse_ef_com(files["EF.COM"]).data_groups == (1, 2, 15)


def test_chip_without_short_file_ids_is_read_by_select(bac_image: ChipImage) -> None:
    reader, _t, files, _ = _read(bac_image, ChipConfig(short_file_ids=False))
    assert files == {n: bac_image.files[n] for n in FILES}
    selects = [c for c, _ in reader.session.log if c[1] == 0xA4 and c[2] == 0x02]
    # EF.CardAccess probed by file ID in the MF, then one protected SELECT per file
    assert selects[0] == bytes.fromhex("00A4020C02011C")
    assert len([c for c in selects if c[0] == 0x0C]) == len(FILES)
