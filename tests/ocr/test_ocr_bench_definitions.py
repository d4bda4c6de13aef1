"""bench/mrz_ocr.py counts what docs/mrz-ocr.md says: ``certain_but_wrong`` (claimed certain,
not the printed MRZ; target 0), ``valid_by_checks_but_wrong`` (issue 16's "valid but wrong":
passes every check digit, not the printed MRZ, flagged or not) and ``flagged_wrong`` (valid by
the check digits, wrong, not claimed certain); a wrong reading whose checks fail is in none."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from simulator.testdata import REPO

TRUTH = ["P<UTOERIKSSON<<ANNA", "L898902C36UTO7408122F"]
WRONG = ["P<UTOERIKSSON<<ANNA", "L898902C36UTO7408122E"]


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location("egate_bench_defs", REPO / "bench" / "mrz_ocr.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_wrong_readings_are_counted_by_what_was_claimed() -> None:
    bench = _bench()
    outcomes = {
        "exact": (TRUTH, True, True, None),
        "certain_wrong": (WRONG, True, True, None),
        "flagged_wrong": (WRONG, False, True, None),
        "checks_fail": (WRONG, False, False, None),
        "not_found": (None, False, False, None),
    }
    pages = [(Path(name), TRUTH) for name in outcomes]
    rows = bench.run(lambda path: outcomes[path.name], pages, "test")
    summary = bench.summarise(rows)
    assert summary["certain_but_wrong"] == 1
    assert summary["valid_by_checks_but_wrong"] == 2
    assert summary["flagged_wrong"] == 1
    assert "valid_but_wrong" not in summary
    assert summary["not_found"] == 0.2


def test_docs_state_the_training_font_mix_of_the_code() -> None:
    from drivers.mrz_ocr import train

    total = train.OCRB_SHARE + sum(share for _, share in train.EXTRA_FONTS)
    share = round(100 * train.OCRB_SHARE / total)
    text = " ".join((REPO / "docs" / "mrz-ocr.md").read_text().split())
    assert f"{share} % in OCR-B" in text
