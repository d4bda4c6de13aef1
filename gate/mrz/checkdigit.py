"""ICAO 9303 Part 3 section 4.9 check digits: weights 7, 3, 1 repeating, modulus 10."""

from __future__ import annotations

_WEIGHTS = (7, 3, 1)


def char_value(ch: str) -> int:
    """Digits are their value, A-Z are 10-35, the filler '<' is 0; anything else is an error."""
    if "0" <= ch <= "9":
        return ord(ch) - 48
    if "A" <= ch <= "Z":
        return ord(ch) - 55
    if ch == "<":
        return 0
    raise ValueError(f"{ch!r} is not an MRZ character (0-9, A-Z, '<')")


def check_digit(data: str) -> str:
    """The check digit of ``data`` as a one-character string."""
    total = sum(char_value(ch) * _WEIGHTS[i % 3] for i, ch in enumerate(data))
    return str(total % 10)
