"""What a page reader says beyond the lines: which characters are doubtful and which other
readings pass every check (each with its BAC key, so the chip decides). Produced by the page OCR
(drivers.mrz_ocr), consumed by anything in the gate layer without importing a driver; pure data.

    flags = doubt_positions(result.doubtful)   # for name_from_chip(page, dg1, doubtful=flags)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gate.mrz.keys import BacKey
from gate.mrz.model import bac_key_dict


@dataclass(frozen=True)
class Doubt:
    """A character whose glyph the recogniser is unsure of, outside any check digit's reach
    (names above all): 1-based line and position, the field, what was read and the ranked
    alternatives with their probabilities."""

    line: int
    position: int
    field: str
    read: str
    confidence: float
    alternatives: tuple[tuple[str, float], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "position": self.position,
            "field": self.field,
            "read": self.read,
            "confidence": round(self.confidence, 4),
            "alternatives": [[c, round(p, 4)] for c, p in self.alternatives],
        }


@dataclass(frozen=True)
class Reading:
    """One reading of the MRZ that passes every check, with the recogniser's cost (sum of
    -log probability over the characters that differ from the best reading; 0 for the best)."""

    lines: tuple[str, ...]
    cost: float
    bac_key: BacKey | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "lines": list(self.lines),
            "cost": round(self.cost, 3),
            "bac_key": bac_key_dict(self.bac_key),
        }


def doubt_positions(doubts: Iterable[Doubt]) -> list[tuple[int, int]]:
    """The 1-based (line, position) of each doubt: the ``doubtful`` argument of
    :func:`gate.mrz.reconcile.name_from_chip`."""
    return [(d.line, d.position) for d in doubts]
