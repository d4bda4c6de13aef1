"""The access keys a reader needs: MRZ information from the printed MRZ lines, or a CAN."""

from __future__ import annotations


def normalize_mrz(mrz: str) -> str:
    """The MRZ as one run of characters: line breaks and blanks removed, upper case."""
    return "".join(mrz.split()).upper()


def mrz_information(mrz: str) -> str:
    """Document number, date of birth and date of expiry, each with its check digit, as printed
    in the MRZ (the BAC key seed input and the PACE MRZ password). ``mrz`` is the two or three
    MRZ lines, with or without line breaks. Raises ValueError on a wrong length."""
    text = normalize_mrz(mrz)
    if len(text) == 90:  # TD1
        number, birth, expiry = text[5:15], text[30:37], text[38:45]
        if number[-1] == "<":  # long document number continues in the optional data
            rest = text[15:30].rstrip("<")
            number = number[:9] + rest
        return number + birth + expiry
    if len(text) in (72, 88):  # TD2 / TD3
        line2 = text[len(text) // 2 :]
        return line2[0:10] + line2[13:20] + line2[21:28]
    raise ValueError(
        f"MRZ of {len(text)} characters: expected 90 (TD1), 72 (TD2) or 88 (TD3) characters"
    )
