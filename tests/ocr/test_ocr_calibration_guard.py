"""Calibration guard: the per-character confidences on a small seeded hard set (the bench's
``hard_stroked`` pages, the only synthetic set where the reader makes character errors) stay
within stated limits, so a regression of the classifier or its temperature shows.

Measured with the committed weights (20 pages, seeds 5000-5019, 1428 characters): expected
calibration error 0.033 (10 bins), error rate of the characters reported at 0.99 or more
0.029 (1238 characters), error rate below 0.9 0.22. The limits leave about 1.5x margin."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np

import simulator.docpages as docpages
from drivers.mrz_ocr.pipeline import read_image
from simulator.testdata import REPO

MAX_ECE = 0.05
MAX_ERROR_AT_099 = 0.045
PAGES = 20


def _bench() -> object:
    spec = importlib.util.spec_from_file_location(
        "egate_bench_mrz_ocr", REPO / "bench" / "mrz_ocr.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_confidence_calibration_on_stroked_pages() -> None:
    bench = _bench()
    chars: list[tuple[float, bool]] = []
    for k in range(PAGES):
        image, lines = bench.stroked_page(docpages, 5000 + k)  # type: ignore[attr-defined]
        result = read_image(image)
        if result.found:
            chars += bench.characters(result.lines, lines, result.confidence)  # type: ignore[attr-defined]
    assert len(chars) > 1000
    conf = np.array([c for c, _ in chars])
    ok = np.array([o for _, o in chars])
    edges = np.linspace(0.0, 1.0, 11)
    which = np.clip(np.digitize(conf, edges) - 1, 0, 9)
    ece = sum(
        (which == b).mean() * abs(conf[which == b].mean() - ok[which == b].mean())
        for b in range(10)
        if (which == b).any()
    )
    sure = conf >= 0.99
    assert ece <= MAX_ECE
    assert 1.0 - ok[sure].mean() <= MAX_ERROR_AT_099
    assert (1.0 - ok[conf < 0.9].mean()) > (1.0 - ok[sure].mean())  # lower means wronger
