"""The access keys a reader needs: MRZ information from the printed MRZ lines, or a CAN."""

from __future__ import annotations

from gate.mrz.layout import printed_mrz_information


def normalize_mrz(mrz: str) -> str:
    """The MRZ as one run of characters: line breaks and blanks removed, upper case."""
    return "".join(mrz.split()).upper()


def mrz_information(mrz: str) -> str:
    """Document number, date of birth and date of expiry, each with its check digit, as printed
    in the MRZ (the BAC key seed input and the PACE MRZ password). ``mrz`` is the two or three
    MRZ lines, with or without line breaks. Raises ValueError on a wrong length."""
    text = normalize_mrz(mrz)
    width = {90: 30, 72: 36, 88: 44}.get(len(text))
    if width is None:
        raise ValueError(
            f"MRZ of {len(text)} characters: expected 90 (TD1), 72 (TD2) or 88 (TD3) characters"
        )
    lines = [text[i : i + width] for i in range(0, len(text), width)]
    return printed_mrz_information(lines)
