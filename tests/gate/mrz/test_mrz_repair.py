"""OCR repair and validation properties on generated MRZs of every format.

The generator builds MRZs from the field layouts of ICAO Doc 9303 Parts 4-7, restated here
independently of gate.mrz.layout, with check digits from gate.mrz.checkdigit (itself tested
against the ICAO worked examples).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate.mrz import CONFUSION_SETS, bac_keys, check_digit, parse, repair
from gate.mrz.checkdigit import char_value

TODAY = datetime.date(2026, 11, 21)
DIGITS = "0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ALNUM = DIGITS + LETTERS
CHARSET = ALNUM + "<"
PARTNERS = {ch: group.replace(ch, "") for group in CONFUSION_SETS for ch in group}
COUNTRIES = ["UTO", "D<<", "NLD", "GBR", "GBD", "XXA", "UNO", "EUE", "FRA", "BEL", "XOM", "USA"]
FORMATS = ["TD1", "TD2", "TD3", "MRVA", "MRVB"]
SETTINGS = settings(
    max_examples=int(os.environ.get("EGATE_MRZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Doc:
    fmt: str
    lines: tuple[str, ...]
    number: str
    dob: datetime.date
    doe: datetime.date
    # (line, col) -> class: "alnum", "digit", "alpha", "sex", "code"; and the protected set
    classes: dict[tuple[int, int], str]
    protected: frozenset[tuple[int, int]]


def _yymmdd(d: datetime.date) -> str:
    return d.strftime("%y%m%d")


def _name(surname: str, given: list[str], width: int) -> str:
    return (surname + "<<" + "<".join(given)).ljust(width, "<")[:width]


def build(
    fmt: str,
    number: str,
    state: str,
    nationality: str,
    surname: str,
    given_names: list[str],
    dob: datetime.date,
    doe: datetime.date,
    sex: str,
    optional: str,
    optional2: str,
) -> Doc:
    classes: dict[tuple[int, int], str] = {}
    protected: set[tuple[int, int]] = set()

    def mark(line: int, start: int, end: int, kind: str, prot: bool) -> None:
        for col in range(start, end):
            classes[(line, col)] = kind
            if prot:
                protected.add((line, col))

    b, e = _yymmdd(dob), _yymmdd(doe)
    code = {"TD1": "I<", "TD2": "I<", "TD3": "P<", "MRVA": "V<", "MRVB": "V<"}[fmt]
    if fmt == "TD1":
        if len(number) > 9:  # ICAO 9303-5 long document number
            ext = number[9:] + check_digit(number)
            field, cd, opt1 = number[:9], "<", (ext + "<" + optional).ljust(15, "<")[:15]
        else:
            field, cd, opt1 = (
                number.ljust(9, "<"),
                check_digit(number.ljust(9, "<")),
                optional.ljust(15, "<")[:15],
            )
        l1 = code + state + field + cd + opt1
        l2a = (
            b
            + check_digit(b)
            + sex
            + e
            + check_digit(e)
            + nationality
            + optional2.ljust(11, "<")[:11]
        )
        l2 = l2a + check_digit(l1[5:30] + l2a[0:7] + l2a[8:15] + l2a[18:29])
        l3 = _name(surname, given_names, 30)
        lines = (l1, l2, l3)
        mark(0, 0, 1, "code", False)
        mark(0, 1, 2, "alpha", False)
        mark(0, 2, 5, "alpha", False)
        mark(0, 5, 14, "alnum", True)
        mark(0, 14, 15, "digit", True)
        mark(0, 15, 30, "alnum", True)
        mark(1, 0, 7, "digit", True)
        mark(1, 7, 8, "sex", False)
        mark(1, 8, 15, "digit", True)
        mark(1, 15, 18, "alpha", False)
        mark(1, 18, 29, "alnum", True)
        mark(1, 29, 30, "digit", True)
        mark(2, 0, 30, "alpha", False)
        if len(number) > 9:
            classes[(0, 14)] = "filler"
            classes[(0, 15 + len(ext) - 1)] = "digit"
    else:
        width = 44 if fmt in ("TD3", "MRVA") else 36
        opt_len = {"TD3": 14, "MRVA": 16, "TD2": 7, "MRVB": 8}[fmt]
        if len(number) > 9:
            ext = number[9:] + check_digit(number)
            field, cd, opt = number[:9], "<", (ext + "<" + optional).ljust(opt_len, "<")[:opt_len]
        else:
            field, cd, opt = (
                number.ljust(9, "<"),
                check_digit(number.ljust(9, "<")),
                optional.ljust(opt_len, "<")[:opt_len],
            )
        l1 = code + state + _name(surname, given_names, width - 5)
        l2 = field + cd + nationality + b + check_digit(b) + sex + e + check_digit(e) + opt
        if fmt == "TD3":
            l2 += check_digit(opt)
        if fmt in ("TD3", "TD2"):
            l2 += check_digit(l2[0:10] + l2[13:20] + l2[21:])
        lines = (l1, l2)
        composite = fmt in ("TD3", "TD2")
        mark(0, 0, 1, "code", False)
        mark(0, 1, 2, "alpha", False)
        mark(0, 2, 5, "alpha", False)
        mark(0, 5, width, "alpha", False)
        mark(1, 0, 9, "alnum", True)
        mark(1, 9, 10, "digit", True)
        mark(1, 10, 13, "alpha", False)
        mark(1, 13, 20, "digit", True)
        mark(1, 20, 21, "sex", False)
        mark(1, 21, 28, "digit", True)
        mark(1, 28, 28 + opt_len, "alnum", composite or fmt == "TD3")
        if fmt == "TD3":
            mark(1, 42, 43, "digit", True)
        if composite:
            mark(1, width - 1, width, "digit", True)
        if len(number) > 9:
            classes[(1, 9)] = "filler"
            classes[(1, 28 + len(ext) - 1)] = "digit"
            for col in range(28, 28 + len(ext)):
                protected.add((1, col))
    return Doc(fmt, lines, number, dob, doe, classes, frozenset(protected))


@st.composite
def documents(draw: st.DrawFn, fmt: str | None = None) -> Doc:
    fmt = fmt or draw(st.sampled_from(FORMATS))
    max_len = 9 if fmt == "TD3" else 12
    number = draw(st.text(ALNUM, min_size=1, max_size=max_len))
    opt_room = {"TD1": 15, "TD2": 7, "TD3": 14, "MRVA": 16, "MRVB": 8}[fmt]
    if len(number) > 9:
        opt_room -= len(number) - 9 + 2
    optional = draw(st.text(ALNUM + "<", max_size=max(opt_room, 0)))
    if len(number) > 9 or fmt != "TD3":
        optional = optional.lstrip("<")  # long numbers: data follows the extension's filler
        if len(number) <= 9:
            optional = draw(st.sampled_from(["", optional]))
    return build(
        fmt,
        number,
        draw(st.sampled_from(COUNTRIES)),
        draw(st.sampled_from(COUNTRIES)),
        draw(st.text(LETTERS, min_size=1, max_size=10)),
        draw(st.lists(st.text(LETTERS, min_size=1, max_size=8), max_size=2)),
        draw(st.dates(datetime.date(1930, 1, 1), TODAY)),
        draw(st.dates(datetime.date(2015, 1, 1), datetime.date(2045, 12, 31))),
        draw(st.sampled_from("MFX<")),
        optional,
        draw(st.text(ALNUM + "<", max_size=11)) if fmt == "TD1" else "",
    )


def _replace(lines: tuple[str, ...], line: int, col: int, ch: str) -> tuple[str, ...]:
    out = list(lines)
    out[line] = out[line][:col] + ch + out[line][col + 1 :]
    return tuple(out)


def _forbidden(kind: str, ch: str) -> bool:
    allowed = {
        "alnum": CHARSET,
        "digit": DIGITS,
        "alpha": LETTERS + "<",
        "sex": "MFX<",
        "code": "ACIPV",
        "filler": "<",
    }[kind]
    return ch not in allowed


def _invisible(old: str, new: str) -> bool:
    """Check digits (weights 7, 3, 1 modulo 10) cannot see a swap whose values differ by a
    multiple of ten: '<'/K, 6/G and 1/L."""
    return (char_value(new) - char_value(old)) % 10 == 0


@SETTINGS
@given(documents())
def test_generated_mrz_is_valid_and_round_trips(doc: Doc) -> None:
    r = parse(doc.lines, today=TODAY)
    assert r.valid, (doc.lines, r.errors)
    assert r.format == doc.fmt
    assert r.fields.document_number == doc.number
    assert r.fields.date_of_birth == doc.dob
    assert r.fields.date_of_expiry == doc.doe
    assert r.bac_key is not None
    assert r.bac_key.document_number.rstrip("<") == doc.number
    cands = repair(doc.lines, today=TODAY)
    # The as-read BAC key is tried first. The as-read lines may rank second only when a 'K'
    # stands among fillers in the optional data (read as '<' first: check digits cannot tell).
    assert cands[0].bac_key == r.bac_key
    assert doc.lines in [c.lines for c in cands[:2]]
    if "K" not in doc.lines[-1 if doc.fmt != "TD1" else 0] + doc.lines[1]:
        assert cands[0].lines == doc.lines and cands[0].score == 0 and cands[0].changes == []
    assert all(c.result.valid for c in cands)
    assert [c.score for c in cands] == sorted(c.score for c in cands)


@SETTINGS
@given(documents(), st.data())
def test_confusion_corruption_is_caught_and_repaired(doc: Doc, data: st.DataObject) -> None:
    spots = [
        (pos, p)
        for pos, kind in doc.classes.items()
        for p in PARTNERS.get(doc.lines[pos[0]][pos[1]], "")
    ]
    (line, col), new = data.draw(st.sampled_from(spots))
    old = doc.lines[line][col]
    bad = _replace(doc.lines, line, col, new)
    r = parse(bad, today=TODAY)
    kind = doc.classes[(line, col)]
    if _forbidden(kind, new):
        # The field's character class catches it (a letter in a date, a digit in a name...).
        assert not r.valid, (bad, kind)
    elif (line, col) in doc.protected and not _invisible(old, new):
        assert not r.valid, bad
        wrong = [e for e in r.errors if e.field.endswith("_check")]
        assert wrong, r.errors
    if r.valid and (line, col) in doc.protected:
        assert _invisible(old, new) or not _forbidden(kind, new)
    # Repair proposes the original among its first candidates whenever the corruption is
    # visible (a check digit or the character class catches it). A name turned into fillers
    # ('K' read as '<' in a one-letter surname) is caught, but names have no check digit to
    # tell which filler was a letter: documented limit.
    name_filler = kind == "alpha" and {old, new} == {"<", "K"}
    if not r.valid and not name_filler:
        cands = repair(bad, today=TODAY, max_candidates=10)
        assert doc.lines in [c.lines for c in cands], (doc.lines, bad, [c.lines for c in cands])
        good = next(c for c in cands if c.lines == doc.lines)
        assert (line + 1, col + 1, new, old) in good.changes
        assert good.bac_key == parse(doc.lines, today=TODAY).bac_key


@SETTINGS
@given(documents(), st.data())
def test_any_single_substitution_under_a_check_digit_is_caught(
    doc: Doc, data: st.DataObject
) -> None:
    spots = sorted(doc.protected)
    line, col = data.draw(st.sampled_from(spots))
    old = doc.lines[line][col]
    new = data.draw(st.sampled_from([c for c in CHARSET if c != old]))
    r = parse(_replace(doc.lines, line, col, new), today=TODAY)
    if r.valid:
        # Only a value difference that is a multiple of ten escapes the 7-3-1 weights.
        assert _invisible(old, new)
        assert not _forbidden(doc.classes[(line, col)], new)


@SETTINGS
@given(documents(), st.data())
def test_arbitrary_corruption_never_crashes(doc: Doc, data: st.DataObject) -> None:
    line = data.draw(st.integers(0, len(doc.lines) - 1))
    col = data.draw(st.integers(0, len(doc.lines[line]) - 1))
    new = data.draw(st.characters(codec="utf-8", exclude_categories=["Cs"]))
    bad = _replace(doc.lines, line, col, new)
    r = parse(bad, today=TODAY)
    r.to_dict()
    for cand in repair(bad, today=TODAY):
        assert cand.result.lines == cand.lines


def test_check_digit_blind_spots_give_candidates_even_when_valid() -> None:
    # 6 and G weigh 6 and 16: check digits cannot tell them apart in a document number.
    doc = build(
        "TD3",
        "AB1234G6",
        "UTO",
        "UTO",
        "ERIKSSON",
        ["ANNA"],
        datetime.date(1974, 8, 12),
        datetime.date(2030, 1, 1),
        "F",
        "",
        "",
    )
    r = parse(doc.lines, today=TODAY)
    assert r.valid
    cands = repair(doc.lines, today=TODAY)
    numbers = [k.document_number for k in bac_keys(cands)]
    assert numbers[0] == "AB1234G6"
    assert "AB123466" in numbers and "AB1234GG" in numbers
    assert len(numbers) == len(set(numbers))


def test_repair_restores_icao_specimen_after_typical_ocr_errors() -> None:
    bad = (
        "P<UT0ERIKSSON<<ANNA<MARIA<<<<<KK<<<<<<<<<<<<",
        "L8989O2C36UT074O8122F12O4159ZE184226B<<<<<1O",
    )
    cands = repair(bad, today=TODAY)
    assert cands[0].lines == (
        "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
        "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
    )
    assert cands[0].result.valid
    assert cands[0].bac_key is not None
    assert cands[0].bac_key.mrz_information() == "L898902C3674081221204159"


def test_repair_long_number_whose_filler_was_read_as_k() -> None:
    good = (
        "I<UTOD23145890<7349<<<<<<<<<<<",
        "3407127M9507122UTO<<<<<<<<<<<2",
        "STEVENSON<<PETER<JOHN<<<<<<<<<",
    )
    bad = ("I<UTOD23145890K7349<<<<<<<<<<<", *good[1:])
    assert not parse(bad, today=TODAY).valid
    cands = repair(bad, today=TODAY)
    assert cands[0].lines == good
    assert cands[0].bac_key is not None
    assert cands[0].bac_key.document_number == "D23145890734"


def test_wrong_length_and_lowercase_are_normalised() -> None:
    good = ("I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "D231458907UTO7408122F1204159<<<<<<<6")
    cands = repair((good[0][:-2].lower(), good[1]), today=TODAY)
    assert cands and cands[0].lines == good
    assert (1, 35, "", "<") in cands[0].changes


@pytest.mark.parametrize("garbage", ["", "x", "#" * 88, ["#" * 44, "#" * 44], ["1", "2", "3", "4"]])
def test_repair_of_garbage_is_empty_not_an_exception(garbage: str | list[str]) -> None:
    assert repair(garbage, today=TODAY) == []


def test_max_candidates_is_respected_and_scores_ascend() -> None:
    doc = build(
        "TD1",
        "AB1234G61",
        "UTO",
        "UTO",
        "ERIKSSON",
        ["ANNA"],
        datetime.date(1974, 8, 12),
        datetime.date(2030, 1, 1),
        "F",
        "L1<6G",
        "K1<",
    )
    for n in (1, 3, 10):
        cands = repair(doc.lines, today=TODAY, max_candidates=n)
        assert 1 <= len(cands) <= n
        assert cands[0].lines == doc.lines
        assert [c.score for c in cands] == sorted(c.score for c in cands)
    assert repair(doc.lines, today=TODAY, max_candidates=0) == []
