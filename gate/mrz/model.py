"""Result objects of the MRZ layer: fields, per-check verdicts, precise issues, candidates."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from gate.errors import EgateError
from gate.mrz.keys import BacKey


class MrzError(EgateError):
    """An MRZ could not be used; parsing itself never raises, callers raise this on purpose."""

    reason_code = "MRZ_INVALID"


def mask_document_number(number: str) -> str:
    """Keep the first two and last two characters, mask the rest ('L89****C3' style)."""
    if len(number) <= 4:
        return "*" * len(number)
    return number[:2] + "*" * (len(number) - 4) + number[-2:]


@dataclass(frozen=True)
class MrzFields:
    """The data of one MRZ. Text fields have their fillers removed.

    ``document_code`` is the two-character code without fillers ("P", "PD", "I", "ID", "V"...);
    ``document_type`` its category: "passport" (P), "identity" (I, A, C), "visa" (V) or
    "unknown". ``primary_identifier`` is the surname part, ``secondary_identifier`` the given
    names, both with name fillers turned into single spaces ("ANNA MARIA"); either may be empty.
    ``document_number`` is the full number, including the part a TD1/TD2/MRV long number keeps
    in the optional data. Dates are ``None`` when absent or not a calendar date.
    """

    document_code: str = ""
    document_type: str = "unknown"
    issuing_state: str = ""
    primary_identifier: str = ""
    secondary_identifier: str = ""
    document_number: str = ""
    nationality: str = ""
    date_of_birth: datetime.date | None = None
    date_of_expiry: datetime.date | None = None
    sex: str = "<"
    optional_data: str = ""
    optional_data_2: str = ""

    def masked_document_number(self) -> str:
        """The document number for logs and events: first two and last two characters kept."""
        return mask_document_number(self.document_number)

    def to_dict(self) -> dict[str, Any]:
        return {
            "document_code": self.document_code,
            "document_type": self.document_type,
            "issuing_state": self.issuing_state,
            "primary_identifier": self.primary_identifier,
            "secondary_identifier": self.secondary_identifier,
            "document_number": self.document_number,
            "document_number_masked": self.masked_document_number(),
            "nationality": self.nationality,
            "date_of_birth": self.date_of_birth.isoformat() if self.date_of_birth else None,
            "date_of_expiry": self.date_of_expiry.isoformat() if self.date_of_expiry else None,
            "sex": self.sex,
            "optional_data": self.optional_data,
            "optional_data_2": self.optional_data_2,
        }


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check; ``expected``/``found`` are set when they mean something."""

    ok: bool
    message: str
    expected: str | None = None
    found: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "message": self.message,
            "expected": self.expected,
            "found": self.found,
        }


@dataclass(frozen=True)
class MrzIssue:
    """One problem: 1-based line and column, the field, what was expected and what was read."""

    line: int
    position: int
    field: str
    expected: str
    found: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "position": self.position,
            "field": self.field,
            "expected": self.expected,
            "found": self.found,
            "message": self.message,
        }

    def __str__(self) -> str:
        return f"line {self.line} position {self.position} ({self.field}): {self.message}"


@dataclass(frozen=True)
class MrzResult:
    """Everything known about one MRZ: format, fields, every check, every issue.

    ``valid`` is true when every check passed. ``expired`` compares the expiry date with the
    ``today`` the MRZ was parsed for (``None`` when there is no expiry date); it is information
    for the policy, not part of validity.
    """

    format: str
    lines: tuple[str, ...]
    valid: bool
    fields: MrzFields
    checks: dict[str, CheckResult]
    errors: list[MrzIssue]
    bac_key: BacKey | None
    expired: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "lines": list(self.lines),
            "valid": self.valid,
            "fields": self.fields.to_dict(),
            "checks": {name: check.to_dict() for name, check in self.checks.items()},
            "errors": [issue.to_dict() for issue in self.errors],
            "bac_key": bac_key_dict(self.bac_key),
            "expired": self.expired,
        }


def bac_key_dict(key: BacKey | None) -> dict[str, str] | None:
    if key is None:
        return None
    return {
        "document_number": key.document_number,
        "date_of_birth": key.date_of_birth,
        "date_of_expiry": key.date_of_expiry,
    }


@dataclass(frozen=True)
class Candidate:
    """One proposed correction of an MRZ. ``score`` is a cost: lower is better, 0 means the
    input as read. ``changes`` are (line, position, from, to), 1-based."""

    lines: tuple[str, ...]
    score: float
    changes: list[tuple[int, int, str, str]]
    result: MrzResult
    bac_key: BacKey | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "lines": list(self.lines),
            "score": round(self.score, 3),
            "changes": [list(c) for c in self.changes],
            "valid": self.result.valid,
            "bac_key": bac_key_dict(self.bac_key),
        }
