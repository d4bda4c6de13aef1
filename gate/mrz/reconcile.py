"""The chip's DG1 against the page OCR's reading: the name (no check digit covers it) is taken
from DG1, and the lane reports that the page OCR disagreed. Pure.

    check = name_from_chip(page, dg1, doubtful=[(3, 5)])   # 1-based (line, position) flags
    check.primary_identifier, check.secondary_identifier    # DG1's, always
    check.page_disagreed, check.differences, check.reason   # "MRZ_NAME_FROM_CHIP" or None

Only the name is corrected this way. Any other difference between the page and DG1 is
``other_fields_differ`` (reason ``MRZ_DG1_MISMATCH`` is the caller's decision: the BAC fields
agree by construction once the chip opened, so such a difference is in unprotected data).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gate.mrz import layout as lay
from gate.mrz.model import MrzError, MrzResult

NAME_FROM_CHIP = "MRZ_NAME_FROM_CHIP"
DG1_MISMATCH = "MRZ_DG1_MISMATCH"


@dataclass(frozen=True)
class NameDifference:
    """One name character where the page and DG1 differ (1-based line and position); whether
    the page OCR had flagged it as doubtful."""

    line: int
    position: int
    page: str
    chip: str
    flagged: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "position": self.position,
            "page": self.page,
            "chip": self.chip,
            "flagged": self.flagged,
        }


@dataclass(frozen=True)
class NameCheck:
    primary_identifier: str
    secondary_identifier: str
    page_disagreed: bool
    differences: tuple[NameDifference, ...]
    other_fields_differ: bool

    @property
    def reason(self) -> str | None:
        """The reason code to report: the name was corrected from the chip, or nothing."""
        return NAME_FROM_CHIP if self.page_disagreed else None

    @property
    def unflagged(self) -> int:
        """Differences the page OCR had not flagged as doubtful (a calibration warning)."""
        return sum(1 for d in self.differences if not d.flagged)

    def to_dict(self) -> dict[str, Any]:
        return {
            "primary_identifier": self.primary_identifier,
            "secondary_identifier": self.secondary_identifier,
            "page_disagreed": self.page_disagreed,
            "differences": [d.to_dict() for d in self.differences],
            "other_fields_differ": self.other_fields_differ,
            "reason": self.reason,
        }


def _name_spans(result: MrzResult) -> tuple[lay.Span, ...]:
    if result.format == lay.FRA_ID_NAME:
        return lay.FRA_ID.name_spans
    layout = lay.LAYOUTS.get(result.format)
    if layout is None:
        raise MrzError(f"MRZ format {result.format!r} has no known name field")
    return (layout.name_field,)


def name_from_chip(
    page: MrzResult, dg1: MrzResult, doubtful: Iterable[tuple[int, int]] = ()
) -> NameCheck:
    """Compare the page reading with DG1 and take the name from DG1. ``doubtful`` holds the
    1-based (line, position) of characters the page OCR flagged. Raises MrzError when the two
    are not the same format (then they are not the same document's MRZ)."""
    if page.format != dg1.format or len(page.lines) != len(dg1.lines):
        raise MrzError(
            f"the page MRZ ({page.format}) and DG1 ({dg1.format}) are not the same format: "
            "compare the documents, not the names"
        )
    flagged = set(doubtful)
    spans = _name_spans(dg1)
    in_name: set[tuple[int, int]] = set()
    differences: list[NameDifference] = []
    for line, start, end in spans:
        page_text = page.lines[line][start:end].ljust(end - start, "<")
        chip_text = dg1.lines[line][start:end].ljust(end - start, "<")
        for offset, (a, b) in enumerate(zip(page_text, chip_text, strict=True)):
            in_name.add((line, start + offset))
            if a != b:
                where = (line + 1, start + offset + 1)
                differences.append(NameDifference(*where, a, b, where in flagged))
    other = any(
        a != b
        for line, (page_line, chip_line) in enumerate(zip(page.lines, dg1.lines, strict=True))
        for col, (a, b) in enumerate(zip(page_line, chip_line, strict=False))
        if (line, col) not in in_name
    )
    return NameCheck(
        dg1.fields.primary_identifier,
        dg1.fields.secondary_identifier,
        bool(differences),
        tuple(differences),
        other,
    )
