"""MRZ page OCR bench: this driver (drivers.mrz_ocr) and plain passporteye, side by side.

    python bench/mrz_ocr.py [--pages 200] [--hard 25] [--seed 20261121]
                            [--testdata ../shared/testdata] [--skip-passporteye] [--code DIR]

Both readers get the same image files, in these sets:

- ``synthetic``: seeded pages from simulator.docpages (TD1, TD2, TD3 at 150-600 dpi, any
  quarter turn plus up to 10 degrees of skew, shear, JPEG 40-90, noise, blur, glare, uneven
  light): the standard difficulty;
- ``hard_small``, ``hard_two_sided``, ``hard_visa``, ``hard_phone``: the hard cases of
  ``simulator.docpages.hard_page`` (7-9 px characters; an ID card front and back side by side;
  an MRV-A sticker on a guilloche passport page; hand-held photos with perspective, up to 30
  degrees of skew and glare);
- ``hard_stroked``: a coloured ellipse drawn around the MRZ (an annotated figure, a pen or
  marker stroke, a stamp's edge), crossing characters at the ends of the lines, then a small
  turn, noise and JPEG (see :func:`stroked_page`);
- ``specimens``: the ICAO "Utopia" specimen pages in ``testdata/mrz_documents/passporteye``;
- ``devset``: the real scans and phone photos in ``testdata/mrz_documents/public_devset``
  (measured only: nothing is trained or tuned on them automatically), with a per-image list.

Per reader and set: complete-MRZ exact rate, BAC-field (document number, birth, expiry) exact
rate over the pages that have them, ``certain_but_wrong`` (the reader claims a certain valid
reading that is not the printed MRZ: egate's ``certain``, passporteye's ``valid``; must be 0),
``valid_by_checks_but_wrong`` (issue 16's "valid but wrong": the reading passes every check
digit and is not the printed MRZ, flagged or not), ``flagged_wrong`` (valid by the check
digits, not exact, and not claimed certain: egate flagged it ambiguous or doubtful; a wrong
reading whose checks fail is in neither count), the not-found rate and the median / p95 seconds
per page (wall clock, one page at a time), and ``calibration`` (egate only, over the readings
shaped like the truth): the per-character error rate by bin of reported confidence (a
calibrated reader's error rate is about one minus the bin's mean confidence) and
``wrong_but_unflagged``, wrong characters reported at a confidence of at least 0.9 (not
doubtful). ``machine`` gives the CPU count and the load average before and after.
``--code DIR`` reads with the driver of another checkout (for before/after figures; it must
have ``drivers/mrz_ocr/fonts.py``, which this checkout's page renderer imports); the pages and
the scoring always come from this checkout. Prints one JSON object; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2

HERE = Path(__file__).resolve().parent.parent

# lines read (None: not found), claimed certain, valid by the check digits, per-character
# confidences (None: not given)
Outcome = tuple[list[str] | None, bool, bool, list[list[float]] | None]
CONFIDENCE_BINS = (0.0, 0.5, 0.8, 0.9, 0.99, 1.0001)  # the last bin holds 0.99 to 1
DOUBT = 0.9  # drivers.mrz_ocr.pipeline.DOUBT: below it a character is reported doubtful
Reader = Callable[[Path], Outcome]


def _own(name: str, relative: str) -> Any:
    """A module of this checkout, whatever checkout the reader comes from (the pages and the
    scoring never change with the code under test)."""
    spec = importlib.util.spec_from_file_location(name, HERE / relative)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{relative} not found beside this bench")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


LAYOUT = _own("egate_bench_layout", "gate/mrz/layout.py")


def bac_fields(lines: list[str]) -> tuple[str, str, str] | None:
    result: tuple[str, str, str] | None = LAYOUT.bac_spans(lines)
    return result


def egate_reader() -> Reader:
    from drivers.mrz_ocr.pipeline import read_image

    def read(path: Path) -> Outcome:
        result = read_image(path)
        if not result.found:
            return None, False, False, None
        certain = getattr(result, "certain", result.valid)  # older checkouts: valid only
        confidence = [[float(c) for c in row] for row in result.confidence]
        return list(result.lines), bool(certain), bool(result.valid), confidence

    return read


def passporteye_reader() -> Reader:
    from passporteye import read_mrz

    def read(path: Path) -> Outcome:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mrz = read_mrz(str(path))
        if mrz is None:
            return None, False, False, None
        lines = [ln for ln in str(mrz.aux.get("raw_text", "")).split("\n") if ln]
        return lines, bool(mrz.valid), bool(mrz.valid), None

    return read


STROKE_COLOURS = ((40, 40, 225), (200, 60, 30), (30, 160, 30), (0, 140, 255))  # BGR


def stroked_page(docpages: Any, seed: int) -> tuple[Any, list[str]]:
    """A 300 dpi page with a coloured ellipse 0.2-0.5 mm wide drawn around its MRZ (it crosses
    the first and last characters), turned up to 5 degrees, with noise and JPEG 50-90."""
    import numpy as np

    rng = np.random.default_rng(seed)
    fmt = ("TD1", "TD2", "TD3")[seed % 3]
    identity = docpages.random_identity(rng, fmt)
    image, lines = docpages.render_page(identity, dpi=300, rng=rng)
    h, w = image.shape[:2]
    ppmm = 300 / 25.4
    rows = docpages.FORMATS[fmt][2]
    band = rows * docpages.LINE_PITCH_MM * ppmm
    top = h - 4.0 * ppmm - band
    centre = (w // 2 + int(rng.integers(-20, 20)), int(top + band / 2))
    axes = (int(w * rng.uniform(0.45, 0.52)), int(band * rng.uniform(0.6, 0.9)))
    colour = STROKE_COLOURS[seed % len(STROKE_COLOURS)]
    width = int(rng.uniform(0.2, 0.5) * ppmm)
    cv2.ellipse(image, centre, axes, float(rng.uniform(-3, 3)), 0, 360, colour, width)
    spec = docpages.Degradation(
        rotation=float(rng.uniform(-5, 5)), jpeg_quality=int(rng.integers(50, 91)), noise=3.0
    )
    return docpages.degrade(image, spec, rng), lines


def specimen_truth(folder: Path) -> list[tuple[Path, list[str]]]:
    import re

    expected = json.loads((folder / "expected.json").read_text())
    td3 = list(expected["mrz_lines_visible_in_image_td3_png"])
    td2 = re.findall(r"[A-Z0-9<]{36}", expected["mrz_lines_note"])[:2]
    return [(folder / name, td3 if "td3" in name else td2) for name in sorted(expected["expected"])]


def devset_truth(folder: Path) -> list[tuple[Path, list[str]]]:
    cases = json.loads((folder / "expected.json").read_text())["cases"]
    return [(folder / c["image"], c["mrz"].split("\n")) for c in cases]


def _write(path: Path, image: Any) -> None:
    if not cv2.imwrite(str(path), image):
        raise SystemExit(f"could not write {path}: is the temporary directory still there?")


def characters(
    lines: list[str] | None, truth: list[str], confidence: list[list[float]] | None
) -> list[tuple[float, bool]]:
    """(confidence, correct) for every character of a reading shaped like the truth (same
    line count and lengths); nothing for a reading of another shape or without confidences."""
    if lines is None or confidence is None or [len(x) for x in lines] != [len(x) for x in truth]:
        return []
    return [
        (conf, got == want)
        for line, want_line, confs in zip(lines, truth, confidence, strict=True)
        for got, want, conf in zip(line, want_line, confs, strict=True)
    ]


def calibration(chars: list[tuple[float, bool]]) -> dict[str, Any] | None:
    """Per-character error rate against the reported confidence, by confidence bin, and the
    wrong characters the reader did not report doubtful (confidence >= DOUBT)."""
    if not chars:
        return None
    bins = []
    for lo, hi in itertools.pairwise(CONFIDENCE_BINS):
        inside = [(c, ok) for c, ok in chars if lo <= c < hi]
        if inside:
            bins.append(
                {
                    "confidence": f"{lo:.2f}-{min(hi, 1.0):.2f}",
                    "characters": len(inside),
                    "mean_confidence": round(statistics.fmean(c for c, _ in inside), 4),
                    "error_rate": round(sum(not ok for _, ok in inside) / len(inside), 4),
                }
            )
    return {
        "characters": len(chars),
        "wrong": sum(not ok for _, ok in chars),
        "wrong_but_unflagged": sum(not ok and c >= DOUBT for c, ok in chars),
        "bins": bins,
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    if not n:
        return {"pages": 0}
    chars = [c for r in rows for c in r["characters"]]
    times = sorted(r["seconds"] for r in rows)
    with_bac = [r for r in rows if r["bac"] is not None]
    return {
        "pages": n,
        "complete_mrz_exact": round(sum(r["exact"] for r in rows) / n, 4),
        "bac_fields_exact": (
            round(sum(bool(r["bac"]) for r in with_bac) / len(with_bac), 4) if with_bac else None
        ),
        "certain_but_wrong": sum(r["certain"] and not r["exact"] for r in rows),
        "valid_by_checks_but_wrong": sum(r["valid"] and not r["exact"] for r in rows),
        "flagged_wrong": sum(r["flagged_wrong"] for r in rows),
        "not_found": round(sum(r["not_found"] for r in rows) / n, 4),
        "median_seconds": round(statistics.median(times), 4),
        "p95_seconds": round(times[min(n - 1, int(0.95 * n))], 4),
        "calibration": calibration(chars),
    }


def run(reader: Reader, pages: list[tuple[Path, list[str]]], label: str) -> list[dict[str, Any]]:
    rows = []
    for k, (path, truth) in enumerate(pages):
        started = time.perf_counter()
        try:
            lines, certain, valid, confidence = reader(path)
        except Exception as exc:  # a bench counts a crash as a no-read and goes on
            print(f"{label}: {path.name} raised {exc!r}", file=sys.stderr)
            lines, certain, valid, confidence = None, False, False, None
        seconds = time.perf_counter() - started
        truth_bac = bac_fields(truth)
        exact = lines == truth
        rows.append(
            {
                "page": path.name,
                "exact": exact,
                "bac": None
                if truth_bac is None
                else (lines is not None and bac_fields(lines) == truth_bac),
                "certain": certain,
                "valid": valid,
                "flagged_wrong": valid and not exact and not certain,
                "not_found": lines is None,
                "seconds": seconds,
                "characters": characters(lines, truth, confidence),
            }
        )
        if (k + 1) % 25 == 0:
            print(f"{label}: {k + 1}/{len(pages)} pages", file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--hard", type=int, default=25, help="pages per hard-case kind")
    parser.add_argument("--seed", type=int, default=20261121)
    default_data = os.environ.get("EGATE_TESTDATA", str(HERE.parent / "shared" / "testdata"))
    parser.add_argument("--testdata", type=Path, default=Path(default_data))
    parser.add_argument("--skip-passporteye", action="store_true")
    parser.add_argument("--code", type=Path, default=HERE, help="checkout whose reader to run")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.code.resolve()))
    docpages = _own("egate_bench_docpages", "simulator/docpages.py")
    load_before = os.getloadavg()

    sets: dict[str, list[tuple[Path, list[str]]]] = {}
    specimens_dir = args.testdata / "mrz_documents" / "passporteye"
    devset_dir = args.testdata / "mrz_documents" / "public_devset"
    with tempfile.TemporaryDirectory(prefix="mrz-bench-") as tmp:
        synthetic: list[tuple[Path, list[str]]] = []
        formats: dict[str, int] = {}
        for k in range(args.pages):
            page = docpages.synthetic_page(args.seed + k)
            path = Path(tmp) / f"page-{k:04d}.png"
            _write(path, page.image)
            synthetic.append((path, page.lines))
            formats[page.identity.doc_format] = formats.get(page.identity.doc_format, 0) + 1
        sets["synthetic"] = synthetic
        for kind in docpages.HARD_KINDS:
            pages = []
            for k in range(args.hard):
                page = docpages.hard_page(args.seed + 100_000 + k, kind)
                path = Path(tmp) / f"{kind}-{k:04d}.png"
                _write(path, page.image)
                pages.append((path, page.lines))
            sets[f"hard_{kind}"] = pages
        pages = []
        for k in range(args.hard):
            image, lines = stroked_page(docpages, args.seed + 200_000 + k)
            path = Path(tmp) / f"stroked-{k:04d}.png"
            _write(path, image)
            pages.append((path, lines))
        sets["hard_stroked"] = pages
        print("rendered the synthetic pages", file=sys.stderr)
        if specimens_dir.is_dir():
            sets["specimens"] = specimen_truth(specimens_dir)
        if devset_dir.is_dir():
            sets["devset"] = devset_truth(devset_dir)
        readers: dict[str, Reader] = {"egate": egate_reader()}
        if not args.skip_passporteye:
            readers["passporteye"] = passporteye_reader()
        report: dict[str, Any] = {
            "bench": "mrz_ocr",
            "code": str(args.code.resolve()),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "load_average_before": [round(v, 2) for v in load_before],
            },
            "synthetic": {"pages": args.pages, "seed": args.seed, "formats": formats},
            "hard_pages_per_kind": args.hard,
            "results": {},
            "devset_pages": {},
        }
        for name, reader in readers.items():
            report["results"][name] = {}
            for set_name, pages in sets.items():
                rows = run(reader, pages, f"{name} {set_name}")
                report["results"][name][set_name] = summarise(rows)
                if set_name == "devset":
                    report["devset_pages"][name] = {
                        r["page"]: ("exact" if r["exact"] else "not found" if r["not_found"]
                                    else "certain but wrong" if r["certain"]
                                    else "flagged" if r["valid"] else "checks fail")
                        for r in rows
                    }  # fmt: skip
        report["machine"]["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
