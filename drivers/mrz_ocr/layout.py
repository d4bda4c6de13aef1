"""What each MRZ position may hold and which positions each check digit protects
(ICAO 9303 Part 4 section 4.2.2 (TD3), Part 5 section 4.2.2 (TD1), Part 6 section 4.2.2 (TD2),
Part 7 (MRV-A/B)). Used to constrain the recogniser per position and to steer corrections."""

from __future__ import annotations

from dataclasses import dataclass

from drivers.mrz_ocr.recognise import ALPHABET

DIGITS = "0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ALPHA = LETTERS + "<"
ALNUM = DIGITS + LETTERS + "<"
SEX = "MFX<"
DIGIT_OR_FILLER = DIGITS + "<"

# (line, start, end) slices, end exclusive
Span = tuple[int, int, int]


@dataclass(frozen=True)
class Check:
    name: str
    spans: tuple[Span, ...]
    digit: tuple[int, int]  # (line, position)
    may_be_filler: bool = False  # the field and its check digit may both be '<'


@dataclass(frozen=True)
class Layout:
    name: str
    lines: int
    length: int
    allowed: tuple[tuple[str, ...], ...]  # allowed characters per line and position
    checks: tuple[Check, ...]


def _line(length: int, spec: list[tuple[int, int, str]], default: str = ALNUM) -> tuple[str, ...]:
    out = [default] * length
    for start, end, chars in spec:
        for i in range(start, end):
            out[i] = chars
    return tuple(out)


_NAME_LINE_SPEC = [(0, 1, LETTERS), (1, 2, ALPHA), (2, 5, ALPHA)]


def _names_line(length: int) -> tuple[str, ...]:
    return _line(length, [*_NAME_LINE_SPEC, (5, length, ALPHA)])


def _td3_like(length: int, visa: bool) -> Layout:
    opt_end = length - 2 if not visa else length
    line2 = _line(
        length,
        [
            (0, 9, ALNUM),
            (9, 10, DIGITS),
            (10, 13, ALPHA),
            (13, 19, DIGITS),
            (19, 20, DIGITS),
            (20, 21, SEX),
            (21, 27, DIGITS),
            (27, 28, DIGITS),
            (28, opt_end, ALNUM),
        ]
        + (
            []
            if visa
            else [(length - 2, length - 1, DIGIT_OR_FILLER), (length - 1, length, DIGITS)]
        ),
    )
    checks = [
        Check("document_number", ((1, 0, 9),), (1, 9)),
        Check("date_of_birth", ((1, 13, 19),), (1, 19)),
        Check("date_of_expiry", ((1, 21, 27),), (1, 27)),
    ]
    if not visa and length == 44:
        checks.append(Check("personal_number", ((1, 28, 42),), (1, 42), may_be_filler=True))
        checks.append(Check("composite", ((1, 0, 10), (1, 13, 20), (1, 21, 43)), (1, 43)))
    elif not visa:
        checks.append(Check("composite", ((1, 0, 10), (1, 13, 20), (1, 21, 35)), (1, 35)))
    name = {(44, False): "TD3", (36, False): "TD2", (44, True): "MRVA", (36, True): "MRVB"}[
        (length, visa)
    ]
    return Layout(name, 2, length, (_names_line(length), line2), tuple(checks))


TD1 = Layout(
    "TD1",
    3,
    30,
    (
        _line(30, [*_NAME_LINE_SPEC, (5, 14, ALNUM), (14, 15, DIGIT_OR_FILLER), (15, 30, ALNUM)]),
        _line(
            30,
            [
                (0, 7, DIGITS),
                (7, 8, SEX),
                (8, 15, DIGITS),
                (15, 18, ALPHA),
                (18, 29, ALNUM),
                (29, 30, DIGITS),
            ],
        ),
        _line(30, [(0, 30, ALPHA)]),
    ),
    (
        Check("document_number", ((0, 5, 14),), (0, 14)),
        Check("date_of_birth", ((1, 0, 6),), (1, 6)),
        Check("date_of_expiry", ((1, 8, 14),), (1, 14)),
        Check("composite", ((0, 5, 30), (1, 0, 7), (1, 8, 15), (1, 18, 29)), (1, 29)),
    ),
)
TD2 = _td3_like(36, visa=False)
TD3 = _td3_like(44, visa=False)
MRVA = _td3_like(44, visa=True)
MRVB = _td3_like(36, visa=True)


def layout_for(lines: int, length: int, first_char: str) -> Layout | None:
    if lines == 3 and length == 30:
        return TD1
    if lines == 2 and length in (36, 44):
        if first_char == "V":
            return MRVA if length == 44 else MRVB
        return TD3 if length == 44 else TD2
    return None


def allowed_mask(chars: str) -> list[bool]:
    return [c in chars for c in ALPHABET]
