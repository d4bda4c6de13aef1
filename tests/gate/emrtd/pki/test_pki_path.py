"""Certification paths (issue 20): 9303-12 profiles (item 5), organisation issuing states
(item 8), CRLs across a key rollover (item 10), nextUpdate, delta CRLs and revoked link
certificates (item 11), V0 SODs verified from the DSC store (item 12)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms, core

from gate.emrtd.auth import passive
from gate.emrtd.auth.verdict import AuthenticityVerdict
from gate.emrtd.crypto import certs
from gate.emrtd.document import Document
from gate.emrtd.iso7816 import tlv
from gate.emrtd.pki import trust
from simulator import pki
from simulator.pki import TEST_PKI_EPOCH as NOW
from simulator.pki import shared_test_pki

MRZ = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F3401159ZE184226B<<<<<10"
AT = NOW + timedelta(days=1)


def _dg1(mrz: str = MRZ) -> bytes:
    body = b"\x5f\x1f" + bytes([len(mrz)]) + mrz.encode()
    return b"\x61" + bytes([len(body)]) + body


def _verify(
    dsc: pki.Issued,
    store: trust.TrustStore,
    *,
    mrz: str = MRZ,
    at: datetime = AT,
    policy: passive.PaPolicy | None = None,
    **sod_options: object,
) -> AuthenticityVerdict:
    dgs: Mapping[int, bytes] = {1: _dg1(mrz)}
    sod = pki.build_sod(dgs, dsc, **sod_options)  # type: ignore[arg-type]
    return passive.passive_authenticate(
        Document.from_data_groups(sod, dgs), store, at=at, policy=policy
    )


def _dsc(issuer: pki.Issued, serial: int, **options: object) -> pki.Issued:
    return pki.issue(
        subject=pki.name("UT", f"DS profile test {serial}"),
        key=pki.new_key("p256"),
        issuer=issuer,
        serial=serial,
        not_before=NOW - timedelta(days=10),
        not_after=NOW + timedelta(days=3650),
        ca=False,
        **options,  # type: ignore[arg-type]
    )


class _DocumentTypes(core.SetOf):
    _child_spec = core.PrintableString


def _doc_types(*types: str) -> dict[str, object]:
    """The DocumentTypeList extension (9303-12 7.1.1.3), encoded here independently."""
    listed = _DocumentTypes([core.PrintableString(t) for t in types])
    value = core.Sequence(contents=core.Integer(0).dump() + listed.dump())
    return {"extn_id": "2.23.136.1.1.6.2", "critical": False, "extn_value": value.dump()}


# --------------------------------------------------------------------------- item 5


def test_dsc_key_usage_and_critical_extensions(
    pki_store: Callable[[], trust.TrustStore],
) -> None:
    csca = shared_test_pki().csca_rsa
    no_sign = _verify(_dsc(csca, 0x5001, key_usage={"non_repudiation"}), pki_store())
    assert "PA_CERT_PROFILE" in no_sign.codes and not no_sign.passive_ok
    unknown = {"extn_id": "1.2.3.4.5", "critical": True, "extn_value": b"\x05\x00"}
    critical = _verify(_dsc(csca, 0x5002, extra_extensions=[unknown]), pki_store())
    assert "PA_CERT_PROFILE" in critical.codes and not critical.passive_ok
    # A missing keyUsage is a tolerated deviation: reported, not failed.
    bare = _verify(_dsc(csca, 0x5003, key_usage=set()), pki_store())
    assert "PA_CERT_PROFILE_DEVIATION" in bare.codes and bare.passive_ok


def test_csca_that_may_not_certify_fails_the_path() -> None:
    csca = pki.issue(
        subject=pki.name("UT", "CSCA crl-only"),
        key=pki.new_key("p256"),
        issuer=None,
        serial=3,
        not_before=NOW - timedelta(days=30),
        not_after=NOW + timedelta(days=3650),
        ca=True,
        key_usage={"crl_sign"},
    )
    store = trust.TrustStore()
    store.import_bytes(csca.der, source="csca", now=NOW)
    verdict = _verify(_dsc(csca, 0x5004), store)
    assert "PA_CERT_PROFILE" in verdict.codes and not verdict.passive_ok


def test_document_type_list_against_the_document_code(
    pki_store: Callable[[], trust.TrustStore],
) -> None:
    csca = shared_test_pki().csca_rsa
    ids_only = _verify(_dsc(csca, 0x5005, extra_extensions=[_doc_types("ID", "AC")]), pki_store())
    assert "PA_DOCUMENT_TYPE_NOT_ALLOWED" in ids_only.codes and not ids_only.passive_ok
    passports = _verify(_dsc(csca, 0x5006, extra_extensions=[_doc_types("P")]), pki_store())
    assert passports.passive_ok, passports.codes


def test_private_key_usage_period_in_the_chain_model(
    pki_store: Callable[[], trust.TrustStore],
) -> None:
    period = {
        "extn_id": "private_key_usage_period",
        "critical": False,
        "extn_value": {
            "not_before": NOW - timedelta(days=10),
            "not_after": NOW - timedelta(days=5),
        },
    }
    dsc = _dsc(shared_test_pki().csca_rsa, 0x5007, extra_extensions=[period])
    chain = passive.PaPolicy(validity_model="chain")
    late = _verify(dsc, pki_store(), policy=chain, signing_time=NOW - timedelta(days=1))
    assert "PA_CERT_EXPIRED" in late.codes and not late.passive_ok
    in_time = _verify(dsc, pki_store(), policy=chain, signing_time=NOW - timedelta(days=7))
    assert in_time.passive_ok, in_time.codes


# --------------------------------------------------------------------------- item 8


def _org_pki(country: str) -> tuple[trust.TrustStore, pki.Issued]:
    csca = pki.make_csca("p256", country=country, now=NOW, common_name=f"CSCA {country}")
    store = trust.TrustStore()
    store.import_bytes(csca.der, source="csca", now=NOW)
    return store, pki.make_dsc(csca, "p256", now=NOW, serial=0x10)


@pytest.mark.parametrize(("state", "country"), [("UNO", "UN"), ("EUE", "EU"), ("UNA", "UN")])
def test_organisation_issuing_states_are_checked(state: str, country: str) -> None:
    mrz = MRZ.replace("P<UTO", f"P<{state}", 1)
    store, dsc = _org_pki(country)
    assert _verify(dsc, store, mrz=mrz).passive_ok
    other_store, other = _org_pki("UT")  # a Utopian DSC on a UN laissez-passer
    verdict = _verify(other, other_store, mrz=mrz)
    assert "PA_COUNTRY_MISMATCH" in verdict.codes and not verdict.passive_ok


@pytest.mark.parametrize("state", ["XOM", "XPO", "XCC"])
def test_an_issuing_state_without_certificate_country_is_referred(state: str) -> None:
    # a document claiming an organisation code whose CSCAs carry no comparable country is
    # never passed on any signer's word: the verdict is "not verified" and the lane refers
    store, dsc = _org_pki("UT")
    verdict = _verify(dsc, store, mrz=MRZ.replace("P<UTO", f"P<{state}", 1))
    assert "PA_COUNTRY_UNMAPPED" in verdict.codes
    assert verdict.status == "not_verified" and not verdict.ok


# --------------------------------------------------------------------------- items 10, 11


def _rollover() -> tuple[pki.Issued, pki.Issued, bytes]:
    """The shared CSCA's successor key under the same name, and the link certificate."""
    old = shared_test_pki().csca_rsa
    new = pki.issue(
        subject=old.cert.subject,
        key=pki.new_key("p256"),
        issuer=None,
        serial=0x77,
        not_before=NOW - timedelta(days=2),
        not_after=NOW + timedelta(days=3650),
        ca=True,
    )
    link = pki.make_link(old, new, now=NOW, serial=0x78)
    return old, new, bytes(link.dump())


def test_crl_signed_by_the_new_key_revokes_a_dsc_of_the_old_key() -> None:
    old, new, link = _rollover()
    store = trust.TrustStore()
    store.import_bytes(old.der, source="old", now=NOW)
    assert store.import_bytes(link, source="link", now=NOW).added
    dsc = shared_test_pki().dsc_rsa2048  # issued under the old key
    crl = pki.make_crl(
        new, [dsc.cert.serial_number], this_update=NOW, next_update=NOW + timedelta(days=30)
    )
    assert store.import_bytes(crl, source="crl", now=NOW).added
    verdict = _verify(dsc, store)
    assert "PA_CERT_REVOKED" in verdict.codes and not verdict.passive_ok


def test_revoked_link_certificate_fails_the_path() -> None:
    old, new, link = _rollover()
    store = trust.TrustStore()
    store.import_bytes(old.der, source="old", now=NOW)
    store.import_bytes(link, source="link", now=NOW)
    dsc = pki.make_dsc(new, "p256", now=NOW, serial=0x79)
    assert _verify(dsc, store).passive_ok
    crl = pki.make_crl(old, [0x78], this_update=NOW, next_update=NOW + timedelta(days=30))
    store.import_bytes(crl, source="crl", now=NOW)
    verdict = _verify(dsc, store)
    assert "PA_CERT_REVOKED" in verdict.codes and not verdict.passive_ok


def test_stale_crl_is_a_finding_and_fails_with_require_crl(
    pki_store: Callable[[], trust.TrustStore],
) -> None:
    p = shared_test_pki()
    store = pki_store()
    crl = pki.make_crl(
        p.csca_rsa, [], this_update=NOW - timedelta(days=40), next_update=NOW - timedelta(days=10)
    )
    report = store.import_bytes(crl, source="crl", now=NOW)
    assert report.added and "past its nextUpdate" in report.warnings[0]
    lenient = _verify(p.dsc_p256, store)
    assert "PA_CRL_STALE" in lenient.codes and lenient.passive_ok
    strict = _verify(p.dsc_p256, store, policy=passive.PaPolicy(require_crl=True))
    assert "PA_CRL_STALE" in strict.codes and not strict.passive_ok


def test_delta_crls_are_refused(pki_store: Callable[[], trust.TrustStore]) -> None:
    p = shared_test_pki()
    delta = pki.make_crl(
        p.csca_rsa,
        [],
        this_update=NOW,
        next_update=NOW + timedelta(days=30),
        extensions=[{"extn_id": "delta_crl_indicator", "critical": True, "extn_value": 1}],
    )
    store = pki_store()
    report = store.import_bytes(delta, source="delta", now=NOW)
    assert not report.added and "delta CRL" in report.rejected[0]


# --------------------------------------------------------------------------- item 12


def test_v0_sod_without_embedded_dsc_verifies_from_the_dsc_store(
    pki_store: Callable[[], trust.TrustStore],
) -> None:
    dsc = shared_test_pki().dsc_p256
    store = pki_store()
    missing = _verify(dsc, store, embed_signer=False, lds_version=None)
    assert "PA_DSC_MISSING" in missing.codes
    store.import_bytes(dsc.der, source="pkd", now=NOW)
    found = _verify(dsc, store, embed_signer=False, lds_version=None)
    assert found.passive_ok, found.codes
    assert found.chain[0].serial == format(dsc.cert.serial_number, "x")


def _without_certificates(raw_sod: bytes) -> bytes:
    """A real EF.SOD with its certificates removed: the signature does not cover them, so the
    result is what a state that leaves the DSC out (to the PKD) issues."""
    info = cms.ContentInfo.load(core.Any.load(raw_sod).contents)
    signed = info["content"]
    stripped = cms.SignedData(
        {
            "version": signed["version"],
            "digest_algorithms": signed["digest_algorithms"],
            "encap_content_info": signed["encap_content_info"],
            "signer_infos": signed["signer_infos"],
        }
    )
    out = cms.ContentInfo({"content_type": "signed_data", "content": stripped})
    return tlv.encode(0x77, out.dump())


@pytest.mark.parametrize("country", ["AT", "AU", "CN", "DE", "FR", "MY", "NZ", "PH", "SG", "UK"])
def test_real_sods_without_their_dsc_verify_from_the_dsc_store(
    country: str, real_world: Callable[[], tuple[Path, list[dict[str, Any]]]]
) -> None:
    folder, cases = real_world()
    [case] = [c for c in cases if c["country_comment"] == country]
    files = case["files"]
    dsc = certs.load_certificate((folder / files["dsc_der"]).read_bytes())
    csca = certs.load_certificate((folder / files["csca_der"]).read_bytes())
    at = max(certs.not_before(dsc), certs.not_before(csca)) + timedelta(days=1)
    raw = _without_certificates((folder / files["ef_sod"]).read_bytes())
    store = trust.TrustStore()
    store.import_bytes(csca.dump(), source="csca", now=at, anchor=True)
    assert (
        "PA_DSC_MISSING"
        in passive.passive_authenticate(Document.from_data_groups(raw, {}), store, at=at).codes
    )
    store.import_bytes(dsc.dump(), source="pkd", now=at)
    verdict = passive.passive_authenticate(Document.from_data_groups(raw, {}), store, at=at)
    assert verdict.passive_ok, verdict.codes
    assert verdict.chain[0].fingerprint_sha256 == certs.fingerprint(dsc)
