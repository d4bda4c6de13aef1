"""Passive authentication verdicts: real test passports and the synthetic test PKI."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from gate.emrtd.auth import passive
from gate.emrtd.document import Document
from gate.emrtd.pki import trust
from simulator import pki
from simulator.pki import TEST_PKI_EPOCH as NOW
from simulator.pki import shared_test_pki as shared_pki

MRZ = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F3401159ZE184226B<<<<<10"


def _dg1(mrz: str = MRZ) -> bytes:
    body = b"\x5f\x1f" + bytes([len(mrz)]) + mrz.encode()
    return b"\x61" + bytes([len(body)]) + body


def test_loes_2006_hashes_match_and_verdict_names_missing_csca(
    testdata_dir: Callable[..., Path],
) -> None:
    folder = testdata_dir("epassport", "jmrtd_samples", "loes2006_NL_specimen")
    dgs = {
        1: (folder / "ef0101.bin").read_bytes(),
        2: (folder / "ef0102.bin").read_bytes(),
        15: (folder / "ef010F.bin").read_bytes(),
    }
    chip_mrz = Document.from_data_groups(None, {1: dgs[1]}).dg1_mrz
    verdict = passive.passive_authenticate(
        Document.from_data_groups((folder / "ef011D.bin").read_bytes(), dgs),
        trust.TrustStore(),
        at=date(2008, 3, 1),
        mrz=chip_mrz[:44] + "\n" + chip_mrz[44:],
    )
    assert [d.status for d in verdict.data_groups if d.number in dgs] == ["match"] * 3
    fails = [f for f in verdict.findings if f.severity == "fail"]
    assert [f.code for f in fails] == ["PA_CSCA_UNKNOWN"]
    assert "CSCA Test" in fails[0].detail and "Sdu Identification" in fails[0].detail
    assert verdict.issuing_state == "NLD"
    assert not verdict.passive_ok
    # After its expiry date (2011-10-01) the document itself is reported expired.
    later = passive.passive_authenticate(
        Document.from_data_groups((folder / "ef011D.bin").read_bytes(), dgs),
        trust.TrustStore(),
        at=date(2012, 1, 1),
    )
    assert "DOCUMENT_EXPIRED" in later.codes


def test_lds_sample_document_fails_with_hash_mismatch(testdata_dir: Callable[..., Path]) -> None:
    folder = testdata_dir("epassport", "gmrtd", "lds_sample_document")
    dgs = {int(f.stem[2:]): f.read_bytes() for f in folder.glob("DG*.bin")}
    verdict = passive.passive_authenticate(
        Document.from_data_groups((folder / "EF_SOD_AT.bin").read_bytes(), dgs),
        trust.TrustStore(),
        at=date(2024, 1, 1),
    )
    assert "PA_DG_HASH_MISMATCH" in verdict.codes
    assert {d.status for d in verdict.data_groups if d.number in dgs} <= {"mismatch", "not_in_sod"}
    assert not verdict.passive_ok


DSCS = ["dsc_rsa2048", "dsc_rsa3072", "dsc_rsa_pss", "dsc_p256", "dsc_brainpool_explicit"]


@pytest.mark.parametrize("which", DSCS)
def test_synthetic_document_passes(which: str, pki_store: Callable[[], trust.TrustStore]) -> None:
    dsc = getattr(shared_pki(), which)
    dgs = {1: _dg1(), 2: b"\x75\x03\x01\x02\x03"}
    sod = pki.build_sod(dgs, dsc)
    verdict = passive.passive_authenticate(
        Document.from_data_groups(sod, dgs), pki_store(), at=NOW + timedelta(days=1), mrz=MRZ
    )
    assert verdict.passive_ok, verdict.codes
    assert verdict.chain[0].serial == format(dsc.cert.serial_number, "x")
    # One altered byte in a data group is caught.
    bad = dict(dgs)
    bad[2] = b"\x75\x03\x01\x02\x04"
    assert (
        "PA_DG_HASH_MISMATCH"
        in passive.passive_authenticate(
            Document.from_data_groups(sod, bad), pki_store(), at=NOW + timedelta(days=1)
        ).codes
    )


def test_wrong_signer_is_caught(pki_store: Callable[[], trust.TrustStore]) -> None:
    p = shared_pki()
    dgs = {1: _dg1()}
    sod = bytearray(pki.build_sod(dgs, p.dsc_p256))
    # Re-sign with another DSC but keep the original certificate: signature must fail.
    other = pki.build_sod(dgs, pki.make_dsc(p.csca_rsa, "p256", now=NOW, serial=0x1004))
    verdict = passive.passive_authenticate(
        Document.from_data_groups(other, dgs), pki_store(), at=NOW + timedelta(days=1)
    )
    assert verdict.passive_ok  # a properly issued second DSC is fine
    rogue_csca = pki.make_csca("p256", country="UT", now=NOW, common_name="CSCA UT test rsa3072")
    rogue = pki.make_dsc(rogue_csca, "p256", now=NOW, serial=0x1004)
    verdict = passive.passive_authenticate(
        Document.from_data_groups(pki.build_sod(dgs, rogue), dgs),
        pki_store(),
        at=NOW + timedelta(days=1),
    )
    assert "PA_CSCA_UNKNOWN" in verdict.codes
    sod[-5] ^= 0x40  # inside the signature
    assert (
        "PA_SIGNATURE_INVALID"
        in passive.passive_authenticate(
            Document.from_data_groups(bytes(sod), dgs), pki_store(), at=NOW + timedelta(days=1)
        ).codes
    )


def test_expired_and_not_yet_valid_dsc(pki_store: Callable[[], trust.TrustStore]) -> None:
    p = shared_pki()
    old = pki.make_dsc(
        p.csca_rsa,
        "p256",
        now=NOW,
        serial=0x2001,
        not_before=NOW - timedelta(days=20),
        not_after=NOW - timedelta(days=1),
    )
    dgs = {1: _dg1()}
    sod = pki.build_sod(dgs, old, signing_time=NOW - timedelta(days=10))
    shell = passive.passive_authenticate(Document.from_data_groups(sod, dgs), pki_store(), at=NOW)
    assert "PA_CERT_EXPIRED" in shell.codes and not shell.passive_ok
    chain = passive.passive_authenticate(
        Document.from_data_groups(sod, dgs),
        pki_store(),
        at=NOW,
        policy=passive.PaPolicy(validity_model="chain"),
    )
    assert chain.passive_ok, chain.codes
    early = passive.passive_authenticate(
        Document.from_data_groups(sod, dgs), pki_store(), at=NOW - timedelta(days=25)
    )
    assert "PA_CERT_NOT_YET_VALID" in early.codes


def test_revoked_dsc_and_crl_policy(pki_store: Callable[[], trust.TrustStore]) -> None:
    p = shared_pki()
    dgs = {1: _dg1()}
    sod = pki.build_sod(dgs, p.dsc_rsa2048)
    store = pki_store()
    at = NOW + timedelta(days=1)
    assert (
        "PA_CRL_MISSING"
        in passive.passive_authenticate(Document.from_data_groups(sod, dgs), store, at=at).codes
    )
    strict = passive.passive_authenticate(
        Document.from_data_groups(sod, dgs), store, at=at, policy=passive.PaPolicy(require_crl=True)
    )
    assert not strict.passive_ok
    clean = pki.make_crl(p.csca_rsa, [0x9999], this_update=NOW, next_update=NOW + timedelta(30))
    store.import_bytes(clean, source="crl1", now=NOW)
    ok = passive.passive_authenticate(Document.from_data_groups(sod, dgs), store, at=at)
    assert ok.passive_ok and "PA_CRL_MISSING" not in ok.codes
    revoking = pki.make_crl(
        p.csca_rsa,
        [p.dsc_rsa2048.cert.serial_number],
        this_update=NOW + timedelta(hours=1),
        next_update=NOW + timedelta(30),
    )
    store.import_bytes(revoking, source="crl2", now=NOW)
    verdict = passive.passive_authenticate(Document.from_data_groups(sod, dgs), store, at=at)
    assert "PA_CERT_REVOKED" in verdict.codes and not verdict.passive_ok


def test_country_mismatch_mrz_mismatch_and_expiry(
    pki_store: Callable[[], trust.TrustStore],
) -> None:
    p = shared_pki()
    at = NOW + timedelta(days=1)
    foreign = MRZ.replace("UTO", "NLD")
    dgs = {1: _dg1(foreign)}
    verdict = passive.passive_authenticate(
        Document.from_data_groups(pki.build_sod(dgs, p.dsc_p256), dgs), pki_store(), at=at
    )
    assert "PA_COUNTRY_MISMATCH" in verdict.codes and not verdict.passive_ok

    dgs = {1: _dg1()}
    sod = pki.build_sod(dgs, p.dsc_p256)
    other = MRZ.replace("ANNA", "ANNE")
    verdict = passive.passive_authenticate(
        Document.from_data_groups(sod, dgs), pki_store(), at=at, mrz=other
    )
    assert "MRZ_DG1_MISMATCH" in verdict.codes and not verdict.passive_ok
    assert "L898902C3" not in verdict.to_dict().__repr__()  # document number masked

    expired = MRZ.replace("3401159", "2501159")
    dgs = {1: _dg1(expired)}
    verdict = passive.passive_authenticate(
        Document.from_data_groups(pki.build_sod(dgs, p.dsc_p256), dgs), pki_store(), at=at
    )
    assert "DOCUMENT_EXPIRED" in verdict.codes and not verdict.passive_ok


def test_dg1_facts_layouts() -> None:
    td1 = (
        "I<UTOD231458907<<<<<<<<<<<<<<<7408122F1204159UTO<<<<<<<<<<<6ERIKSSON<<ANNA<MARIA<<<<<<<<<<"
    )
    assert passive.dg1_facts(td1, date(2010, 1, 1)).date_of_expiry == date(2012, 4, 15)
    td2 = "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<D231458907UTO7408122F1204159<<<<<<<6"
    assert passive.dg1_facts(td2, date(2010, 1, 1)).date_of_expiry == date(2012, 4, 15)
    assert passive.dg1_facts(MRZ, date(2026, 1, 1)).issuing_state == "UTO"
    assert passive.dg1_facts(MRZ, date(2026, 1, 1)).document_number == "L898902C3"


def test_unreadable_dg1_is_its_own_reason(pki_store: Callable[[], trust.TrustStore]) -> None:
    p = shared_pki()
    dgs = {1: b"\x61\x03\x5f\x1f\x00"}
    verdict = passive.passive_authenticate(
        Document.from_data_groups(pki.build_sod(dgs, p.dsc_p256), dgs),
        pki_store(),
        at=NOW + timedelta(days=1),
    )
    assert "DG1_UNREADABLE" in verdict.codes and "PA_DG_HASH_MISMATCH" not in verdict.codes
    assert not verdict.passive_ok
