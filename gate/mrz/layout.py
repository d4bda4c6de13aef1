"""Where each field sits in the five MRZ formats (ICAO Doc 9303 Parts 4 to 7).

Positions here are 0-based (line index, start, end exclusive); everything shown to people is
1-based. Layouts are facts of the standard:

- TD3 (Part 4, 2 x 44), MRV-A (Part 7, 2 x 44), TD2 (Part 6, 2 x 36), MRV-B (Part 7, 2 x 36),
  TD1 (Part 5, 3 x 30).
- Composite check digit: TD3 over line 2 columns 1-10, 14-20, 22-43; TD2 over line 2 columns
  1-10, 14-20, 22-35; TD1 over line 1 columns 6-30 and line 2 columns 1-7, 9-15, 19-29.
  Visas have no composite check digit.
"""

from __future__ import annotations

from dataclasses import dataclass

Span = tuple[int, int, int]  # line index, start, end (exclusive), all 0-based


@dataclass(frozen=True)
class Layout:
    name: str
    line_count: int
    line_length: int
    code_letters: str  # allowed first characters of the document code
    document_code: Span
    issuing_state: Span
    name_field: Span
    document_number: Span
    document_number_check: Span
    nationality: Span
    date_of_birth: Span
    date_of_birth_check: Span
    sex: Span
    date_of_expiry: Span
    date_of_expiry_check: Span
    optional_data: Span
    optional_data_check: Span | None
    optional_data_2: Span | None
    composite_check: Span | None
    composite_spans: tuple[Span, ...]
    long_number: bool  # the document number may continue in the optional data


def _two_line(
    name: str, length: int, letters: str, opt_end: int, opt_check: bool, composite: bool
) -> Layout:
    return Layout(
        name=name,
        line_count=2,
        line_length=length,
        code_letters=letters,
        document_code=(0, 0, 2),
        issuing_state=(0, 2, 5),
        name_field=(0, 5, length),
        document_number=(1, 0, 9),
        document_number_check=(1, 9, 10),
        nationality=(1, 10, 13),
        date_of_birth=(1, 13, 19),
        date_of_birth_check=(1, 19, 20),
        sex=(1, 20, 21),
        date_of_expiry=(1, 21, 27),
        date_of_expiry_check=(1, 27, 28),
        optional_data=(1, 28, opt_end),
        optional_data_check=(1, opt_end, opt_end + 1) if opt_check else None,
        optional_data_2=None,
        composite_check=(1, length - 1, length) if composite else None,
        composite_spans=((1, 0, 10), (1, 13, 20), (1, 21, length - 1)) if composite else (),
        long_number=name != "TD3",
    )


TD3 = _two_line("TD3", 44, "P", 42, True, True)
MRVA = _two_line("MRVA", 44, "V", 44, False, False)
TD2 = _two_line("TD2", 36, "ACI", 35, False, True)
MRVB = _two_line("MRVB", 36, "V", 36, False, False)
TD1 = Layout(
    name="TD1",
    line_count=3,
    line_length=30,
    code_letters="ACI",
    document_code=(0, 0, 2),
    issuing_state=(0, 2, 5),
    name_field=(2, 0, 30),
    document_number=(0, 5, 14),
    document_number_check=(0, 14, 15),
    nationality=(1, 15, 18),
    date_of_birth=(1, 0, 6),
    date_of_birth_check=(1, 6, 7),
    sex=(1, 7, 8),
    date_of_expiry=(1, 8, 14),
    date_of_expiry_check=(1, 14, 15),
    optional_data=(0, 15, 30),
    optional_data_check=None,
    optional_data_2=(1, 18, 29),
    composite_check=(1, 29, 30),
    composite_spans=((0, 5, 30), (1, 0, 7), (1, 8, 15), (1, 18, 29)),
    long_number=True,
)

LAYOUTS: dict[str, Layout] = {lay.name: lay for lay in (TD1, TD2, TD3, MRVA, MRVB)}


def choose_layout(lines: list[str]) -> Layout | None:
    """The layout for these lines by line count, length and document code; ``None`` when the
    shape fits none. Lengths may be off by a few characters (OCR): the nearest one is chosen."""
    if len(lines) == 3:
        return TD1
    if len(lines) != 2:
        return None
    length = max(len(lines[0]), len(lines[1]))
    visa = lines[0][:1] == "V"
    if abs(length - 44) <= abs(length - 36):
        return MRVA if visa else TD3
    return MRVB if visa else TD2


# ---------------------------------------------------------------------------------------------
# Positions: what each character of a format may be and which positions each check digit
# protects. One model for the parser's checks, the repair search, the page OCR's per-position
# classes and the chip access key (drivers.mrz_ocr, gate.emrtd.access.access).

DIGITS = "0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ALPHA = LETTERS + "<"
ALNUM = DIGITS + LETTERS + "<"
SEX = "MFX<"
DIGIT_OR_FILLER = DIGITS + "<"


@dataclass(frozen=True)
class Check:
    """One check digit: the data it covers and where it sits (0-based line, column)."""

    name: str
    spans: tuple[Span, ...]
    digit: tuple[int, int]
    may_be_filler: bool = False  # the field and its check digit may both be '<'
    long_number: bool = False  # '<' here means the number continues in the optional data


@dataclass(frozen=True)
class Positions:
    """Character classes per (line, column) and the check digits of one format."""

    name: str
    line_count: int
    line_length: int
    classes: tuple[tuple[str, ...], ...]
    checks: tuple[Check, ...]
    name_spans: tuple[Span, ...]  # name fields: no check digit covers them
    alphanumeric_spans: tuple[Span, ...]  # letters and digits both allowed (number, optional)
    other_spans: tuple[tuple[str, Span], ...] = ()  # code, countries, sex, optional data

    def field_of(self, line: int, col: int) -> str:
        for check in self.checks:
            if (line, col) == check.digit:
                return check.name + "_check"
            inside = any(s[0] == line and s[1] <= col < s[2] for s in check.spans)
            if inside and check.name != "composite":
                return check.name
        if any(s[0] == line and s[1] <= col < s[2] for s in self.name_spans):
            return "name"
        for name, (ln, start, end) in self.other_spans:
            if ln == line and start <= col < end:
                return name
        return "filler"


def _classes(
    length: int, lines: int, spec: list[tuple[Span | None, str]]
) -> tuple[tuple[str, ...], ...]:
    rows = [[ALNUM] * length for _ in range(lines)]
    for span, chars in spec:
        if span is None:
            continue
        line, start, end = span
        for col in range(start, end):
            rows[line][col] = chars
    return tuple(tuple(row) for row in rows)


def positions(layout: Layout) -> Positions:
    """The per-position model of an ICAO layout (derived from its field spans)."""
    code_line, code_start, _ = layout.document_code
    name_line, name_start, _ = layout.name_field
    spec: list[tuple[Span | None, str]] = [
        ((code_line, code_start, code_start + 1), layout.code_letters),
        ((code_line, code_start + 1, code_start + 2), ALPHA),
        (layout.issuing_state, ALPHA),
        (layout.name_field, ALPHA),
        ((name_line, name_start, name_start + 1), LETTERS),
        (layout.document_number, ALNUM),
        (layout.document_number_check, DIGIT_OR_FILLER if layout.long_number else DIGITS),
        (layout.nationality, ALPHA),
        (layout.date_of_birth, DIGITS),
        (layout.date_of_birth_check, DIGITS),
        (layout.sex, SEX),
        (layout.date_of_expiry, DIGITS),
        (layout.date_of_expiry_check, DIGITS),
        (layout.optional_data, ALNUM),
        (layout.optional_data_check, DIGIT_OR_FILLER),
        (layout.optional_data_2, ALNUM),
        (layout.composite_check, DIGITS),
    ]

    def at(span: Span) -> tuple[int, int]:
        return span[0], span[1]

    checks = [
        Check(
            "document_number",
            (layout.document_number,),
            at(layout.document_number_check),
            long_number=layout.long_number,
        ),
        Check("date_of_birth", (layout.date_of_birth,), at(layout.date_of_birth_check)),
        Check("date_of_expiry", (layout.date_of_expiry,), at(layout.date_of_expiry_check)),
    ]
    if layout.optional_data_check is not None:
        checks.append(
            Check(
                "optional_data",
                (layout.optional_data,),
                at(layout.optional_data_check),
                may_be_filler=True,
            )
        )
    if layout.composite_check is not None:
        checks.append(Check("composite", layout.composite_spans, at(layout.composite_check)))
    alnum = [layout.document_number, layout.optional_data]
    if layout.optional_data_2 is not None:
        alnum.append(layout.optional_data_2)
    return Positions(
        layout.name,
        layout.line_count,
        layout.line_length,
        _classes(layout.line_length, layout.line_count, spec),
        tuple(checks),
        (layout.name_field,),
        tuple(alnum),
        tuple(
            (name, span)
            for name, span in (
                ("document_code", layout.document_code),
                ("issuing_state", layout.issuing_state),
                ("nationality", layout.nationality),
                ("sex", layout.sex),
                ("optional_data", layout.optional_data),
                ("optional_data_2", layout.optional_data_2),
            )
            if span is not None
        ),
    )


# French national identity card 1988-2021 (carte nationale d'identite, 2 x 36; not ICAO TD2).
# Line 1: "ID", "FRA", surname (25), issuing department (3), office (3).
# Line 2: card number (12: YYMM of issue, department, sequence), its check digit, given names
# (14), date of birth, its check digit, sex, and a check digit over both lines.
FRA_ID_NAME = "FRA-ID"
FRA_ID_SURNAME: Span = (0, 5, 30)
FRA_ID_OFFICE: Span = (0, 30, 36)
FRA_ID_NUMBER: Span = (1, 0, 12)
FRA_ID_NUMBER_CHECK: Span = (1, 12, 13)
FRA_ID_GIVEN_NAMES: Span = (1, 13, 27)
FRA_ID_BIRTH: Span = (1, 27, 33)
FRA_ID_BIRTH_CHECK: Span = (1, 33, 34)
FRA_ID_SEX: Span = (1, 34, 35)
FRA_ID_COMPOSITE: Span = (1, 35, 36)
FRA_ID_COMPOSITE_SPANS: tuple[Span, ...] = ((0, 0, 36), (1, 0, 35))

FRA_ID = Positions(
    FRA_ID_NAME,
    2,
    36,
    _classes(
        36,
        2,
        [
            ((0, 0, 2), "I" + "D"),
            ((0, 2, 5), "FRA"),
            (FRA_ID_SURNAME, ALPHA),
            ((0, 5, 6), LETTERS),
            (FRA_ID_OFFICE, ALNUM),
            (FRA_ID_NUMBER, ALNUM),
            (FRA_ID_NUMBER_CHECK, DIGITS),
            (FRA_ID_GIVEN_NAMES, ALPHA),
            (FRA_ID_BIRTH, DIGITS),
            (FRA_ID_BIRTH_CHECK, DIGITS),
            (FRA_ID_SEX, SEX),
            (FRA_ID_COMPOSITE, DIGITS),
        ],
    ),
    (
        Check("document_number", (FRA_ID_NUMBER,), (1, 12)),
        Check("date_of_birth", (FRA_ID_BIRTH,), (1, 33)),
        Check("composite", FRA_ID_COMPOSITE_SPANS, (1, 35)),
    ),
    (FRA_ID_SURNAME, FRA_ID_GIVEN_NAMES),
    (FRA_ID_NUMBER, FRA_ID_OFFICE),
    (
        ("document_code", (0, 0, 2)),
        ("issuing_state", (0, 2, 5)),
        ("sex", FRA_ID_SEX),
        ("optional_data", FRA_ID_OFFICE),
    ),
)


def is_french_id(lines: list[str]) -> bool:
    """Two lines of (about) 36 starting with 'IDFRA': the French card of 1988-2021 (the card
    issued since 2021 is an ICAO TD1)."""
    return len(lines) == 2 and lines[0][:5] == "IDFRA" and abs(len(lines[0]) - 36) <= 3


def positions_for(lines: int, length: int, start: str) -> Positions | None:
    """The per-position model for an MRZ of ``lines`` lines of ``length`` characters whose
    first line starts with ``start`` (a few characters are enough)."""
    if lines == 3 and length == 30:
        return positions(TD1)
    if lines != 2 or length not in (36, 44):
        return None
    if length == 36 and start[:5] == "IDFRA":
        return FRA_ID
    visa = start[:1] == "V"
    if length == 44:
        return positions(MRVA if visa else TD3)
    return positions(MRVB if visa else TD2)


def bac_spans(lines: list[str]) -> tuple[str, str, str] | None:
    """Document number (without trailing fillers), date of birth and date of expiry as printed,
    cut at the positions of the format (a long TD1/TD2/visa number continues in the optional
    data); ``None`` for a shape without them."""
    layout = choose_layout(lines)
    if layout is None or is_french_id(lines):
        return None
    work = [(line + "<" * layout.line_length)[: layout.line_length] for line in lines]

    def get(span: Span) -> str:
        return work[span[0]][span[1] : span[2]]

    number = get(layout.document_number)
    optional = get(layout.optional_data)
    if layout.long_number and get(layout.document_number_check) == "<" and optional[:1] != "<":
        number += optional.split("<", 1)[0][:-1]
    return number.rstrip("<"), get(layout.date_of_birth), get(layout.date_of_expiry)


def printed_mrz_information(lines: list[str]) -> str:
    """Document number, date of birth and date of expiry, each followed by its check digit, as
    printed (ICAO 9303 Part 11 section 4.3.2: the BAC key seed and the PACE MRZ password). A
    long number (TD1/TD2/visa: '<' in the number's check position) is the nine characters,
    then its continuation and check digit from the optional data. Raises ValueError for a
    shape that has none (French 1988-2021 card, wrong line count or length)."""
    layout = choose_layout(lines)
    if layout is None or is_french_id(lines):
        raise ValueError("this MRZ has no document number, birth and expiry for chip access")
    if any(len(line) != layout.line_length for line in lines):
        raise ValueError(
            f"{layout.name} lines must have {layout.line_length} characters, got "
            + ", ".join(str(len(line)) for line in lines)
        )

    def get(span: Span) -> str:
        return lines[span[0]][span[1] : span[2]]

    number = get(layout.document_number) + get(layout.document_number_check)
    optional = get(layout.optional_data)
    if layout.long_number and number[-1] == "<" and optional[:1] != "<":
        number = number[:-1] + optional.split("<", 1)[0]
    birth = get(layout.date_of_birth) + get(layout.date_of_birth_check)
    expiry = get(layout.date_of_expiry) + get(layout.date_of_expiry_check)
    return number + birth + expiry
