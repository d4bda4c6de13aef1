"""Benchmark: a trust store of ICAO PKD size (issue 20): import, load and verification time.

Builds with the test PKI (simulator/pki.py) about what the ICAO PKD holds: 200 CSCAs (in one
master list), 20,000 Document Signers and 300 CRLs (in a PKD-style LDIF), then measures
- import: both LDIF files into an empty store directory, written with a sealed index
  (what ``egate trust import`` does);
- load: the store read back with every file's digest and the index seal checked, issuers
  and CRLs parsed and indexed (what the lane does at start);
- verify: median passive authentication of a document whose EF.SOD embeds its DSC, and of a
  V0-style EF.SOD whose DSC comes from the DSC store; the first verification after loading
  (which builds the name index) separately.

    PYTHONPATH=. python bench/pkd_store.py [--cscas 200 --dscs 20000 --crls 300 --runs 50]

Prints JSON. Target (bench/passive_auth.py): verification <= 15 ms per document.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import string
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gate.emrtd.auth import passive
from gate.emrtd.document import Document
from gate.emrtd.pki import ldif
from gate.truststore import load_store, save_store
from simulator import pki

NOW = datetime(2026, 1, 15, tzinfo=UTC)
MRZ = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F3401159ZE184226B<<<<<10"
TARGET_VERIFY_MS = 15.0


def _dg1() -> bytes:
    body = b"\x5f\x1f" + bytes([len(MRZ)]) + MRZ.encode()
    return b"\x61" + bytes([len(body)]) + body


def _countries(n: int) -> list[str]:
    codes = ["UT"] + [
        a + b for a, b in itertools.product(string.ascii_uppercase, repeat=2) if a + b != "UT"
    ]
    return codes[:n]


def build(n_cscas: int, n_dscs: int, n_crls: int) -> tuple[bytes, bytes, pki.Issued, pki.Issued]:
    """(master-list LDIF, DSC/CRL LDIF, the master-list root, one DSC of the UT CSCA)."""
    root = pki.make_csca("p256", country="UN", now=NOW, common_name="Bench ML root")
    signer = pki.make_ml_signer(root, now=NOW, serial=2)
    dsc_key = pki.new_key("p256")
    cscas = [
        pki.make_csca("p256", country=c, now=NOW, serial=10 + i, common_name=f"CSCA {c} bench")
        for i, c in enumerate(_countries(n_cscas))
    ]
    ml = pki.sign_master_list(signer, [c.cert for c in cscas], signing_time=NOW)
    ml_ldif = ldif.dump([ldif.LdifRecord("cn=ml,o=ml,c=UN,dc=data", master_lists=[ml])])
    records = []
    sample = None
    for i in range(n_dscs):
        csca = cscas[i % len(cscas)]
        dsc = pki.issue(
            subject=pki.name(csca.cert.subject.native["country_name"], f"DS bench {i}"),
            key=dsc_key,
            issuer=csca,
            serial=0x10000 + i,
            not_before=NOW - timedelta(days=30),
            not_after=NOW + timedelta(days=3650),
            ca=False,
        )
        sample = sample or dsc
        records.append(ldif.LdifRecord(f"cn=dsc{i},o=dsc,dc=data", certificates=[dsc.der]))
    for i in range(n_crls):
        csca = cscas[i % len(cscas)]
        age = i // len(cscas)  # older CRLs of the same CSCA
        crl = pki.make_crl(
            csca,
            [0x90000 + k for k in range(20)],
            this_update=NOW - timedelta(days=7 + 30 * age),
            next_update=NOW + timedelta(days=23 - 30 * age),
        )
        records.append(ldif.LdifRecord(f"cn=crl{i},o=crl,dc=data", crls=[crl]))
    assert sample is not None
    return ml_ldif, ldif.dump(records), root, sample


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cscas", type=int, default=200)
    parser.add_argument("--dscs", type=int, default=20_000)
    parser.add_argument("--crls", type=int, default=300)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    print(json.dumps(run(args), indent=2))
    return 0


def run(args: argparse.Namespace) -> dict[str, object]:
    """The measurement (``args``: cscas, dscs, crls, runs); also the PKD row of
    ``bench/passive_auth.py``."""
    started = time.perf_counter()
    ml_ldif, dsc_ldif, root, dsc = build(args.cscas, args.dscs, args.crls)
    build_s = time.perf_counter() - started
    key = os.urandom(32)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "trust"
        start = time.perf_counter()
        store = load_store(folder, index_key=key)
        reports = [
            store.import_bytes(
                data, source=name, now=NOW + timedelta(days=1), master_list_roots=[root.cert]
            )
            for name, data in (("ml.ldif", ml_ldif), ("dsccrl.ldif", dsc_ldif))
        ]
        save_store(store, folder, index_key=key)
        import_s = time.perf_counter() - start
        rejected = sum(len(r.rejected) for r in reports)

        start = time.perf_counter()
        loaded = load_store(folder, index_key=key)
        load_s = time.perf_counter() - start
        counts = loaded.summary(NOW)["counts"]

    dgs = {1: _dg1(), 2: b"\x75\x82\x3a\x98" + os.urandom(15_000)}
    embedded = pki.build_sod(dgs, dsc)
    v0 = pki.build_sod(dgs, dsc, embed_signer=False, lds_version=None)
    at = NOW + timedelta(days=1)
    start = time.perf_counter()
    first = passive.passive_authenticate(
        Document.from_data_groups(embedded, dgs), loaded, at=at, mrz=MRZ
    )
    first_ms = (time.perf_counter() - start) * 1000
    results = {}
    for label, sod in (("embedded_dsc", embedded), ("dsc_from_store", v0)):
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            verdict = passive.passive_authenticate(
                Document.from_data_groups(sod, dgs), loaded, at=at, mrz=MRZ
            )
            times.append((time.perf_counter() - start) * 1000)
        results[label] = {
            "median_ms": round(statistics.median(times), 3),
            "p95_ms": round(sorted(times)[int(0.95 * (len(times) - 1))], 3),
            "passive_ok": verdict.passive_ok,
            "codes": verdict.codes,
        }
    entries = sum(sum(c.values()) for c in counts.values())
    out = {
        "benchmark": "pkd_store",
        "store": {
            "cscas": args.cscas,
            "dscs": args.dscs,
            "crls": args.crls,
            "entries_loaded": entries,
            "rejected_on_import": rejected,
        },
        "build_test_pki_s": round(build_s, 1),
        "import_s": round(import_s, 2),
        "load_s": round(load_s, 3),
        "first_verify_after_load_ms": round(first_ms, 2),
        "first_verify_ok": first.passive_ok,
        "verify": results,
        "target_verify_ms": TARGET_VERIFY_MS,
        "meets_target": all(r["median_ms"] <= TARGET_VERIFY_MS for r in results.values()),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3]
        if Path("/proc/loadavg").exists()
        else None,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    return out


if __name__ == "__main__":
    raise SystemExit(main())
