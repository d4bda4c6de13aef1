"""Benchmark: median time of a full passive authentication per document.

Full = parse EF.SOD, hash the data groups (DG1 + a ~15 KB DG2 portrait + DG14 + DG15), verify
the SOD signature and the DSC -> CSCA chain, check validity, CRL lookup and the MRZ.
Signature kinds: RSA-2048 (PKCS#1 v1.5), RSA-PSS (2048), ECDSA P-256, ECDSA on
brainpoolP256r1 with EXPLICIT domain parameters in both DSC and CSCA, and ECDSA on
brainpoolP224r1 / brainpoolP320r1 (curves ``cryptography`` lacks: the project's own arithmetic).

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

from gate.emrtd.auth import passive
from gate.emrtd.document import Document
from gate.emrtd.pki import trust
from simulator import pki, sod_variants

MRZ = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F3401159ZE184226B<<<<<10"
TARGET_MS = 15.0


def _dg1() -> bytes:
    body = b"\x5f\x1f" + bytes([len(MRZ)]) + MRZ.encode()
    return b"\x61" + bytes([len(body)]) + body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument(
        "--pkd-dscs",
        type=int,
        default=20_000,
        help="DSCs of the PKD-sized store row (200 CSCAs, 300 CRLs; bench/pkd_store.py); 0 skips",
    )
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
    sods = {label: pki.build_sod(dgs, dsc) for label, dsc in kinds.items()}
    for curve in ("brainpoolP224r1", "brainpoolP320r1"):
        key = sod_variants.EcSigningKey.generate(curve)
        dsc = sod_variants.ec_dsc(country.csca_rsa, key, now=now, serial=0x1100)
        spec = sod_variants.SignerSpec(dsc, ec_key=key)
        sods[f"ecdsa_{curve}_own_arithmetic"] = sod_variants.variant_sod(dgs, [spec])
    at = now + timedelta(days=1)
    results = {}
    for label, sod in sods.items():
        verdict = passive.passive_authenticate(
            Document.from_data_groups(sod, dgs), store, at=at, mrz=MRZ
        )
        if not verdict.passive_ok:
            print(json.dumps({"error": label, "codes": verdict.codes}), file=sys.stderr)
            return 1
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            passive.passive_authenticate(Document.from_data_groups(sod, dgs), store, at=at, mrz=MRZ)
            times.append((time.perf_counter() - start) * 1000)
        results[label] = {
            "median_ms": round(statistics.median(times), 3),
            "p95_ms": round(sorted(times)[int(0.95 * (len(times) - 1))], 3),
            "min_ms": round(min(times), 3),
            "runs": args.runs,
        }
    real = _real_world(args.runs)
    pkd = _pkd_row(args)
    print(
        json.dumps(
            {
                "benchmark": "passive_auth",
                "target_median_ms": TARGET_MS,
                "meets_target": all(r["median_ms"] <= TARGET_MS for r in results.values())
                and (pkd is None or bool(pkd["meets_target"])),
                "csca": {"rsa": "RSA-3072", "ec": "brainpoolP256r1 explicit"},
                "data_groups_bytes": {f"DG{n}": len(v) for n, v in dgs.items()},
                "results": results,
                "real_world_sod_no_dgs": real,
                "pkd_sized_store": pkd,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "cpus": os.cpu_count(),
            },
            indent=2,
        )
    )
    return 0


def _pkd_row(args: argparse.Namespace) -> dict[str, object] | None:
    """Import, load and verification times with a trust store of ICAO PKD size."""
    if args.pkd_dscs <= 0:
        return None
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import pkd_store

    sizes = argparse.Namespace(cscas=200, dscs=args.pkd_dscs, crls=300, runs=args.runs)
    return pkd_store.run(sizes)


def _real_world(runs: int) -> dict[str, object]:
    """The gmrtd real SODs (signature + chain only: their DGs are not available)."""
    env = os.environ.get("EGATE_TESTDATA")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "testdata"
    folder = root / "epassport" / "gmrtd" / "sod_real_world"
    if not folder.is_dir():
        return {"skipped": f"{folder} not found (set EGATE_TESTDATA)"}
    from gate.emrtd.crypto import certs

    out: dict[str, object] = {}
    for case in json.loads((folder / "manifest.json").read_text())["cases"]:
        files = case["files"]
        raw = (folder / files["ef_sod"]).read_bytes()
        csca = certs.load_certificate((folder / files["csca_der"]).read_bytes())
        dsc = certs.load_certificate((folder / files["dsc_der"]).read_bytes())
        at = max(certs.not_before(dsc), certs.not_before(csca)) + timedelta(days=1)
        store = trust.TrustStore()
        store.import_bytes(csca.dump(), source="bench", now=at, anchor=True)
        if not passive.passive_authenticate(
            Document.from_data_groups(raw, {}), store, at=at
        ).passive_ok:
            out[case["country_comment"]] = "FAILED"
            continue
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            passive.passive_authenticate(Document.from_data_groups(raw, {}), store, at=at)
            times.append((time.perf_counter() - start) * 1000)
        out[case["country_comment"]] = {
            "median_ms": round(statistics.median(times), 3),
            "dsc_key": certs.describe_key(dsc.public_key),
            "csca_key": certs.describe_key(csca.public_key),
        }
    return out


if __name__ == "__main__":
    raise SystemExit(main())
