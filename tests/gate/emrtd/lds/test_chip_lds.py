"""LDS and SecurityInfos parsing on published samples, and encoder round trips."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.emrtd.errors import LDSError, SecurityInfoError
from gate.emrtd.lds import lds, securityinfos

G1_CARD_ACCESS = bytes.fromhex("31143012060A04007F0007020204020202010202010D")


@pytest.fixture(scope="session")
def sample(testdata_dir: Callable[..., Path]) -> Callable[..., bytes]:
    """sample(*parts): the bytes of a file below testdata/epassport."""
    return lambda *parts: testdata_dir("epassport", *parts).read_bytes()


def test_card_access_from_appendix_g1() -> None:
    (info,) = securityinfos.parse_card_access(G1_CARD_ACCESS)
    assert isinstance(info, securityinfos.PACEInfo)
    assert (info.key_agreement, info.mapping, info.cipher) == ("ECDH", "GM", "AES-128")
    assert info.curve_name == "brainpoolP256r1"
    assert securityinfos.encode_security_infos([info]) == G1_CARD_ACCESS


@pytest.mark.parametrize(
    "path",
    [("jmrtd_samples", "misc", "spec_sample_encoded_dg14.bin"),
     ("gmrtd", "lds_sample_document", "DG14.bin")],
)  # fmt: skip
def test_dg14_samples_parse_and_re_encode(
    path: tuple[str, ...], sample: Callable[..., bytes]
) -> None:
    data = sample(*path)
    infos = lds.parse_dg14(data)
    kinds = {type(i).__name__ for i in infos}
    assert {"ChipAuthenticationPublicKeyInfo", "ChipAuthenticationInfo"} <= kinds
    assert lds.encode_dg14(infos) == data


def test_all_security_info_kinds_round_trip() -> None:
    spki = bytes.fromhex("3014300706052B8104000A0309000102030405060708")
    infos: list[securityinfos.SecurityInfo] = [
        securityinfos.PACEInfo(securityinfos.pace_oid("ECDH", "CAM", "AES-256"), 2, 17),
        securityinfos.PACEDomainParameterInfo(
            securityinfos.ID_PACE_ECDH_GM, bytes.fromhex("300906072A8648CE3D0201"), 5
        ),
        securityinfos.ChipAuthenticationInfo(securityinfos.ca_oid("ECDH", "AES-128"), 1, 7),
        securityinfos.ChipAuthenticationPublicKeyInfo(securityinfos.ID_PK_ECDH, spki, 7),
        securityinfos.TerminalAuthenticationInfo(),
        securityinfos.ActiveAuthenticationInfo("1.2.840.10045.4.3.2"),
    ]
    parsed = securityinfos.parse_security_infos(securityinfos.encode_security_infos(infos))
    assert parsed == infos
    assert parsed[0].mapping == "CAM" and parsed[0].cipher == "AES-256"  # type: ignore[union-attr]
    assert parsed[2].key_agreement == "ECDH"  # type: ignore[union-attr]


def test_unknown_security_info_kept_verbatim() -> None:
    raw = securityinfos.sequence(securityinfos.encode_oid("1.2.3.4"), securityinfos.encode_int(5))
    data = securityinfos.encode_security_infos([securityinfos.parse_security_info(raw)])
    (info,) = securityinfos.parse_security_infos(data)
    assert isinstance(info, securityinfos.UnknownInfo) and info.raw == raw


def test_oid_codec_large_arcs() -> None:
    for oid in ["0.4.0.127.0.7.2.2.4.2.2", "2.23.136.1.1.5", "1.2.840.113549.1.1.1", "2.999.3"]:
        encoded = securityinfos.encode_oid(oid)
        assert securityinfos.decode_oid(encoded[2:]) == oid


@given(st.binary(max_size=120))
@settings(max_examples=150, deadline=None)
def test_fuzzed_security_infos_raise_domain_error(data: bytes) -> None:
    with contextlib.suppress(SecurityInfoError):
        securityinfos.parse_security_infos(b"\x31" + bytes([len(data)]) + data)


def test_dutch_2006_passport_files(sample: Callable[..., bytes]) -> None:
    base = ("jmrtd_samples", "loes2006_NL_specimen")
    com = lds.parse_ef_com(sample(*base, "ef011E.bin"))
    assert com.data_groups == (1, 2, 15) and com.lds_version == "0107"
    dg1 = lds.parse_dg1(sample(*base, "ef0101.bin"))
    assert dg1.lines[1].startswith("XX00013286NLD7110195F1110012")
    dg2 = lds.parse_dg2(sample(*base, "ef0102.bin"))
    assert dg2.portrait.format == "jpeg2000" and dg2.portrait.standard == "ISO/IEC 19794-5"
    assert lds.image_size(dg2.portrait.image) == (dg2.portrait.width, dg2.portrait.height)
    assert lds.parse_dg15(sample(*base, "ef010F.bin")).algorithm == "RSA"


def test_iso19794_record_gives_the_published_jpeg(sample: Callable[..., bytes]) -> None:
    blocks = ("gmrtd", "lds_biometric_blocks")
    faces = lds.parse_iso19794_5(sample(*blocks, "ISO19794_Test1_Data.bin"))
    assert faces[0].image == sample(*blocks, "ISO19794_Test1_Face.jpg")
    assert faces[0].format == "jpeg"


@pytest.mark.parametrize("name", ["ICAO_39794_5_AP_DG2_AllFields.dat",
                                  "ICAO_39794_5_AP_DG2_MandFields.dat"])  # fmt: skip
def test_iso39794_dg2_gives_the_published_portrait(name: str, sample: Callable[..., bytes]) -> None:
    blocks = ("gmrtd", "lds_biometric_blocks")
    dg2 = lds.parse_dg2(sample(*blocks, name))
    expected = sample(*blocks, "ICAO_39794_5_AP_DG2_Face.jpg")
    assert hashlib.sha256(dg2.portrait.image).digest() == hashlib.sha256(expected).digest()
    assert dg2.portrait.standard == "ISO/IEC 39794-5"
    assert dg2.portrait.width and dg2.portrait.height


def test_sample_document_dg7_dg11_dg12(sample: Callable[..., bytes]) -> None:
    base = ("gmrtd", "lds_sample_document")
    assert lds.image_format(lds.parse_dg7(sample(*base, "DG7.bin")).images[0]) == "jpeg"
    dg11 = lds.parse_dg11(sample(*base, "DG11.bin"))
    assert dg11["full_name"] == "SMITH<<JOHN<J"
    assert dg11["telephone"] == "16125551212"
    dg12 = lds.parse_dg12(sample(*base, "DG12.bin"))
    assert dg12["personalization_device"] == "N-4962"


def test_encoders_round_trip() -> None:
    mrz = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F1204159ZE184226B<<<<<10"
    assert lds.parse_dg1(lds.encode_dg1(mrz)).mrz == mrz
    com = lds.parse_ef_com(lds.encode_ef_com([1, 2, 14, 15]))
    assert com.data_groups == (1, 2, 14, 15)
    jpeg = b"\xff\xd8\xff\xc0\x00\x11\x08\x00\x20\x00\x10" + bytes(100)
    dg2 = lds.parse_dg2(lds.encode_dg2(jpeg, 16, 32))
    assert dg2.portrait.image == jpeg and (dg2.portrait.width, dg2.portrait.height) == (16, 32)
    assert lds.image_size(jpeg) == (16, 32)


@pytest.mark.parametrize(
    "data", ["6103", "6105 5F1F 02 4142", "7500", "6F03020100", "600A5C02FF00"]
)
def test_malformed_files_raise_lds_error(data: str) -> None:
    raw = bytes.fromhex(data.replace(" ", ""))
    parser = {0x61: lds.parse_dg1, 0x75: lds.parse_dg2, 0x6F: lds.parse_dg15,
              0x60: lds.parse_ef_com}[raw[0]]  # fmt: skip
    with pytest.raises(LDSError):
        parser(raw)


@given(st.binary(max_size=300))
@settings(max_examples=150, deadline=None)
def test_fuzzed_dg2_raises_only_lds_error(data: bytes) -> None:
    for parser in (lds.parse_dg2, lds.parse_dg1, lds.parse_ef_com, lds.parse_dg11):
        with contextlib.suppress(LDSError):
            parser(data)


def test_malformed_element_inside_dg1_is_an_lds_error() -> None:
    """Found by fuzzing: a DG1 template whose 5F1F element overruns it raised TLVError."""
    with pytest.raises(LDSError, match="DG1: truncated TLV"):
        lds.parse_dg1(bytes.fromhex("61035f1f05"))


@given(st.binary(max_size=200))
@settings(max_examples=200, deadline=None)
def test_fuzzed_card_security_raises_only_security_info_error(data: bytes) -> None:
    from simulator.chip.builder import unsigned_signed_data

    for blob in (data, unsigned_signed_data(securityinfos.ID_SECURITY_OBJECT, data)):
        with contextlib.suppress(SecurityInfoError):
            securityinfos.parse_card_security(blob)
