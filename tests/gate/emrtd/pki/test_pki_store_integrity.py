"""Trust-store integrity on disk (issue 17 item 1) and what an import may make an issuer
(issue 20 items 6 and 7)."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest

from gate.emrtd.crypto import certs
from gate.emrtd.docauth_errors import MasterListError, TrustStoreError
from gate.emrtd.pki import trust
from gate.truststore import load_store, read_index_key, save_store
from simulator import pki
from simulator.pki import TEST_PKI_EPOCH as NOW
from simulator.pki import shared_test_pki


def _saved(tmp_path: Path, key: bytes | None = None) -> trust.TrustStore:
    p = shared_test_pki()
    store = trust.TrustStore()
    for csca in p.cscas:
        store.import_bytes(csca.der, source="csca", now=NOW)
    crl = pki.make_crl(p.csca_rsa, [7], this_update=NOW, next_update=NOW)
    store.import_bytes(crl, source="crl", now=NOW)
    save_store(store, tmp_path, index_key=key)
    return store


def test_a_replaced_certificate_file_is_refused_and_named(tmp_path: Path) -> None:
    _saved(tmp_path)
    target = tmp_path / "certs" / f"{certs.fingerprint(shared_test_pki().csca_rsa.cert)}.der"
    rogue = pki.make_csca("p256", country="UT", now=NOW, common_name="self-made")
    target.write_bytes(rogue.der)  # keeps the name, changes the content
    with pytest.raises(TrustStoreError, match=rf"{target.name} does not match its name"):
        load_store(tmp_path)


def test_a_truncated_file_names_that_file(tmp_path: Path) -> None:
    _saved(tmp_path)
    [crl_file] = (tmp_path / "crls").glob("*.der")
    crl_file.write_bytes(crl_file.read_bytes()[:50])
    with pytest.raises(TrustStoreError, match=rf"crls/{crl_file.name} does not match"):
        load_store(tmp_path)


def test_unlisted_files_and_missing_files_are_refused(tmp_path: Path) -> None:
    _saved(tmp_path)
    extra = pki.make_csca("p256", country="UT", now=NOW, common_name="planted")
    planted = tmp_path / "certs" / f"{certs.fingerprint(extra.cert)}.der"
    planted.write_bytes(extra.der)
    with pytest.raises(TrustStoreError, match=rf"{planted.name} is not listed in index.json"):
        load_store(tmp_path)
    planted.unlink()
    [crl_file] = (tmp_path / "crls").glob("*.der")
    crl_file.unlink()
    with pytest.raises(TrustStoreError, match=rf"{crl_file.name} but holds no such file"):
        load_store(tmp_path)


def test_an_index_edited_by_hand_is_refused(tmp_path: Path) -> None:
    _saved(tmp_path)
    index = tmp_path / "index.json"
    doc = json.loads(index.read_text())
    doc["entries"][0]["expired"] = True
    index.write_text(json.dumps(doc))
    with pytest.raises(TrustStoreError, match="SHA-256 seal does not match"):
        load_store(tmp_path)
    del doc["seal"]
    index.write_text(json.dumps(doc))
    with pytest.raises(TrustStoreError, match="has no seal"):
        load_store(tmp_path)


def test_hmac_sealed_index(tmp_path: Path) -> None:
    key = read_index_key(tmp_path / "keys" / "index.key", create=True)
    assert key is not None and (tmp_path / "keys" / "index.key").stat().st_mode & 0o077 == 0
    store_dir = tmp_path / "store"
    stored = _saved(store_dir, key)
    assert set(load_store(store_dir, index_key=key).entries) == set(stored.entries)
    with pytest.raises(TrustStoreError, match="sealed with an index key"):
        load_store(store_dir)
    with pytest.raises(TrustStoreError, match="HMAC does not match"):
        load_store(store_dir, index_key=b"k" * 32)
    # Someone without the key rewrites the index with a valid plain seal: still refused.
    save_store(load_store(store_dir, index_key=key), store_dir)
    with pytest.raises(TrustStoreError, match="not sealed with the configured index key"):
        load_store(store_dir, index_key=key)


def test_a_dsc_is_stored_as_a_dsc_never_as_an_issuer() -> None:
    p = shared_test_pki()
    store = trust.TrustStore()
    store.import_bytes(p.csca_rsa.der, source="csca", now=NOW)
    report = store.import_bytes(p.dsc_rsa2048.der, source="dsc", now=NOW)
    assert [store.entries[i].kind for i in report.added] == ["dsc"]
    assert [c.dump() for c in store.certificates()] == [p.csca_rsa.cert.dump()]
    # A certificate "issued" by the DSC's key finds no issuer: the DSC does not chain.
    fake = pki.make_dsc(p.dsc_rsa2048, "p256", now=NOW, serial=0x99)
    assert store.issuers_of(fake.cert) == []
    # --anchor no longer turns a non-CA certificate into a link either.
    anchored = trust.TrustStore()
    added = anchored.import_bytes(p.dsc_p256.der, source="x", now=NOW, anchor=True).added
    assert [anchored.entries[i].kind for i in added] == ["dsc"]


def test_a_link_certificate_chains_only_when_it_is_a_ca() -> None:
    p = shared_test_pki()
    new = pki.make_csca("p256", country="UT", now=NOW, serial=3)
    link = pki.make_link(p.csca_rsa, new, now=NOW, serial=4)
    store = trust.TrustStore()
    store.import_bytes(p.csca_rsa.der, source="csca", now=NOW)
    [eid] = store.import_bytes(link.dump(), source="link", now=NOW).added
    assert store.entries[eid].kind == "link"
    assert store.issuers_of(pki.make_dsc(new, "p256", now=NOW, serial=5).cert)
    # Without its issuer a link is accepted only anchored, and then only when confirmed.
    alone = trust.TrustStore()
    assert not alone.import_bytes(link.dump(), source="link", now=NOW).added
    report = alone.import_bytes(link.dump(), source="link", now=NOW, anchor=True, confirm=[])
    assert not report.added and report.unconfirmed == [certs.fingerprint(link)]
    fp = certs.fingerprint(link)
    report = alone.import_bytes(link.dump(), source="l", now=NOW, anchor=True, confirm=[fp])
    assert [alone.entries[i].kind for i in report.added] == ["link"]


def test_ldif_without_pkd_entries_is_reported() -> None:
    report = trust.TrustStore().import_bytes(
        b"version: 1\n\ndn: cn=x,o=dsc\ndescription: nothing\n", source="empty.ldif", now=NOW
    )
    assert report.kind == "ldif" and "no PKD entry" in report.rejected[0]


def test_self_signed_csca_needs_confirmation_by_fingerprint() -> None:
    p = shared_test_pki()
    store = trust.TrustStore()
    report = store.import_bytes(p.csca_rsa.der, source="csca", now=NOW, confirm=[])
    fp = certs.fingerprint(p.csca_rsa.cert)
    assert report.added == [] and report.unconfirmed == [fp]
    assert f"--confirm {fp}" in report.rejected[0]
    wrong = store.import_bytes(p.csca_rsa.der, source="csca", now=NOW, confirm=["00" * 32])
    assert wrong.added == []
    ok = store.import_bytes(p.csca_rsa.der, source="csca", now=NOW, confirm=[fp.upper()])
    assert ok.added == [fp]
    # A CSCA from a verified master list needs no confirmation.
    signer = pki.make_ml_signer(p.csca_rsa, now=NOW, serial=0x50)
    ml = pki.sign_master_list(signer, [p.csca_ec_explicit.cert], signing_time=NOW)
    listed = trust.TrustStore().import_bytes(
        ml, source="ml", now=NOW, master_list_roots=[p.csca_rsa.cert]
    )
    assert len(listed.added) == 1 and not listed.unconfirmed


def test_master_list_signer_needs_its_eku_and_an_expired_one_warns() -> None:
    p = shared_test_pki()
    roots = [p.csca_rsa.cert]
    plain = pki.make_dsc(p.csca_rsa, "p256", now=NOW, serial=0x51)  # no ML-signer EKU
    ml = pki.sign_master_list(plain, [p.csca_ec_explicit.cert], signing_time=NOW)
    with pytest.raises(MasterListError, match=r"master-list-signer extended key usage"):
        trust.TrustStore().import_bytes(ml, source="ml", now=NOW, master_list_roots=roots)
    signer = pki.make_ml_signer(p.csca_rsa, now=NOW, serial=0x52)  # valid for 3 years
    ml = pki.sign_master_list(signer, [p.csca_ec_explicit.cert], signing_time=NOW)
    later = NOW + timedelta(days=4 * 365)
    report = trust.TrustStore().import_bytes(ml, source="ml", now=later, master_list_roots=roots)
    assert len(report.added) == 1 and "outside its validity" in report.warnings[0]


def test_store_files_are_read_with_a_bound(tmp_path: Path) -> None:
    """A certificate file swapped for a huge one, or an index.json swapped for a FIFO, is
    refused by name instead of read into memory or waited on forever (issue 17 item 6)."""
    _saved(tmp_path)
    target = tmp_path / "certs" / f"{certs.fingerprint(shared_test_pki().csca_rsa.cert)}.der"
    with target.open("r+b") as out:
        out.truncate(3 * 1024 * 1024)
    with pytest.raises(TrustStoreError, match=rf"{target.name}: .* more than the"):
        load_store(tmp_path)
    target.unlink()
    index = tmp_path / "index.json"
    index.unlink()
    os.mkfifo(index)
    with pytest.raises(TrustStoreError, match=r"index\.json: is a FIFO"):
        load_store(tmp_path)


def test_an_index_key_that_is_not_a_small_file_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "index.key"
    os.mkfifo(key_file)
    with pytest.raises(TrustStoreError, match="is a FIFO"):
        read_index_key(key_file)
