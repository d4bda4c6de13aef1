"""The reader against the virtual chip's quirk profiles (habits of real chips, issue 19): every
profile is read completely, and each chip-access bug of issue 19 has its case here."""

from __future__ import annotations

import pytest

from drivers.chiplink import ChipLink, run
from gate.emrtd.access.access import mrz_information
from gate.emrtd.errors import CardRemovedError, PACEError, StatusWordError
from gate.emrtd.iso7816.apdu import CommandAPDU, decode_command
from gate.emrtd.lds import lds
from gate.emrtd.reader import ChipSession, Reader, ReadPolicy
from simulator.chip.builder import ImageSpec, build_image
from simulator.chip.card import ChipConfig, VirtualChip
from simulator.chip.image import ChipImage, load_image
from simulator.chip.quirks import QUIRKS, UnknownQuirkError, apply_quirks, parse_quirks
from simulator.chip.transport import InProcessTransport

FILES = ["EF.COM", "EF.SOD", "DG1", "DG2"]


@pytest.fixture(scope="module")
def images() -> dict[str, ChipImage]:
    return {
        "BAC": build_image(ImageSpec(pace=[], aa="RSA", dg2_size=12000)),
        "PACE": build_image(ImageSpec(pace=[("GM", "AES-128", 13)], aa="RSA", dg2_size=12000)),
    }


def _with(image: ChipImage, *quirks: str) -> ChipImage:
    return ChipImage(dict(image.files), image.mrz, image.can, image.aa_key, image.ca_key,
                     quirks=list(quirks))  # fmt: skip


def _open(image: ChipImage, policy: ReadPolicy | None = None, config: ChipConfig | None = None
          ) -> tuple[Reader, ChipLink]:  # fmt: skip
    link = ChipLink(InProcessTransport(VirtualChip(image, config or ChipConfig())))
    link.session.keep_log = True
    reader = link.reader(policy)
    link.run(reader.open(image.mrz_information))
    return reader, link


@pytest.mark.parametrize("access", ["BAC", "PACE"])
@pytest.mark.parametrize("name", [q.name for q in QUIRKS.values() if q.completes])
def test_every_profile_is_read_completely(
    images: dict[str, ChipImage], name: str, access: str
) -> None:
    image = _with(images[access], name)
    reader, link = _open(image)
    names, done = link.run(reader.data_groups())
    assert set(names) >= {"DG1", "DG2", "EF.SOD"}
    files = {**{n: r.data for n, r in done.items()},
             **{n: r.data for n, r in link.run(reader.read_files(names)).items()}}  # fmt: skip
    for name_ in names:
        assert files[name_] == image.files[name_], name_


def test_removal_mid_file_is_card_removed(images: dict[str, ChipImage]) -> None:
    reader, link = _open(_with(images["BAC"], "removed-mid-file", "short-256"))
    with pytest.raises(CardRemovedError):
        link.run(reader.read_files(FILES))


# -- bug 1: a bare error status word keeps the session -------------------------------------
@pytest.mark.parametrize("access", ["BAC", "PACE"])
def test_bare_error_sw_keeps_the_session(images: dict[str, ChipImage], access: str) -> None:
    reader, link = _open(_with(images[access], "bare-error-sw"))
    with pytest.raises(StatusWordError) as info:
        link.run(reader.read_files(["DG5"]))  # absent: a bare 6A82
    assert info.value.sw == 0x6A82
    with pytest.raises(StatusWordError) as info:
        link.run(reader.read_files(["DG16"]))  # a second one in a row
    assert info.value.sw == 0x6A82
    assert link.run(reader.read_files(["DG1"]))["DG1"].data == images[access].files["DG1"]


def test_bare_9000_and_sm_errors_still_end_the_session(images: dict[str, ChipImage]) -> None:
    from gate.emrtd.errors import SecureMessagingError
    from gate.emrtd.iso7816.apdu import ResponseAPDU

    reader, _ = _open(images["BAC"])
    sm = reader.session.sm
    assert sm is not None
    for sw in (0x9000, 0x6988):
        sm.closed = False
        with pytest.raises(SecureMessagingError):
            sm.unprotect(ResponseAPDU(b"", sw))
        assert sm.closed


# -- bug 2: 6Cxx is "ask again once with exactly this Le" -----------------------------------
@pytest.mark.parametrize("access", ["BAC", "PACE"])
def test_6cxx_costs_one_extra_apdu_per_file(images: dict[str, ChipImage], access: str) -> None:
    image = _with(images[access], "wrong-le-6c")
    reader, link = _open(image)
    reads = link.run(reader.read_files(FILES))
    assert {n: r.data for n, r in reads.items()} == {n: image.files[n] for n in FILES}
    assert reads["EF.COM"].apdus <= 2 and reads["DG1"].apdus <= 2
    assert reads["DG2"].apdus <= 2


def test_unprotected_6cxx_on_card_access_does_not_shrink_later_reads(
    images: dict[str, ChipImage],
) -> None:
    image = _with(images["PACE"], "wrong-le-6c")
    reader, link = _open(image)
    reads = link.run(reader.read_files(["DG1", "DG2"]))
    assert reads["DG2"].data == image.files["DG2"]
    assert reads["DG1"].apdus <= 2 and reads["DG2"].apdus <= 2


def test_6cxx_resends_any_command_once_with_the_offered_le() -> None:
    class Chip:
        atr = b"\x3b\x80\x80\x01\x01"

        def __init__(self) -> None:
            self.seen: list[bytes] = []

        def transmit(self, apdu: bytes) -> bytes:
            self.seen.append(apdu)
            return b"\x6c\x08" if apdu[-1] != 8 else bytes(8) + b"\x90\x00"

    chip = Chip()
    resp = run(
        ChipSession(atr=chip.atr).transmit(CommandAPDU(0x00, 0x84, 0x00, 0x00, le=256)), chip
    )
    assert resp.ok and len(resp.data) == 8 and len(chip.seen) == 2


# -- bug 3: B1 with Le counting the DO'53 header --------------------------------------------
@pytest.mark.parametrize("quirk", ["short-256", "max-response-df", "max-response-a0"])
def test_b1_le_counting_the_header_reads_a_40kb_dg2(quirk: str) -> None:
    base = build_image(ImageSpec(pace=[], aa=None, dg2_size=40000))
    image = _with(base, "b1-le-counts-header", quirk)
    reader, link = _open(image)
    assert link.run(reader.read_files(["DG2"]))["DG2"].data == image.files["DG2"]
    plain = _with(base, quirk)  # a chip counting data only still works with the larger Le
    reader, link = _open(plain)
    assert link.run(reader.read_files(["DG2"]))["DG2"].data == image.files["DG2"]


# -- bug 5: no EF.COM ---------------------------------------------------------------------------
def test_no_ef_com_takes_the_list_from_ef_sod(images: dict[str, ChipImage]) -> None:
    reader, link = _open(_with(images["PACE"], "no-ef-com"))
    names, done = link.run(reader.data_groups())
    assert names == ["DG1", "DG2", "DG14", "DG15", "EF.SOD"] and list(done) == ["EF.SOD"]


# -- item 6: TD1 document numbers longer than 9 characters ------------------------------------
def test_td1_long_document_number_stops_at_the_first_filler() -> None:
    lines = [
        "I<UTOD23145890<7349<AB12<<<<<<",
        "7408122F1204159UTO<<<<<<<<<<<6",
        "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
    ]
    assert mrz_information("".join(lines)) == "D23145890734974081221204159"


# -- risks: BAC Le, T=0 ------------------------------------------------------------------------
def test_mutual_authenticate_refusing_le_28_is_retried_with_le_00(
    images: dict[str, ChipImage],
) -> None:
    image = _with(images["BAC"], "mutual-auth-le00")
    reader, link = _open(image)
    assert link.run(reader.read_files(["DG1"]))["DG1"].data == image.files["DG1"]


def test_t0_chip_is_read_through_get_response(images: dict[str, ChipImage]) -> None:
    image = _with(images["PACE"], "t0-get-response")
    reader, link = _open(image)
    assert link.run(reader.read_files(["DG1"]))["DG1"].data == image.files["DG1"]
    assert any(cmd[1] == 0xC0 for cmd, _ in reader.session.log)


# -- PACE downgrade (issue 17 item 3) ----------------------------------------------------------
def test_corrupt_card_access_is_a_visible_downgrade(images: dict[str, ChipImage]) -> None:
    files = dict(images["PACE"].files)
    files["EF.CardAccess"] = b"\x31\x03\x30\x01"  # truncated SecurityInfos
    image = ChipImage(files, images["PACE"].mrz, images["PACE"].can)
    transport = InProcessTransport(VirtualChip(image))
    result = run(Reader(ChipSession(atr=transport.atr)).open(image.mrz_information), transport)
    assert result.protocol == "BAC" and result.downgraded
    assert result.pace_error is not None and "EF.CardAccess" in result.pace_error
    link = ChipLink(InProcessTransport(VirtualChip(image)))
    strict = link.reader(ReadPolicy(require_pace=True))
    with pytest.raises(PACEError, match="PACE required"):
        link.run(strict.open(image.mrz_information))


def test_bac_only_chip_is_no_downgrade(images: dict[str, ChipImage]) -> None:
    link = ChipLink(InProcessTransport(VirtualChip(images["BAC"])))
    result = link.run(link.reader().open(images["BAC"].mrz_information))
    assert result.protocol == "BAC" and not result.downgraded


# -- profiles as data ------------------------------------------------------------------------
def test_profiles_are_cited_and_parse(tmp_path: object) -> None:
    for q in QUIRKS.values():
        assert q.description and q.source
    assert parse_quirks("no-ef-com, slow-chip") == ["no-ef-com", "slow-chip"]
    with pytest.raises(UnknownQuirkError, match="egate chip quirks"):
        parse_quirks("no-such")
    config, faults = apply_quirks(["short-256", "slow-chip"], ChipConfig(), VirtualChip(
        build_image(ImageSpec(pace=[], aa=None, dg2_size=100))).faults)  # fmt: skip
    assert not config.extended_length and faults.slow_seconds > 0


def test_quirks_survive_save_and_load(images: dict[str, ChipImage], tmp_path: object) -> None:
    from pathlib import Path

    directory = Path(str(tmp_path)) / "img"
    _with(images["BAC"], "no-ef-com").save(directory)
    assert load_image(directory).quirks == ["no-ef-com"]


# -- the lane's read: what the chip lists, absent optional files are no failure ---------------
@pytest.mark.parametrize("quirks", [(), ("bare-error-sw",)])
def test_read_document_skips_absent_optional_files(quirks: tuple[str, ...]) -> None:
    base = build_image(ImageSpec(pace=[], aa=None, chip_authentication=False, dg2_size=900))
    reader, link = _open(_with(base, *quirks))
    assert set(link.run(reader.read_document())) == {
        "EF.COM",
        "DG1",
        "DG2",
        "EF.SOD",
    }  # nothing else
    listed_but_absent = _with(base, *quirks)
    listed_but_absent.files["EF.COM"] = lds.encode_ef_com([1, 2, 15])  # DG15 listed, absent
    reader, link = _open(listed_but_absent)
    assert set(link.run(reader.read_document())) == {"EF.COM", "DG1", "DG2", "EF.SOD"}
    assert (
        link.run(reader.read_files(["DG1"]))["DG1"].data == base.files["DG1"]
    )  # session still open
    missing_dg1 = _with(base, *quirks)
    del missing_dg1.files["DG1"]
    reader, link = _open(missing_dg1)
    with pytest.raises(StatusWordError):
        link.run(reader.read_document())


@pytest.mark.parametrize("quirks", [(), ("bare-error-sw",)])
def test_a_chip_hiding_a_data_group_the_sod_lists_fails_the_read(
    images: dict[str, ChipImage], quirks: tuple[str, ...]
) -> None:
    """A clone answering 6A82 for DG15 (and leaving it out of EF.COM) must not escape active
    authentication: EF.SOD, which is signed, lists DG15."""
    image = _with(images["BAC"], *quirks)
    image.files["EF.COM"] = lds.encode_ef_com([1, 2, 14])
    reader, link = _open(image, config=ChipConfig(hidden_files=("DG15",)))
    with pytest.raises(StatusWordError) as info:
        link.run(reader.read_document())
    assert info.value.sw == 0x6A82 and "DG15" in str(info.value)


def test_dg14_listing_pace_reveals_a_downgrade_that_hid_card_access(
    images: dict[str, ChipImage],
) -> None:
    """A bare 6A82 for EF.CardAccess needs no MAC: DG14, signed through EF.SOD, still says the
    chip has PACE, so the BAC opening is reported as a downgrade after the read."""
    reader, link = _open(images["PACE"], config=ChipConfig(hidden_files=("EF.CardAccess",)))
    assert reader.access is not None and not reader.access.downgraded  # looked BAC-only
    link.run(reader.read_document())
    assert reader.access.downgraded and "DG14" in str(reader.access.pace_error)
    honest, honest_link = _open(images["BAC"])
    honest_link.run(honest.read_document())
    assert honest.access is not None and not honest.access.downgraded


def _select_mf_count(reader: Reader) -> int:
    return sum(1 for cmd, _ in reader.session.log if cmd[1:3] == b"\xa4\x00")


def test_chip_needing_select_mf_is_opened_with_pace(images: dict[str, ChipImage]) -> None:
    """EF.CardAccess answers 6A82 until SELECT MF: the reader selects the master file once and
    reads it again, so the chip is opened with PACE, not reported as a downgrade."""
    reader, link = _open(_with(images["PACE"], "needs-select-mf"))
    assert reader.access is not None and reader.access.protocol == "PACE"
    link.run(reader.read_document())
    assert not reader.access.downgraded
    assert _select_mf_count(reader) == 1


def test_select_mf_is_paid_only_by_chips_answering_6a82(images: dict[str, ChipImage]) -> None:
    """A PACE chip sends no SELECT MF, nor a BAC-only chip whose EF.ATR/INFO showed the master
    file visible; a BAC-only chip without it pays SELECT MF and one more probe."""
    pace, _ = _open(images["PACE"])
    assert _select_mf_count(pace) == 0
    with_atr_info, _ = _open(images["BAC"])
    assert _select_mf_count(with_atr_info) == 0
    short = ChipConfig(extended_length=False, max_response=256, max_command=255)
    bac, _ = _open(images["BAC"], config=short)
    assert _select_mf_count(bac) == 1
    probes = [cmd for cmd, _ in bac.session.log if cmd[1] == 0xB0 and cmd[2] == 0x9C]
    assert len(probes) == 2  # EF.CardAccess (SFI 1C) asked before and after SELECT MF
    assert bac.access is not None and not bac.access.downgraded


def test_extended_length_claimed_by_the_atr_is_probed(images: dict[str, ChipImage]) -> None:
    """The ATR says extended length but extended APDUs get 6700: the EF.ATR/INFO read probes
    it, so the read costs what a short-APDU chip's does instead of stepping down from 64 KB."""
    for access in ("BAC", "PACE"):
        claimed, claimed_link = _open(_with(images[access], "atr-claims-extended"))
        claimed_link.run(claimed.read_files(FILES))
        short, short_link = _open(_with(images[access], "short-256"))
        short_link.run(short.read_files(FILES))
        assert not claimed.extended
        assert len(claimed.session.log) == len(short.session.log) + 1  # the probe
        sent_extended = [c for c, _ in claimed.session.log[1:] if decode_command(c).extended]
        assert not sent_extended


def test_malformed_ef_com_falls_back_to_the_sod_list(images: dict[str, ChipImage]) -> None:
    image = _with(images["BAC"])
    image.files["EF.COM"] = b"\x60\x10\x5f\x01"  # header says 16 bytes, 2 follow
    reader, link = _open(image)
    files = link.run(reader.read_document())
    assert set(files) == {"DG1", "DG2", "DG14", "DG15", "EF.SOD"}
