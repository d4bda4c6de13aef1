"""Benchmark: median time of a full passive authentication per document.

Full = parse EF.SOD, hash the data groups (DG1 + a ~15 KB DG2 portrait + DG14 + DG15), verify
the SOD signature and the DSC -> CSCA chain, check validity, CRL lookup and the MRZ.
Signature kinds: RSA-2048 (PKCS#1 v1.5), RSA-PSS (2048), ECDSA P-256, and ECDSA on
brainpoolP256r1 with EXPLICIT domain parameters in both DSC and CSCA.

    /work/venv/bin/python bench/passive_auth.py [--runs N]

Prints JSON. Target: median <= 15 ms per document on the lane PC.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gate.emrtd import passive, trust
from simulator import pki

MRZ = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F3401159ZE184226B<<<<<10"
TARGET_MS = 15.0


def _dg1() -> bytes:
    body = b"\x5f\x1f" + bytes([len(MRZ)]) + MRZ.encode()
    return b"\x61" + bytes([len(body)]) + body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    now = datetime(2026, 1, 15, tzinfo=UTC)
    country = pki.make_test_pki(now)
    store = trust.TrustStore()
    for csca in country.cscas:
        store.import_bytes(csca.der, source="bench", now=now)
    crl_der = pki.make_crl(
        country.csca_rsa, [0x9999], this_update=now, next_update=now + timedelta(days=30)
    )
    store.import_bytes(crl_der, source="bench-crl", now=now)
    dgs = {
        1: _dg1(),
        2: b"\x75\x82\x3a\x98" + os.urandom(15000),
        14: b"\x6e\x82\x01\x00" + os.urandom(256),
        15: b"\x6f\x81\xa0" + os.urandom(160),
    }
    kinds = {
        "rsa2048_pkcs1": country.dsc_rsa2048,
        "rsa2048_pss": country.dsc_rsa_pss,
        "ecdsa_p256": country.dsc_p256,
        "ecdsa_brainpoolP256r1_explicit": country.dsc_brainpool_explicit,
    }
    at = now + timedelta(days=1)
    results = {}
    for label, dsc in kinds.items():
        sod = pki.build_sod(dgs, dsc)
        verdict = passive.passive_authenticate(sod, dgs, store, at=at, mrz=MRZ)
        if not verdict.passive_ok:
            print(json.dumps({"error": label, "codes": verdict.codes}), file=sys.stderr)
            return 1
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            passive.passive_authenticate(sod, dgs, store, at=at, mrz=MRZ)
            times.append((time.perf_counter() - start) * 1000)
        results[label] = {
            "median_ms": round(statistics.median(times), 3),
            "p95_ms": round(sorted(times)[int(0.95 * (len(times) - 1))], 3),
            "min_ms": round(min(times), 3),
            "runs": args.runs,
        }
    print(
        json.dumps(
            {
                "benchmark": "passive_auth",
                "target_median_ms": TARGET_MS,
                "meets_target": all(r["median_ms"] <= TARGET_MS for r in results.values()),
                "csca": {"rsa": "RSA-3072", "ec": "brainpoolP256r1 explicit"},
                "data_groups_bytes": {f"DG{n}": len(v) for n, v in dgs.items()},
                "results": results,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "cpus": os.cpu_count(),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
