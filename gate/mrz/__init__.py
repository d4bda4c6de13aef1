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
from gate.mrz.reading import Doubt, Reading, doubt_positions
from gate.mrz.reconcile import NameCheck, NameDifference, name_from_chip
from gate.mrz.repair import CONFUSION_SETS, bac_keys, repair

__all__ = [
    "CONFUSION_SETS",
    "BacKey",
    "Candidate",
    "CheckResult",
    "Doubt",
    "MrzError",
    "MrzFields",
    "MrzIssue",
    "MrzResult",
    "NameCheck",
    "NameDifference",
    "Reading",
    "bac_keys",
    "check_digit",
    "doubt_positions",
    "mask_document_number",
    "name_from_chip",
    "parse",
    "repair",
]
