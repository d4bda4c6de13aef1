"""The MRZ information that opens a chip (ICAO 9303 Part 11 section 4.3, BAC/PACE with MRZ)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gate.mrz.checkdigit import check_digit

_YYMMDD = re.compile(r"^[0-9]{6}$")
_DOCNUM = re.compile(r"^[0-9A-Z<]{1,}$")


@dataclass(frozen=True)
class BacKey:
    """Document number as printed (fillers kept; the full number for TD1 long numbers),
    date of birth and date of expiry as YYMMDD."""

    document_number: str
    date_of_birth: str
    date_of_expiry: str

    def __post_init__(self) -> None:
        if not _DOCNUM.match(self.document_number):
            raise ValueError(f"document number {self.document_number!r}: only 0-9, A-Z and '<'")
        for name in ("date_of_birth", "date_of_expiry"):
            if not _YYMMDD.match(getattr(self, name)):
                raise ValueError(f"{name} {getattr(self, name)!r}: expected YYMMDD")

    def __repr__(self) -> str:
        # The three fields are the chip's access secret: never in logs or tracebacks in full.
        from gate.mrz.model import mask_document_number  # model imports this module

        masked = mask_document_number(self.document_number)
        return (
            f"BacKey(document_number={masked!r}, date_of_birth='******', date_of_expiry='******')"
        )

    def mrz_information(self) -> str:
        """Document number (at least 9 characters, '<'-padded), birth and expiry, each
        followed by its check digit: the input of the BAC/PACE key seed (SHA-1 of this)."""
        number = self.document_number.ljust(9, "<")
        return (
            number
            + check_digit(number)
            + self.date_of_birth
            + check_digit(self.date_of_birth)
            + self.date_of_expiry
            + check_digit(self.date_of_expiry)
        )
