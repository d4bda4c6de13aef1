"""EF.SOD parsing and signature verification with real passports and the pymrtd vectors."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gate.emrtd.auth import passive
from gate.emrtd.cms import sod
from gate.emrtd.crypto import certs
from gate.emrtd.docauth_errors import (
    SodContentTypeError,
    SodEncodingError,
    SodError,
    SodVersionError,
)
from gate.emrtd.document import Document
from gate.emrtd.pki import trust

COUNTRIES = ["AT", "AU", "CN", "DE", "FR", "MY", "NZ", "PH", "SG", "UK"]


def _case(real_world: Callable[[], tuple[Path, list[dict[str, Any]]]], country: str) -> dict:
    folder, cases = real_world()
    [case] = [c for c in cases if c["country_comment"] == country]
    case["folder"] = folder
    return case


@pytest.mark.parametrize("country", COUNTRIES)
def test_real_sod_parses_verifies_and_chains(
    country: str, real_world: Callable[[], tuple[Path, list[dict[str, Any]]]]
) -> None:
    case = _case(real_world, country)
    folder, files = case["folder"], case["files"]
    parsed = sod.parse_sod((folder / files["ef_sod"]).read_bytes())
    assert parsed.dg_hashes[1].hex() == case["expected"]["dg1_hash"]
    assert parsed.dg_hashes[2].hex() == case["expected"]["dg2_hash"]
    dsc = certs.load_certificate((folder / files["dsc_der"]).read_bytes())
    csca = certs.load_certificate((folder / files["csca_der"]).read_bytes())
    assert parsed.signer_certificate is not None
    assert parsed.signer_certificate.dump() == dsc.dump()
    assert parsed.message_digest_attribute == certs.digest(parsed.digest_algorithm, parsed.econtent)
    assert parsed.signed_attributes is not None
    assert certs.verify_signature(
        certs.cert_public_key(dsc),
        parsed.signature_algorithm,
        parsed.signature,
        parsed.signed_attributes,
        digest_hint=parsed.digest_algorithm,
    )
    # The same signature must not verify over other data.
    assert not certs.verify_signature(
        certs.cert_public_key(dsc),
        parsed.signature_algorithm,
        parsed.signature,
        parsed.signed_attributes + b"\x00",
        digest_hint=parsed.digest_algorithm,
    )
    assert certs.verify_certificate(dsc, certs.cert_public_key(csca))
    assert certs.country_of(csca.subject) == ("GB" if country == "UK" else country)

    store = trust.TrustStore()
    store.import_bytes(csca.dump(), source="csca", now=inside_validity(csca), anchor=True)
    verdict = passive.passive_authenticate(
        Document.from_data_groups((folder / files["ef_sod"]).read_bytes(), {}),
        store,
        at=inside_validity(dsc, csca),
    )
    assert verdict.passive_ok, verdict.to_dict()
    assert [c.fingerprint_sha256 for c in verdict.chain] == [
        certs.fingerprint(dsc),
        certs.fingerprint(csca),
    ]


@pytest.mark.parametrize("country", ["AT", "DE", "UK"])
def test_explicit_curve_keys_are_recognised(
    country: str, real_world: Callable[[], tuple[Path, list[dict[str, Any]]]]
) -> None:
    case = _case(real_world, country)
    for kind in ("dsc_der", "csca_der"):
        cert = certs.load_certificate((case["folder"] / case["files"][kind]).read_bytes())
        params = cert.public_key["algorithm"]["parameters"]
        assert params.name == "specified"
        curve = certs.curve_from_parameters(params)
        assert certs.cert_public_key(cert).curve.name == curve.name


def test_dsc_with_wrong_csca_does_not_verify(
    real_world: Callable[[], tuple[Path, list[dict[str, Any]]]],
) -> None:
    at, de = _case(real_world, "AT"), _case(real_world, "DE")
    dsc = certs.load_certificate((at["folder"] / at["files"]["dsc_der"]).read_bytes())
    other = certs.load_certificate((de["folder"] / de["files"]["csca_der"]).read_bytes())
    assert not certs.verify_certificate(dsc, certs.cert_public_key(other))


def test_indefinite_length_nz_sod(
    testdata_dir: Callable[..., Path], real_world: Callable[[], tuple[Path, list[dict[str, Any]]]]
) -> None:
    case = _case(real_world, "NZ")
    raw = (case["folder"] / case["files"]["ef_sod"]).read_bytes()
    assert b"\x30\x80" in raw[:16]  # BER indefinite length right inside tag 77
    assert sod.parse_sod(raw).hash_algorithm == "sha256"
    jmrtd = testdata_dir("epassport", "jmrtd_samples", "misc", "NZ2013_EF_SOD.BIN")
    assert len(sod.parse_sod(jmrtd.read_bytes()).dg_hashes) >= 2


def test_id_data_content_type_only_in_relaxed_mode(
    real_world: Callable[[], tuple[Path, list[dict[str, Any]]]],
) -> None:
    case = _case(real_world, "CN")
    raw = (case["folder"] / case["files"]["ef_sod"]).read_bytes()
    assert any("id-data" in w for w in sod.parse_sod(raw).warnings)
    with pytest.raises(SodContentTypeError):
        sod.parse_sod(raw, strict=True)


# ----------------------------------------------------------------------- pymrtd vectors

PARSE_ERRORS = {
    "sod_04_unattributed_MALFORMED.bin": (SodContentTypeError, "1.2.840.113549.1.8.2"),
    "sod_05_unattributed_MALFORMED.bin": (SodContentTypeError, "1.2.840.113549.1.7.4"),
    "sod_06_unattributed_MALFORMED.bin": (SodVersionError, "SignedData has version v1"),
    "sod_07_unattributed_MALFORMED.bin": (SodVersionError, "SignedData has version v2"),
    "sod_08_unattributed_MALFORMED.bin": (SodVersionError, "SignedData has version v4"),
    "sod_09_unattributed_MALFORMED.bin": (SodContentTypeError, "id-data"),
    "sod_10_unattributed_MALFORMED.bin": (SodContentTypeError, "1.2.840.113549.1.7.5"),
    "sod_11_unattributed_MALFORMED.bin": (SodContentTypeError, "1.2.840.113549.1.7.5"),
    "sod_12_unattributed_MALFORMED.bin": (SodVersionError, "LDSSecurityObject has version 2"),
    "sod_13_unattributed_MALFORMED.bin": (SodVersionError, "LDSSecurityObject has version"),
    "sod_14_unattributed_MALFORMED.bin": (SodEncodingError, "trailing"),
}

# SOD, data groups read with it -> (reason code that must appear, on which DG or None)
VERDICTS = {
    "sod_15_ETSI_TR103200_MALFORMED.bin": (
        {1: "sod_test_inline_DG1_04.bin"},
        "PA_DG_HASH_MISMATCH",
        1,
    ),
    "sod_16_ETSI_TR103200_MALFORMED.bin": (
        {1: "sod_test_inline_DG1_04.bin"},
        "PA_SIGNATURE_INVALID",
        None,
    ),
    "sod_17_ETSI_TR103200_MALFORMED.bin": (
        {14: "sod_test_inline_DG14_05.bin"},
        "PA_DG_HASH_MISMATCH",
        14,
    ),
    "sod_18_ETSI_TR103200.bin": (
        {1: "sod_test_inline_DG1_07_NOT_IN_SOD.bin"},
        "PA_DG_HASH_MISMATCH",
        1,
    ),
    "sod_19_ETSI_TR103200.bin": (
        {15: "sod_test_inline_DG15_08_NOT_IN_SOD.bin"},
        "PA_DG_HASH_MISMATCH",
        15,
    ),
}


@pytest.fixture(scope="session")
def sod_vectors(testdata_dir: Callable[..., Path]) -> Path:
    return testdata_dir("epassport", "pymrtd", "vectors")


def test_the_sixteen_malformed_sods_are_all_covered(sod_vectors: Path) -> None:
    manifest = json.loads((sod_vectors.parent / "manifest.json").read_text())
    sods = [v["file"] for v in manifest["vectors"] if v["file"].startswith("sod_")]
    assert sorted(set(sods) - {s for s in sods if s[4:6] in ("01", "02", "03")}) == sorted(
        [*PARSE_ERRORS, *VERDICTS]
    )
    assert len(PARSE_ERRORS) + len(VERDICTS) == 16


@pytest.mark.parametrize("name", sorted(PARSE_ERRORS))
def test_malformed_sod_gives_specific_parse_error(name: str, sod_vectors: Path) -> None:
    cls, fragment = PARSE_ERRORS[name]
    raw = (sod_vectors / name).read_bytes()
    with pytest.raises(cls, match=fragment.replace("(", r"\(").replace(".", r"\.")):
        sod.parse_sod(raw, strict=True)
    # Passive authentication turns it into a verdict, never an exception.
    verdict = passive.passive_authenticate(
        Document.from_data_groups(raw, {}),
        trust.TrustStore(),
        at=_at(),
        policy=passive.PaPolicy(strict_sod=True),
    )
    assert verdict.codes == ["PA_SOD_MALFORMED"]
    assert cls.code in verdict.findings[0].detail


def _at() -> date:
    return date(2012, 6, 1)


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_tampered_sod_or_dg_gives_specific_verdict(name: str, sod_vectors: Path) -> None:
    dgs, code, dg = VERDICTS[name]
    folder = sod_vectors
    data = {n: (folder / f).read_bytes() for n, f in dgs.items()}
    verdict = passive.passive_authenticate(
        Document.from_data_groups((folder / name).read_bytes(), data), trust.TrustStore(), at=_at()
    )
    assert code in verdict.codes
    assert not verdict.passive_ok
    if dg is not None:
        [result] = [d for d in verdict.data_groups if d.number == dg]
        assert result.status == "mismatch"


def test_valid_etsi_sod_matches_its_data_groups_and_dsc(sod_vectors: Path) -> None:
    folder = sod_vectors
    data = {
        1: (folder / "sod_test_inline_DG1_04.bin").read_bytes(),
        14: (folder / "sod_test_inline_DG14_05.bin").read_bytes(),
        15: (folder / "sod_test_inline_DG15_06.bin").read_bytes(),
    }
    dsc_file = folder.parent / "dsc_certs" / "dsc_de_0130846f2b3e.cer"
    parsed = sod.parse_sod((folder / "sod_02_ETSI_TR103200.bin").read_bytes())
    assert parsed.signer_certificate is not None
    assert parsed.signer_certificate.dump() == certs.load_certificate(dsc_file.read_bytes()).dump()
    verdict = passive.passive_authenticate(
        Document.from_data_groups((folder / "sod_02_ETSI_TR103200.bin").read_bytes(), data),
        trust.TrustStore(),
        at=_at(),
    )
    assert [d.status for d in verdict.data_groups if d.number in data] == ["match"] * 3
    # No CSCA for the ETSI test signer: only the chain fails.
    assert [f.code for f in verdict.findings if f.severity == "fail"] == ["PA_CSCA_UNKNOWN"]


def test_not_a_sod() -> None:
    for raw in (b"", b"\x77", b"\x77\x05abc", b"\x30\x00", b"\x77\x80\x00\x00"):
        with pytest.raises(SodError):
            sod.parse_sod(raw)


def inside_validity(*items: Any) -> datetime:
    """A moment where every given certificate is valid."""
    start = max(certs.not_before(c) for c in items) + timedelta(days=1)
    assert start < min(certs.not_after(c) for c in items)
    return start
