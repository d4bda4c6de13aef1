"""ICAO 9303 Part 3 section 4.9 check digits: weights 7, 3, 1 repeating, modulus 10."""

from __future__ import annotations

WEIGHTS = (7, 3, 1)
VALUES: dict[str, int] = (
    {chr(48 + i): i for i in range(10)} | {chr(65 + i): 10 + i for i in range(26)} | {"<": 0}
)
"""Digits are their value, A-Z are 10-35, the filler '<' is 0."""


def char_value(ch: str) -> int:
    """The value of one MRZ character; anything but 0-9, A-Z and '<' is a ValueError."""
    value = VALUES.get(ch)
    if value is None:
        raise ValueError(f"{ch!r} is not an MRZ character (0-9, A-Z, '<')")
    return value


def optional_check_digit(data: str) -> str | None:
    """The check digit of ``data``, or ``None`` when it holds a non-MRZ character."""
    total = 0
    for i, ch in enumerate(data):
        value = VALUES.get(ch)
        if value is None:
            return None
        total += value * WEIGHTS[i % 3]
    return str(total % 10)


def check_digit(data: str) -> str:
    """The check digit of ``data`` as a one-character string."""
    digit = optional_check_digit(data)
    if digit is None:
        bad = next(ch for ch in data if ch not in VALUES)
        raise ValueError(f"{bad!r} is not an MRZ character (0-9, A-Z, '<')")
    return digit
