"""Trust store: master lists with signature checks, link certificates, CRLs, list/expire/remove."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from gate.emrtd.crypto import certs
from gate.emrtd.docauth_errors import MasterListError, TrustStoreError
from gate.emrtd.document import Document
from gate.emrtd.pki import trust
from gate.truststore import load_store, save_store
from simulator import pki
from simulator.pki import TEST_PKI_EPOCH as NOW
from simulator.pki import shared_test_pki as shared_pki

COUNTRIES = ["AT", "AU", "CN", "DE", "FR", "MY", "NZ", "PH", "SG", "UK"]
# Which of the real-world CSCAs each list holds (the NL list of 2026-07-22 has no AT or SG one).
EXPECTED = {
    ("DE_ML_2026-05-28-08-28-45.ml", "DE_ROOT_CA_CSCA07.cer"): set(COUNTRIES),
    ("NL_ML_2026-07-22.ml", "NL_ROOT_CA.cer"): set(COUNTRIES) - {"AT", "SG"},
}


@pytest.mark.parametrize(("ml", "root"), sorted(EXPECTED))
def test_master_list_imports_and_contains_real_cscas(
    ml: str,
    root: str,
    real_world: Callable[[], tuple[Path, list[dict[str, Any]]]],
    master_list_store: Callable[[str, str], trust.TrustStore],
) -> None:
    store = master_list_store(ml, root)
    assert len(store.entries) > 300
    kinds = [e.kind for e in store.entries.values()]
    # Self-signed CSCAs dominate; link certificates (signed by an older key) are marked.
    assert kinds.count("csca") > kinds.count("link")
    folder, cases = real_world()
    found = {
        c["country_comment"]
        for c in cases
        if store.entry_for(certs.load_certificate((folder / c["files"]["csca_der"]).read_bytes()))
    }
    assert found == EXPECTED[(ml, root)]


def test_master_list_with_wrong_root_is_refused(testdata_dir: Callable[..., Path]) -> None:
    folder = testdata_dir("epassport", "gmrtd", "master_lists")
    store = trust.TrustStore()
    wrong = certs.load_certificate((folder / "NL_ROOT_CA.cer").read_bytes())
    data = (folder / "DE_ML_2026-05-28-08-28-45.ml").read_bytes()
    with pytest.raises(MasterListError, match="not certified by any configured"):
        store.import_bytes(data, source="de.ml", now=NOW, master_list_roots=[wrong])
    with pytest.raises(MasterListError, match="no master-list root configured"):
        store.import_bytes(data, source="de.ml", now=NOW)
    assert store.entries == {}


def test_tampered_master_list_is_refused(testdata_dir: Callable[..., Path]) -> None:
    folder = testdata_dir("epassport", "gmrtd", "master_lists")
    data = bytearray((folder / "NL_ML_2026-07-22.ml").read_bytes())
    data[len(data) // 2] ^= 0x01  # inside the certificate list
    root = certs.load_certificate((folder / "NL_ROOT_CA.cer").read_bytes())
    with pytest.raises(MasterListError):
        trust.TrustStore().import_bytes(
            bytes(data), source="nl.ml", now=NOW, master_list_roots=[root]
        )


def test_synthetic_master_list_round_trip() -> None:
    p = shared_pki()
    signer = pki.make_ml_signer(p.csca_rsa, now=NOW, serial=0x77)
    ml = pki.sign_master_list(signer, [c.cert for c in p.cscas], signing_time=NOW)
    store = trust.TrustStore()
    report = store.import_bytes(ml, source="ut.ml", now=NOW, master_list_roots=[p.csca_rsa.cert])
    assert len(report.added) == 2
    assert {store.entries[i].kind for i in report.added} == {"csca"}
    other = pki.make_csca("p256", country="XX", now=NOW)
    with pytest.raises(MasterListError):
        trust.TrustStore().import_bytes(ml, source="ut.ml", now=NOW, master_list_roots=[other.cert])


def test_link_certificates_need_their_issuer(testdata_dir: Callable[..., Path]) -> None:
    folder = testdata_dir("epassport", "gmrtd", "csca_certs")
    link = (folder / "IDN_2016-01_CSCA_LINK.cer").read_bytes()
    store = trust.TrustStore()
    report = store.import_bytes(link, source="link", now=NOW)
    assert report.added == [] and "import the issuing CSCA first" in report.rejected[0]
    for name in ("IDN_2010-12_CSCA.cer", "IDN_2016-01_CSCA_LINK.cer", "IDN_2020-10_CSCA_LINK.cer"):
        report = store.import_bytes((folder / name).read_bytes(), source=name, now=NOW)
        assert report.rejected == [], name
    assert sorted(e.kind for e in store.entries.values()) == ["csca", "link", "link"]


def test_synthetic_link_chain_verifies_new_dsc() -> None:
    from gate.emrtd.auth import passive

    old = pki.make_csca("rsa2048", country="UT", now=NOW, common_name="CSCA UT", serial=10)
    new = pki.make_csca("p256", country="UT", now=NOW, common_name="CSCA UT", serial=11)
    link = pki.make_link(old, new, now=NOW, serial=12)
    dsc = pki.make_dsc(new, "p256", now=NOW, serial=13)
    store = trust.TrustStore()
    store.import_bytes(old.der, source="old", now=NOW)
    assert store.import_bytes(link.dump(), source="link", now=NOW).added
    sod = pki.build_sod({2: b"face"}, dsc)
    verdict = passive.passive_authenticate(
        Document.from_data_groups(sod, {2: b"face"}), store, at=NOW + timedelta(days=1)
    )
    assert verdict.passive_ok, verdict.codes
    assert [c.subject for c in verdict.chain][1] == link.subject.human_friendly
    assert len(verdict.chain) == 3  # DSC, link certificate, old self-signed CSCA


def test_crl_import_requires_the_csca_and_lists_revocations() -> None:
    p = shared_pki()
    crl_der = pki.make_crl(
        p.csca_rsa, [0x1001], this_update=NOW, next_update=NOW + timedelta(days=30)
    )
    store = trust.TrustStore()
    rejected = store.import_bytes(crl_der, source="crl", now=NOW)
    assert rejected.kind == "crl" and rejected.rejected
    store.import_bytes(p.csca_rsa.der, source="csca", now=NOW)
    report = store.import_bytes(crl_der, source="crl", now=NOW)
    assert report.added and store.entries[report.added[0]].kind == "crl"
    [lst] = store.crls_for(p.csca_rsa.cert)
    assert trust.revoked_serials(lst) == {0x1001}


def test_save_load_list_expire_remove(tmp_path: Path) -> None:
    p = shared_pki()
    store = trust.TrustStore()
    store.import_bytes(p.csca_rsa.der + b"", source="a", now=NOW)
    store.import_bytes(p.csca_ec_explicit.der, source="b", now=NOW)
    save_store(store, tmp_path)
    loaded = load_store(tmp_path)
    assert {e.id for e in loaded.list_entries()} == set(store.entries)
    ec_id = certs.fingerprint(p.csca_ec_explicit.cert)
    loaded.expire(ec_id[:12])
    assert [c.dump() for c in loaded.certificates()] == [p.csca_rsa.cert.dump()]
    save_store(loaded, tmp_path)
    again = load_store(tmp_path)
    assert again.entries[ec_id].expired
    again.remove(ec_id[:12])
    save_store(again, tmp_path)
    assert not (tmp_path / "certs" / f"{ec_id}.der").exists()
    assert len(load_store(tmp_path).entries) == 1


def test_expiry_warnings_within_90_days() -> None:
    soon = pki.issue(
        subject=pki.name("UT", "CSCA soon"),
        key=pki.new_key("p256"),
        issuer=None,
        serial=5,
        not_before=NOW - timedelta(days=400),
        not_after=NOW + timedelta(days=60),
        ca=True,
    )
    later = pki.issue(
        subject=pki.name("UT", "CSCA later"),
        key=pki.new_key("p256"),
        issuer=None,
        serial=6,
        not_before=NOW - timedelta(days=400),
        not_after=NOW + timedelta(days=120),
        ca=True,
    )
    store = trust.TrustStore()
    store.import_bytes(soon.der, source="s", now=NOW)
    store.import_bytes(later.der, source="l", now=NOW)
    warnings = store.expiry_warnings(NOW, 90)
    assert len(warnings) == 1 and "CSCA soon" in warnings[0]
    assert len(store.expiry_warnings(NOW, 150)) == 2
    assert len(store.expiry_warnings(NOW + timedelta(days=70), 0)) == 1  # already expired


def test_damaged_store_directories_give_a_trust_store_error(tmp_path: Path) -> None:
    store = trust.TrustStore()
    store.import_bytes(shared_pki().csca_rsa.der, source="a", now=NOW)
    save_store(store, tmp_path)
    index = tmp_path / "index.json"
    good = index.read_text()
    for damaged in ("{", '{"entries": 3}', '{"entries": [{"id": "x"}]}', "[]"):
        index.write_text(damaged)
        with pytest.raises(TrustStoreError, match=r"damaged|entries|malformed"):
            load_store(tmp_path)
    index.write_text(good)
    for der in (tmp_path / "certs").glob("*.der"):
        der.unlink()
    with pytest.raises(TrustStoreError, match="holds no such file"):
        load_store(tmp_path)
