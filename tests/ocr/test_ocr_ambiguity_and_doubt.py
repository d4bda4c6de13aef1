"""The page OCR never claims certainty where two readings pass every check (O/0 collisions
under the 7-3-1 weights), and it flags doubtful characters no check digit covers."""

from __future__ import annotations

import datetime
import itertools

import numpy as np

from drivers.mrz_ocr import pipeline
from drivers.mrz_ocr.recognise import ALPHABET
from gate.mrz import layout as lay
from gate.mrz.checkdigit import check_digit
from simulator.docpages import Identity, compose_mrz

TODAY = datetime.date(2026, 1, 1)
# O = 24 and 0 = 0: swapping 0 -> O at positions weighted 3, 1, 1 adds 72 + 24 + 24 = 120,
# a multiple of 10, so the number's check digit and the composite both still hold.
NUMBER = "A00B00CD1"
SWAPPED = "AOOB0OCD1"


def _visa_lines() -> list[str]:
    identity = Identity("MRVA", "V<", "UTO", "ERIKSSON", "ANNA", NUMBER, "UTO", "740812", "F",
                        "300415")  # fmt: skip
    return compose_mrz(identity)


def _logps(lines: list[str], doubts: dict[tuple[int, int], tuple[str, float]]) -> list[np.ndarray]:
    """Log-probabilities that read ``lines`` with 0.97 confidence, except at ``doubts`` where
    the given alternative gets the given probability."""
    out = []
    for row, text in enumerate(lines):
        probs = np.full((len(text), len(ALPHABET)), 0.03 / (len(ALPHABET) - 1))
        for col, ch in enumerate(text):
            probs[col, ALPHABET.index(ch)] = 0.97
            if (row, col) in doubts:
                alt, p = doubts[(row, col)]
                probs[col, ALPHABET.index(ch)] = 0.97 - p
                probs[col, ALPHABET.index(alt)] = p
        out.append(np.log(probs / probs.sum(axis=1, keepdims=True)))
    return out


def test_colliding_o_and_zero_is_reported_ambiguous_with_both_bac_keys() -> None:
    lines = _visa_lines()
    assert check_digit(NUMBER) == check_digit(SWAPPED)
    positions = lay.positions_for(2, 44, "V<UTO")
    assert positions is not None
    doubts = {(1, 1): ("O", 0.3), (1, 2): ("O", 0.3), (1, 5): ("O", 0.3)}
    decoded = pipeline._decode(_logps(lines, doubts), positions)
    assert decoded.checks_ok and decoded.lines == lines
    readings = pipeline._readings(decoded, TODAY, 10)
    assert len(readings) >= 2
    assert readings[0].lines == tuple(lines) and readings[0].cost == 0.0
    numbers = [r.bac_key.document_number for r in readings if r.bac_key is not None]
    assert NUMBER in numbers and SWAPPED in numbers
    assert all(a.cost <= b.cost for a, b in itertools.pairwise(readings))


def test_sure_glyphs_give_a_single_certain_reading() -> None:
    lines = _visa_lines()
    positions = lay.positions_for(2, 44, "V<UTO")
    assert positions is not None
    doubts = {(1, 1): ("O", 0.001), (1, 2): ("O", 0.001), (1, 5): ("O", 0.001)}
    decoded = pipeline._decode(_logps(lines, doubts), positions)
    assert pipeline._readings(decoded, TODAY, 10) == []


def test_doubtful_name_characters_are_flagged_with_alternatives() -> None:
    lines = _visa_lines()
    positions = lay.positions_for(2, 44, "V<UTO")
    assert positions is not None
    # 'I' of ERIKSSON (line 1, column 8) read with 0.6, 'L' the alternative
    decoded = pipeline._decode(_logps(lines, {(0, 7): ("L", 0.35)}), positions)
    doubts = pipeline._doubtful(decoded)
    assert [(d.line, d.position, d.field, d.read) for d in doubts] == [(1, 8, "name", "I")]
    assert doubts[0].alternatives[0][0] == "L"
    assert 0.55 < doubts[0].confidence < 0.65
