"""Parse and validate an MRZ (ICAO Doc 9303 Parts 3 to 7). Pure: ``today`` is a value.

:func:`parse` never raises on what it is given: every problem becomes a failed check and an
:class:`~gate.mrz.model.MrzIssue` naming line, column, field, expected and found.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from gate.mrz import countries
from gate.mrz import layout as lay
from gate.mrz.checkdigit import VALUES, optional_check_digit
from gate.mrz.keys import BacKey
from gate.mrz.layout import Layout, Span, choose_layout, is_french_id
from gate.mrz.model import CheckResult, MrzFields, MrzIssue, MrzResult

DIGITS = "0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CHARSET = frozenset(DIGITS + LETTERS + "<")
_DOCUMENT_TYPES = {"P": "passport", "I": "identity", "A": "identity", "C": "identity", "V": "visa"}

# Expiry dates are read in the window (today - 80 years, today + 20 years]; see docs/mrz.md.
EXPIRY_YEARS_AHEAD = 20


def char_value(ch: str) -> int | None:
    """The value of an MRZ character, ``None`` for anything else."""
    return VALUES.get(ch)


safe_check_digit = optional_check_digit


def split_lines(lines: Sequence[str] | str) -> list[str]:
    """One string with newlines or a sequence of lines -> non-empty lines, outer blanks removed.
    A single run of 88, 72 or 90 characters is cut into the lines of its format."""
    parts = [lines] if isinstance(lines, str) else [str(part) for part in lines]
    out: list[str] = []
    for part in parts:
        out.extend(piece.strip() for piece in part.splitlines())
    out = [line for line in out if line]
    if len(out) == 1 and len(out[0]) in _RUN_TOGETHER:
        # A reader or a chip's DG1 may give the whole MRZ as one run of characters.
        width = _RUN_TOGETHER[len(out[0])]
        out = [out[0][i : i + width] for i in range(0, len(out[0]), width)]
    return out


_RUN_TOGETHER = {88: 44, 72: 36, 90: 30}  # TD3/MRV-A, TD2/MRV-B, TD1 written on one line


def birth_year(yy: int, mm: int, dd: int, today: datetime.date) -> int:
    """The century that puts the birth date on or before ``today``."""
    year = today.year // 100 * 100 + yy
    if (year, mm, dd) > (today.year, today.month, today.day):
        year -= 100
    return year


def expiry_year(yy: int, today: datetime.date) -> int:
    """The century that puts the expiry year in (today - 80, today + 20]."""
    year = today.year // 100 * 100 + yy
    while year > today.year + EXPIRY_YEARS_AHEAD:
        year -= 100
    while year <= today.year + EXPIRY_YEARS_AHEAD - 100:
        year += 100
    return year


def field_name_at(layout: Layout, line: int, col: int) -> str:
    """The name of the field that holds 0-based (line, col)."""
    named: list[tuple[str, Span | None]] = [
        ("document_code", layout.document_code),
        ("issuing_state", layout.issuing_state),
        ("name", layout.name_field),
        ("document_number", layout.document_number),
        ("document_number_check", layout.document_number_check),
        ("nationality", layout.nationality),
        ("date_of_birth", layout.date_of_birth),
        ("date_of_birth_check", layout.date_of_birth_check),
        ("sex", layout.sex),
        ("date_of_expiry", layout.date_of_expiry),
        ("date_of_expiry_check", layout.date_of_expiry_check),
        ("optional_data", layout.optional_data),
        ("optional_data_check", layout.optional_data_check),
        ("optional_data_2", layout.optional_data_2),
        ("composite_check", layout.composite_check),
    ]
    for name, span in named:
        if span is not None and span[0] == line and span[1] <= col < span[2]:
            return name
    return "filler"


class _Builder:
    def __init__(self, layout: Layout | None, lines: list[str]) -> None:
        self.layout = layout
        self.lines = lines
        self.checks: dict[str, CheckResult] = {}
        self.errors: list[MrzIssue] = []

    def get(self, span: Span) -> str:
        line, start, end = span
        return self.lines[line][start:end]

    def ok(self, name: str, message: str) -> None:
        self.checks[name] = CheckResult(True, message)

    def fail(
        self,
        name: str,
        message: str,
        where: tuple[int, int],
        field: str,
        expected: str,
        found: str,
        missing: bool = False,
    ) -> None:
        # The first failure of a check is its verdict; every failure is an issue.
        if name not in self.checks or self.checks[name].ok:
            self.checks[name] = CheckResult(False, message, expected, found, missing)
        line, col = where
        self.errors.append(MrzIssue(line + 1, col + 1, field, expected, found, message))

    def check_digit(self, name: str, data: str, check_span: Span, what: str) -> None:
        found = self.get(check_span)
        where = (check_span[0], check_span[1])
        expected = safe_check_digit(data)
        if found not in DIGITS and expected is not None:
            self.fail(
                name,
                f"{what}: check digit missing, the document prints {found!r} where it belongs",
                where,
                name + "_check",
                expected,
                found,
                missing=True,
            )
        elif expected is None:
            self.fail(
                name,
                f"{what}: check digit cannot be computed, the data holds non-MRZ characters",
                where,
                name + "_check",
                "0-9",
                found,
            )
        elif found != expected:
            self.fail(
                name,
                # not the data itself: messages reach logs and events, and the data is the
                # document number, a date of birth or the whole BAC secret (composite)
                f"{what}: check digit is {found!r}, the data gives {expected!r}",
                where,
                name + "_check",
                expected,
                found,
            )
        else:
            self.ok(name, f"{what}: check digit {found} matches")


def parse(lines: Sequence[str] | str, *, today: datetime.date | None = None) -> MrzResult:
    """Parse and validate 2 or 3 MRZ lines (or one string with newlines).

    Detects TD1, TD2, TD3, MRV-A and MRV-B. Never raises on bad input: the result has
    ``valid=False``, failed ``checks`` and ``errors`` with positions. ``today`` (default: the
    local date) decides the century of dates and ``expired``.
    """
    if isinstance(today, datetime.datetime):
        today = today.date()
    return parse_lines(split_lines(lines), today or datetime.date.today())


def parse_lines(lines: list[str], today: datetime.date) -> MrzResult:
    """:func:`parse` on already split lines with an explicit ``today`` (pure)."""
    if is_french_id(lines):
        return _parse_french_id(lines, today)
    layout = choose_layout(lines)
    if layout is None:
        b = _Builder(None, lines)
        b.fail(
            "format",
            f"expected 2 lines of 44 or 36 characters or 3 lines of 30, got {len(lines)} line(s)",
            (0, 0),
            "format",
            "2 or 3 lines",
            f"{len(lines)} line(s)",
        )
        return MrzResult("unknown", tuple(lines), False, MrzFields(), b.checks, b.errors, None)

    work = [(line + "<" * layout.line_length)[: layout.line_length] for line in lines]
    b = _Builder(layout, work)
    _check_shape(b, layout, lines)
    _check_charset(b, layout, work)

    code = b.get(layout.document_code)
    _check_code(b, layout, code)
    issuing_state = _check_country(b, "issuing_state", layout.issuing_state)
    nationality = _check_country(b, "nationality", layout.nationality)
    primary, secondary = _check_name(b, layout)

    number, optional = _check_document_number(b, layout)
    dob_text = b.get(layout.date_of_birth)
    doe_text = b.get(layout.date_of_expiry)
    b.check_digit("date_of_birth", dob_text, layout.date_of_birth_check, "date of birth")
    b.check_digit("date_of_expiry", doe_text, layout.date_of_expiry_check, "date of expiry")
    dob = _check_date(b, "date_of_birth", layout.date_of_birth, today)
    doe = _check_date(b, "date_of_expiry", layout.date_of_expiry, today)

    sex = b.get(layout.sex)
    if sex in ("M", "F", "X", "<"):
        b.ok("sex", f"sex {sex!r}")
    else:
        b.fail(
            "sex",
            f"sex is {sex!r}; expected M, F, X or '<'",
            (layout.sex[0], layout.sex[1]),
            "sex",
            "M, F, X or <",
            sex,
        )

    if layout.optional_data_check is not None:
        data = b.get(layout.optional_data)
        check = b.get(layout.optional_data_check)
        if check == "<" and set(data) == {"<"}:
            b.ok("optional_data", "optional data empty, check digit '<'")
        else:
            b.check_digit("optional_data", data, layout.optional_data_check, "optional data")
    if layout.composite_check is not None:
        composite = "".join(b.get(span) for span in layout.composite_spans)
        b.check_digit("composite", composite, layout.composite_check, "composite")

    fields = MrzFields(
        document_code=code.replace("<", ""),
        document_type=_DOCUMENT_TYPES.get(code[:1], "unknown"),
        issuing_state=issuing_state,
        primary_identifier=primary,
        secondary_identifier=secondary,
        document_number=number,
        nationality=nationality,
        date_of_birth=dob,
        date_of_expiry=doe,
        sex=sex,
        optional_data=optional,
        optional_data_2=b.get(layout.optional_data_2).rstrip("<") if layout.optional_data_2 else "",
    )
    b.errors.sort(key=lambda issue: (issue.line, issue.position))
    valid = all(check.ok for check in b.checks.values())
    return MrzResult(
        format=layout.name,
        lines=tuple(lines),
        valid=valid,
        fields=fields,
        checks=b.checks,
        errors=b.errors,
        bac_key=_bac_key(number, dob_text, doe_text),
        expired=(doe < today) if doe is not None else None,
    )


def _check_shape(b: _Builder, layout: Layout, lines: list[str]) -> None:
    bad = False
    for i, line in enumerate(lines):
        if len(line) != layout.line_length:
            bad = True
            b.fail(
                "format",
                f"{layout.name}: line {i + 1} has {len(line)} characters, expected "
                f"{layout.line_length}",
                (i, min(len(line), layout.line_length)),
                "format",
                str(layout.line_length),
                str(len(line)),
            )
    if not bad:
        b.ok("format", f"{layout.name}: {layout.line_count} lines of {layout.line_length}")


def _check_charset(b: _Builder, layout: Layout, work: list[str]) -> None:
    bad = False
    for i, line in enumerate(work):
        for j, ch in enumerate(line):
            if ch not in CHARSET:
                bad = True
                b.fail(
                    "charset",
                    f"character {ch!r} is not an MRZ character (0-9, A-Z, '<')",
                    (i, j),
                    field_name_at(layout, i, j),
                    "0-9, A-Z or <",
                    ch,
                )
    if not bad:
        b.ok("charset", "only 0-9, A-Z and '<'")


def _check_code(b: _Builder, layout: Layout, code: str) -> None:
    line, start, _ = layout.document_code
    first, second = code[0], code[1]
    if first not in layout.code_letters:
        allowed = ", ".join(layout.code_letters)
        b.fail(
            "document_code",
            f"{layout.name} document code must start with {allowed}; found {first!r}",
            (line, start),
            "document_code",
            allowed,
            first,
        )
    elif second not in LETTERS and second != "<":
        b.fail(
            "document_code",
            f"second character of the document code must be a letter or '<'; found {second!r}",
            (line, start + 1),
            "document_code",
            "A-Z or <",
            second,
        )
    else:
        b.ok("document_code", f"document code {code!r}")


def _check_country(b: _Builder, name: str, span: Span) -> str:
    text = b.get(span)
    code = countries.normalise_code(text)
    if countries.is_known(code):
        b.ok(name, f"{code}: {countries.describe(code)}")
    else:
        b.fail(
            name,
            f"{name.replace('_', ' ')} {text!r} is not an ISO 3166-1 alpha-3 or ICAO code",
            (span[0], span[1]),
            name,
            "a known 3-letter code",
            text,
        )
    return code


def _check_name(b: _Builder, layout: Layout) -> tuple[str, str]:
    line, start, _ = layout.name_field
    text = b.get(layout.name_field)
    for j, ch in enumerate(text):
        if ch not in LETTERS and ch != "<":
            b.fail(
                "name",
                f"name holds {ch!r}; names use only A-Z and the filler '<'",
                (line, start + j),
                "name",
                "A-Z or <",
                ch,
            )
    primary_raw, _, secondary_raw = text.partition("<<")
    primary = " ".join(part for part in primary_raw.split("<") if part)
    secondary = " ".join(part for part in secondary_raw.split("<") if part)
    if not primary and "name" not in b.checks:
        b.fail(
            "name",
            "primary identifier (surname) is empty",
            (line, start),
            "name",
            "a surname",
            text[:1],
        )
    if "name" not in b.checks:
        b.ok("name", "names use only A-Z and '<'")
    return primary, secondary


def _check_document_number(b: _Builder, layout: Layout) -> tuple[str, str]:
    """Check the document number (long form included); return it and the optional data."""
    field = b.get(layout.document_number)
    check_span = layout.document_number_check
    optional = b.get(layout.optional_data)
    opt_line, opt_start, _ = layout.optional_data
    if layout.long_number and b.get(check_span) == "<" and optional[:1] not in ("<", ""):
        # ICAO 9303-5 4.2.4 note j (and 9303-6/-7 likewise): a number longer than nine
        # characters continues in the optional data, followed by its check digit and a filler.
        extension = optional.split("<", 1)[0]
        number = field + extension[:-1]
        digit_span = (opt_line, opt_start + len(extension) - 1, opt_start + len(extension))
        b.check_digit("document_number", number, digit_span, "long document number")
        rest = optional[len(extension) :].strip("<")
        return number, rest
    b.check_digit("document_number", field, check_span, "document number")
    return field.rstrip("<"), optional.rstrip("<")


def _check_date(b: _Builder, name: str, span: Span, today: datetime.date) -> datetime.date | None:
    key = name + "_date"
    text = b.get(span)
    line, start, _ = span
    what = name.replace("_", " ")
    if set(text) == {"<"}:
        b.ok(key, f"{what} not given")
        return None
    for j, ch in enumerate(text):
        if ch not in DIGITS:
            b.fail(
                key,
                f"{what} holds {ch!r}; dates are YYMMDD digits",
                (line, start + j),
                name,
                "0-9",
                ch,
            )
            return None
    yy, mm, dd = int(text[0:2]), int(text[2:4]), int(text[4:6])
    if not 1 <= mm <= 12:
        b.fail(
            key,
            f"{what}: month {mm:02d} does not exist",
            (line, start + 2),
            name,
            "01-12",
            text[2:4],
        )
        return None
    year = birth_year(yy, mm, dd, today) if name == "date_of_birth" else expiry_year(yy, today)
    try:
        value = datetime.date(year, mm, dd)
    except ValueError:
        b.fail(
            key,
            f"{what}: day {dd:02d} does not exist in that month",
            (line, start + 4),
            name,
            "a day of that month",
            text[4:6],
        )
        return None
    b.ok(key, f"{what} {value.isoformat()}")
    return value


def _bac_key(number: str, dob: str, doe: str) -> BacKey | None:
    try:
        return BacKey(number or "<", dob, doe)
    except ValueError:
        return None


def _parse_french_id(lines: list[str], today: datetime.date) -> MrzResult:
    """The French national identity card of 1988-2021 (2 x 36, its own layout and check
    digits; see gate.mrz.layout.FRA_ID). It has no expiry date in the MRZ and no chip."""
    length = lay.FRA_ID.line_length
    work = [(line + "<" * length)[:length] for line in lines]
    b = _Builder(None, work)
    bad = [i for i, line in enumerate(lines) if len(line) != length]
    for i in bad:
        b.fail(
            "format",
            f"{lay.FRA_ID_NAME}: line {i + 1} has {len(lines[i])} characters, expected {length}",
            (i, min(len(lines[i]), length)),
            "format",
            str(length),
            str(len(lines[i])),
        )
    if not bad:
        b.ok("format", f"{lay.FRA_ID_NAME}: French identity card 1988-2021, 2 lines of 36")
    charset_ok = True
    for i, line in enumerate(work):
        for j, ch in enumerate(line):
            if ch not in CHARSET:
                charset_ok = False
                b.fail("charset", f"character {ch!r} is not an MRZ character", (i, j), "charset",
                       "0-9, A-Z or <", ch)  # fmt: skip
    if charset_ok:
        b.ok("charset", "only 0-9, A-Z and '<'")
    b.ok("document_code", "document code 'ID'")
    b.ok("issuing_state", f"FRA: {countries.describe('FRA')}")
    surname_text = b.get(lay.FRA_ID_SURNAME)
    given_text = b.get(lay.FRA_ID_GIVEN_NAMES)
    for span, text in ((lay.FRA_ID_SURNAME, surname_text), (lay.FRA_ID_GIVEN_NAMES, given_text)):
        for j, ch in enumerate(text):
            if ch not in LETTERS and ch != "<":
                b.fail("name", f"name holds {ch!r}; names use only A-Z and the filler '<'",
                       (span[0], span[1] + j), "name", "A-Z or <", ch)  # fmt: skip
    primary = " ".join(part for part in surname_text.split("<") if part)
    secondary = " ".join(part for part in given_text.split("<") if part)
    if not primary and "name" not in b.checks:
        b.fail("name", "surname is empty", (0, 5), "name", "a surname", surname_text[:1])
    if "name" not in b.checks:
        b.ok("name", "names use only A-Z and '<'")
    number = b.get(lay.FRA_ID_NUMBER)
    b.check_digit("document_number", number, lay.FRA_ID_NUMBER_CHECK, "card number")
    birth_text = b.get(lay.FRA_ID_BIRTH)
    b.check_digit("date_of_birth", birth_text, lay.FRA_ID_BIRTH_CHECK, "date of birth")
    birth = _check_date(b, "date_of_birth", lay.FRA_ID_BIRTH, today)
    sex = b.get(lay.FRA_ID_SEX)
    if sex in ("M", "F", "X", "<"):
        b.ok("sex", f"sex {sex!r}")
    else:
        b.fail("sex", f"sex is {sex!r}; expected M, F, X or '<'", (1, lay.FRA_ID_SEX[1]), "sex",
               "M, F, X or <", sex)  # fmt: skip
    composite = "".join(b.get(span) for span in lay.FRA_ID_COMPOSITE_SPANS)
    b.check_digit("composite", composite, lay.FRA_ID_COMPOSITE, "both lines")
    fields = MrzFields(
        document_code="ID",
        document_type="identity",
        issuing_state="FRA",
        primary_identifier=primary,
        secondary_identifier=secondary,
        document_number=number.rstrip("<"),
        nationality="FRA",
        date_of_birth=birth,
        date_of_expiry=None,
        sex=sex,
        optional_data=b.get(lay.FRA_ID_OFFICE).rstrip("<"),
    )
    b.errors.sort(key=lambda issue: (issue.line, issue.position))
    return MrzResult(
        format=lay.FRA_ID_NAME,
        lines=tuple(lines),
        valid=all(check.ok for check in b.checks.values()),
        fields=fields,
        checks=b.checks,
        errors=b.errors,
        bac_key=None,  # no chip on this card
        expired=None,  # the MRZ holds no expiry date
    )
