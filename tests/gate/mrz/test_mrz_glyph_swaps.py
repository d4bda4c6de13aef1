"""Alphanumeric fields: the lane's BAC keys include readings that swap up to three confusable
glyphs (O/0, I/1, B/8, S/5, Z/2) while keeping the check digit (issue 16: a visa number
``A00B00CD1`` read ``AOOB0OCD1``, whose check digit still matches)."""

from __future__ import annotations

import datetime

from gate.daemon.work import interpret_mrz
from gate.mrz import parse, repair
from gate.mrz.repair import GLYPH_PAIRS, MAX_SWAP_VARIANTS
from simulator.docpages import Identity, compose_mrz

TODAY = datetime.date(2025, 1, 1)


def _visa(number: str) -> list[str]:
    identity = Identity("MRVA", "V<", "UTO", "ERIKSSON", "ANNA", number, "UTO", "740812", "F",
                        "300415")  # fmt: skip
    return compose_mrz(identity)


def test_three_o_for_zero_reading_keeps_the_true_key_among_the_candidates() -> None:
    truth = _visa("A00B00CD1")
    read = [truth[0], truth[1].replace("A00B00CD1", "AOOB0OCD1", 1)]
    page = parse(read, today=TODAY)
    assert page.valid  # the check digit cannot tell: O = 24 at weights 3, 1, 1 adds 120
    outcome = interpret_mrz(read, TODAY)
    true_key = parse(truth, today=TODAY).bac_key
    assert outcome.keys[0] == page.bac_key  # the reading as read is tried first
    assert true_key in outcome.keys
    index = outcome.keys.index(true_key)
    assert outcome.key_lines[index] == tuple(truth)
    assert index <= 3  # the consistent swap ranks before unrelated double changes


def test_glyph_swaps_are_bounded() -> None:
    truth = _visa("A00B00CD1")
    read = [truth[0], truth[1].replace("A00B00CD1", "AOOB0OCD1", 1)]
    candidates = repair(read, today=TODAY, max_candidates=50)
    numbers = {c.lines[1][:9] for c in candidates}
    triple = {n for n in numbers if sum(a != b for a, b in zip(n, "AOOB0OCD1", strict=True)) == 3}
    assert "A00B00CD1" in triple
    assert len(triple) <= MAX_SWAP_VARIANTS
    for number in triple:
        for a, b in zip(number, "AOOB0OCD1", strict=True):
            assert a == b or frozenset((a, b)) in GLYPH_PAIRS
    assert len(interpret_mrz(read, TODAY).keys) <= 10
