"""Machine readable zone: parse, validate and repair (ICAO 9303 Parts 3-7).

Public API: :func:`parse` -> :class:`MrzResult`, :func:`repair` -> list of :class:`Candidate`;
see docs/mrz.md.
"""

from gate.mrz.checkdigit import check_digit
from gate.mrz.keys import BacKey
from gate.mrz.model import (
    Candidate,
    CheckResult,
    MrzError,
    MrzFields,
    MrzIssue,
    MrzResult,
    mask_document_number,
)
from gate.mrz.parser import parse

__all__ = [
    "BacKey",
    "Candidate",
    "CheckResult",
    "MrzError",
    "MrzFields",
    "MrzIssue",
    "MrzResult",
    "check_digit",
    "mask_document_number",
    "parse",
]
