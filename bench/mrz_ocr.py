"""MRZ page OCR bench: this driver (drivers.mrz_ocr) and plain passporteye, side by side.

    python bench/mrz_ocr.py [--pages 200] [--seed 20261121] [--testdata ../shared/testdata]
                            [--skip-passporteye]

Both readers get the same image files: the ICAO "Utopia" specimen pages from
``testdata/mrz_documents/passporteye`` and a seeded synthetic set (simulator.docpages: TD1, TD2
and TD3 pages at 150-600 dpi, any quarter turn plus up to 10 degrees of skew, shear, JPEG 40-90,
noise, blur, glare, uneven light). Prints one JSON object: per reader and set, the complete-MRZ
exact rate, the BAC-field (document number, birth, expiry) exact rate, the no-read rate and the
median / p95 seconds per page (wall clock, one page at a time). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drivers.mrz_ocr.pipeline import read_image
from simulator.docpages import synthetic_page


def bac_fields(lines: list[str]) -> tuple[str, str, str] | None:
    if len(lines) == 3 and len(lines[0]) == 30:
        return lines[0][5:14].rstrip("<"), lines[1][0:6], lines[1][8:14]
    if len(lines) == 2 and len(lines[1]) in (36, 44):
        return lines[1][0:9].rstrip("<"), lines[1][13:19], lines[1][21:27]
    return None


def ours(path: Path) -> tuple[list[str] | None, tuple[str, str, str] | None]:
    result = read_image(path)
    if not result.found:
        return None, None
    return result.lines, bac_fields(result.lines)


def passporteye(path: Path) -> tuple[list[str] | None, tuple[str, str, str] | None]:
    from passporteye import read_mrz

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mrz = read_mrz(str(path))
    if mrz is None:
        return None, None
    lines = [ln for ln in str(mrz.aux.get("raw_text", "")).split("\n") if ln]
    bac = (str(mrz.number).rstrip("<"), str(mrz.date_of_birth), str(mrz.expiration_date))
    return lines, bac


def specimen_truth(folder: Path) -> dict[Path, list[str]]:
    expected = json.loads((folder / "expected.json").read_text())
    td3 = list(expected["mrz_lines_visible_in_image_td3_png"])
    td2 = re.findall(r"[A-Z0-9<]{36}", expected["mrz_lines_note"])[:2]
    out = {}
    for name in sorted(expected["expected"]):
        out[folder / name] = td3 if "td3" in name else td2
    return out


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    times = sorted(r["seconds"] for r in rows)
    return {
        "pages": n,
        "complete_mrz_exact": round(sum(r["exact"] for r in rows) / n, 4) if n else None,
        "bac_fields_exact": round(sum(r["bac"] for r in rows) / n, 4) if n else None,
        "no_read": round(sum(r["no_read"] for r in rows) / n, 4) if n else None,
        "median_seconds": round(statistics.median(times), 4) if n else None,
        "p95_seconds": round(times[min(n - 1, int(0.95 * n))], 4) if n else None,
    }


def run(reader: Any, pages: list[tuple[Path, list[str]]], label: str) -> list[dict[str, Any]]:
    rows = []
    for k, (path, truth) in enumerate(pages):
        started = time.perf_counter()
        try:
            lines, bac = reader(path)
        except Exception as exc:  # a bench counts a crash as a no-read and goes on
            print(f"{label}: {path.name} raised {exc!r}", file=sys.stderr)
            lines, bac = None, None
        seconds = time.perf_counter() - started
        rows.append(
            {
                "exact": lines == truth,
                "bac": bac is not None and bac == bac_fields(truth),
                "no_read": lines is None,
                "seconds": seconds,
            }
        )
        if (k + 1) % 25 == 0:
            print(f"{label}: {k + 1}/{len(pages)} pages", file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261121)
    default_data = os.environ.get(
        "EGATE_TESTDATA", str(Path(__file__).resolve().parents[1].parent / "shared" / "testdata")
    )
    parser.add_argument("--testdata", type=Path, default=Path(default_data))
    parser.add_argument("--skip-passporteye", action="store_true")
    args = parser.parse_args(argv)

    specimens_dir = args.testdata / "mrz_documents" / "passporteye"
    specimens = list(specimen_truth(specimens_dir).items()) if specimens_dir.is_dir() else []
    with tempfile.TemporaryDirectory(prefix="mrz-bench-") as tmp:
        synthetic: list[tuple[Path, list[str]]] = []
        formats: dict[str, int] = {}
        for k in range(args.pages):
            page = synthetic_page(args.seed + k)
            path = Path(tmp) / f"page-{k:04d}.png"
            cv2.imwrite(str(path), page.image)
            synthetic.append((path, page.lines))
            formats[page.identity.doc_format] = formats.get(page.identity.doc_format, 0) + 1
        print(f"rendered {len(synthetic)} synthetic pages", file=sys.stderr)
        readers: dict[str, Any] = {"egate": ours}
        if not args.skip_passporteye:
            readers["passporteye"] = passporteye
        report: dict[str, Any] = {
            "bench": "mrz_ocr",
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "synthetic": {"pages": args.pages, "seed": args.seed, "formats": formats},
            "specimens": [p.name for p, _ in specimens],
            "results": {},
        }
        for name, reader in readers.items():
            report["results"][name] = {
                "specimens": summarise(run(reader, specimens, f"{name} specimens")),
                "synthetic": summarise(run(reader, synthetic, f"{name} synthetic")),
            }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
