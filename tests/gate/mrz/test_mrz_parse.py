"""MRZ parsing and validation against the ICAO Doc 9303 specimens.

Specimens (the fictional Utopian holder Anna Maria Eriksson):
- TD3: ICAO 9303 Part 4, Appendix A (passport data page).
- TD2: ICAO 9303 Part 6, Appendix A.
- TD1: ICAO 9303 Part 5, Appendix A.
- MRV-A and MRV-B: ICAO 9303 Part 7, Appendix A (visa holder born 1940, nationality XXX).
- TD1 and TD2 with a long (12-character) document number: ICAO 9303 Part 11, Appendix D.2
  (Peter John Stevenson, D23145890734), whose MRZ information D23145890734934071279507122 is
  given there.
"""

from __future__ import annotations

import datetime
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.mrz import MrzResult, parse
from tests.conftest import require_testdata

TODAY = datetime.date(2026, 11, 21)

TD3 = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)
TD2 = ("I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "D231458907UTO7408122F1204159<<<<<<<6")
TD1 = (
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
)
MRVA = (
    "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L8988901C4XXX4009078F96121096ZE184226B<<<<<<",
)
MRVB = ("V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "L8988901C4XXX4009078F9612109<<<<<<<<")
TD1_LONG = (
    "I<UTOD23145890<7349<<<<<<<<<<<",
    "3407127M9507122UTO<<<<<<<<<<<2",
    "STEVENSON<<PETER<JOHN<<<<<<<<<",
)
TD2_LONG = ("I<UTOSTEVENSON<<PETER<JOHN<<<<<<<<<<", "D23145890<UTO3407127M95071227349<<<8")


def _p(lines: tuple[str, ...] | list[str] | str) -> MrzResult:
    return parse(lines, today=TODAY)


def _error_at(result: MrzResult, line: int, position: int) -> str:
    fields = [e.field for e in result.errors if (e.line, e.position) == (line, position)]
    assert fields, f"no error at line {line} position {position}: {result.errors}"
    return fields[0]


def test_td3_specimen_every_field() -> None:
    r = _p(TD3)
    assert r.format == "TD3" and r.valid, r.errors
    f = r.fields
    assert (f.document_code, f.document_type, f.issuing_state) == ("P", "passport", "UTO")
    assert (f.primary_identifier, f.secondary_identifier) == ("ERIKSSON", "ANNA MARIA")
    assert f.document_number == "L898902C3"
    assert f.nationality == "UTO"
    assert f.date_of_birth == datetime.date(1974, 8, 12)
    assert f.date_of_expiry == datetime.date(2012, 4, 15)
    assert f.sex == "F"
    assert f.optional_data == "ZE184226B"
    assert r.expired is True
    for name in (
        "document_number",
        "date_of_birth",
        "date_of_expiry",
        "optional_data",
        "composite",
    ):
        assert r.checks[name].ok, name
    assert r.bac_key is not None
    assert r.bac_key.mrz_information() == "L898902C3674081221204159"


@pytest.mark.parametrize(("lines", "fmt"), [(TD2, "TD2"), (TD1, "TD1")])
def test_td1_td2_specimens_every_field(lines: tuple[str, ...], fmt: str) -> None:
    r = _p(lines)
    assert r.format == fmt and r.valid, r.errors
    f = r.fields
    assert (f.document_code, f.document_type, f.issuing_state) == ("I", "identity", "UTO")
    assert (f.primary_identifier, f.secondary_identifier) == ("ERIKSSON", "ANNA MARIA")
    assert f.document_number == "D23145890"
    assert f.nationality == "UTO"
    assert f.date_of_birth == datetime.date(1974, 8, 12)
    assert f.date_of_expiry == datetime.date(2012, 4, 15)
    assert f.sex == "F"
    assert f.optional_data == "" and f.optional_data_2 == ""
    assert r.checks["composite"].ok
    assert "optional_data" not in r.checks  # TD1/TD2 optional data has no own check digit
    assert r.bac_key is not None
    assert r.bac_key.mrz_information() == "D23145890774081221204159"


@pytest.mark.parametrize(
    ("lines", "fmt", "optional"), [(MRVA, "MRVA", "6ZE184226B"), (MRVB, "MRVB", "")]
)
def test_visa_specimens_every_field(lines: tuple[str, ...], fmt: str, optional: str) -> None:
    r = _p(lines)
    assert r.format == fmt and r.valid, r.errors
    f = r.fields
    assert (f.document_code, f.document_type, f.issuing_state) == ("V", "visa", "UTO")
    assert (f.primary_identifier, f.secondary_identifier) == ("ERIKSSON", "ANNA MARIA")
    assert f.document_number == "L8988901C"
    assert f.nationality == "XXX"
    assert f.date_of_birth == datetime.date(1940, 9, 7)
    assert f.date_of_expiry == datetime.date(1996, 12, 10)
    assert f.sex == "F"
    assert f.optional_data == optional
    assert "composite" not in r.checks  # visas have no composite check digit


@pytest.mark.parametrize(("lines", "fmt"), [(TD1_LONG, "TD1"), (TD2_LONG, "TD2")])
def test_long_document_number_icao_9303_11_appendix_d2(lines: tuple[str, ...], fmt: str) -> None:
    r = _p(lines)
    assert r.format == fmt and r.valid, r.errors
    assert r.fields.document_number == "D23145890734"
    assert r.fields.optional_data == ""
    assert r.fields.date_of_birth == datetime.date(1934, 7, 12)
    assert r.fields.date_of_expiry == datetime.date(1995, 7, 12)
    assert r.fields.sex == "M"
    assert r.bac_key is not None
    assert r.bac_key.mrz_information() == "D23145890734934071279507122"


def test_long_number_check_digit_error_points_into_optional_data() -> None:
    bad = (TD1_LONG[0][:18] + "8" + TD1_LONG[0][19:], *TD1_LONG[1:])
    r = _p(bad)
    assert not r.valid
    assert _error_at(r, 1, 19) == "document_number_check"
    assert r.checks["document_number"].expected == "9"
    assert r.checks["document_number"].found == "8"


def test_one_string_with_newlines_and_blank_lines() -> None:
    r = _p("\n  " + TD3[0] + "  \n\n" + TD3[1] + "\n")
    assert r.format == "TD3" and r.valid


def test_masked_document_number_and_json() -> None:
    r = _p(TD3)
    assert r.fields.masked_document_number() == "L8*****C3"
    data = json.loads(json.dumps(r.to_dict()))
    assert data["fields"]["date_of_birth"] == "1974-08-12"
    assert data["fields"]["document_number_masked"] == "L8*****C3"
    assert data["checks"]["composite"]["ok"] is True
    assert data["bac_key"] == {
        "document_number": "L898902C3",
        "date_of_birth": "740812",
        "date_of_expiry": "120415",
    }


def test_document_number_check_digit_error_position() -> None:
    r = _p((TD3[0], TD3[1][:9] + "5" + TD3[1][10:]))
    assert not r.valid
    assert _error_at(r, 2, 10) == "document_number_check"
    check = r.checks["document_number"]
    assert (check.ok, check.expected, check.found) == (False, "6", "5")
    assert not r.checks["composite"].ok  # the check digit is inside the composite too
    assert r.checks["date_of_birth"].ok


def test_month_13_is_an_error_at_the_month() -> None:
    line2 = TD3[1][:15] + "13" + TD3[1][17:]
    r = _p((TD3[0], line2))
    assert _error_at(r, 2, 16) == "date_of_birth"
    assert not r.checks["date_of_birth_date"].ok
    assert r.checks["date_of_birth_date"].found == "13"
    assert r.fields.date_of_birth is None


def test_day_32_and_february_30_are_errors_at_the_day() -> None:
    line2 = TD3[1][:21] + "120230" + TD3[1][27:]
    r = _p((TD3[0], line2))
    assert _error_at(r, 2, 26) == "date_of_expiry"
    assert not r.checks["date_of_expiry_date"].ok


def test_letter_in_date_is_an_error_at_that_column() -> None:
    line2 = TD3[1][:14] + "O" + TD3[1][15:]
    r = _p((TD3[0], line2))
    assert _error_at(r, 2, 15) == "date_of_birth"
    assert not r.valid


def test_century_rules() -> None:
    # Birth: the century that keeps the date in the past.
    r = _p((TD3[0], "L898902C36UTO2611210F1204159ZE184226B<<<<<<0"))
    assert r.fields.date_of_birth == datetime.date(2026, 11, 21)  # today itself is the past
    r = _p((TD3[0], "L898902C36UTO2611220F1204159ZE184226B<<<<<<0"))
    assert r.fields.date_of_birth == datetime.date(1926, 11, 22)  # tomorrow -> 1926
    # Expiry: up to 20 years ahead, otherwise the previous century.
    r = _p((TD3[0], "L898902C36UTO7408122F4612312ZE184226B<<<<<<0"))
    assert r.fields.date_of_expiry == datetime.date(2046, 12, 31)
    r = _p((TD3[0], "L898902C36UTO7408122F4701011ZE184226B<<<<<<0"))
    assert r.fields.date_of_expiry == datetime.date(1947, 1, 1)


def test_unknown_country_and_special_codes() -> None:
    r = _p(("P<ZZZERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", TD3[1]))
    assert not r.valid and not r.checks["issuing_state"].ok
    assert _error_at(r, 1, 3) == "issuing_state"
    assert "ZZZ" in r.checks["issuing_state"].message
    for code in (
        "D<<",
        "GBD",
        "GBN",
        "GBO",
        "GBP",
        "GBS",
        "UNO",
        "UNA",
        "UNK",
        "XOM",
        "XXA",
        "XXB",
        "XXC",
        "XXX",
        "EUE",
        "DEU",
        "NLD",
    ):
        line1 = "P<" + code + TD3[0][5:]
        r = _p((line1, TD3[1][:10] + code + TD3[1][13:]))
        assert r.checks["issuing_state"].ok and r.checks["nationality"].ok, code
        assert r.fields.issuing_state == code.rstrip("<")
        assert r.valid, (code, r.errors)  # neither code is under a check digit


def test_bad_sex_and_bad_document_code() -> None:
    r = _p(("X<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", TD3[1][:20] + "Q" + TD3[1][21:]))
    assert _error_at(r, 1, 1) == "document_code"
    assert _error_at(r, 2, 21) == "sex"
    assert not r.checks["sex"].ok and not r.checks["document_code"].ok


def test_digit_in_name_is_an_error() -> None:
    r = _p(("P<UTOER1KSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", TD3[1]))
    assert _error_at(r, 1, 8) == "name"
    assert not r.valid


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "hello",
        ["P<UTO", "L898"],
        ["a" * 44, "b" * 44],
        ["\x00" * 30] * 3,
        ["é" * 36, "€" * 36],
        ["<" * 44, "<" * 44],
        ["1", "2", "3", "4"],
        [TD3[0], TD3[1] + "<<"],
    ],
)
def test_garbage_never_raises(garbage: str | list[str]) -> None:
    r = _p(garbage)
    assert not r.valid
    assert r.errors
    json.dumps(r.to_dict())


def test_wrong_length_reports_the_line() -> None:
    r = _p((TD3[0], TD3[1][:-1]))
    assert r.format == "TD3" and not r.valid
    assert _error_at(r, 2, 44) == "format"
    assert r.checks["format"].expected == "44"
    assert r.checks["format"].found == "43"


def test_invalid_character_reported_with_position() -> None:
    r = _p((TD3[0], TD3[1][:30] + "#" + TD3[1][31:]))
    assert _error_at(r, 2, 31) == "optional_data"
    assert not r.checks["charset"].ok


def test_today_default_is_used_only_outside() -> None:
    assert parse(TD3).fields.date_of_birth == datetime.date(1974, 8, 12)


def test_specimens_agree_with_passporteye_ground_truth() -> None:
    # Independent ground truth: the fields PassportEye's tests assert for the ICAO specimen
    # pages (shared/testdata/mrz_documents/passporteye/expected.json, PROVENANCE.md there).
    path = require_testdata("mrz_documents", "passporteye", "expected.json")
    expected = json.loads(path.read_text())["expected"]
    for image, lines in (("passport-td3.png", TD3), ("passport-td2.png", TD2)):
        want = expected[image]
        r = _p(lines)
        assert r.valid and r.format == want["mrz_type"]
        assert r.lines[0][:2] == want["type"]
        assert r.fields.issuing_state == want["country"]
        assert r.fields.document_number == want["number"]
        assert r.bac_key is not None
        assert r.bac_key.date_of_birth == want["date_of_birth"]
        assert r.bac_key.date_of_expiry == want["expiration_date"]
        assert r.fields.nationality == want["nationality"]
        assert r.fields.sex == want["sex"]
        assert r.fields.secondary_identifier == want["names"]
        assert r.fields.primary_identifier == want["surname"]
        line2 = r.lines[1]
        assert line2[9] == want["check_number"]
        assert line2[19] == want["check_date_of_birth"]
        assert line2[27] == want["check_expiration_date"]
        assert line2[-1] == want["check_composite"]


@pytest.mark.parametrize(
    ("lines", "fmt"), [(TD3, "TD3"), (TD2, "TD2"), (TD1, "TD1"), (MRVA, "MRVA")]
)
def test_mrz_written_as_one_run(lines: tuple[str, ...], fmt: str) -> None:
    r = _p("".join(lines))
    assert r.format == fmt and r.valid and r.lines == lines


def test_mask_short_and_long_numbers() -> None:
    from gate.mrz import mask_document_number

    assert mask_document_number("D23145890734") == "D2********34"
    assert mask_document_number("AB12") == "****"
    assert mask_document_number("") == ""


@settings(max_examples=200)
@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<", max_size=40), st.integers(0, 40))
def test_one_check_digit_table_for_parser_repair_and_keys(data: str, at: int) -> None:
    from gate.mrz import checkdigit, parser

    # the ICAO 9303-3 4.9 worked example, then agreement between the strict and lenient forms
    assert checkdigit.check_digit("L898902C3") == "6"
    assert parser.safe_check_digit(data) == checkdigit.check_digit(data)
    assert all(parser.char_value(ch) == checkdigit.char_value(ch) for ch in data)
    bad = data[:at] + "a" + data[at:]
    assert parser.safe_check_digit(bad) is None and parser.char_value("a") is None
    with pytest.raises(ValueError, match="'a' is not an MRZ character"):
        checkdigit.check_digit(bad)


def test_check_digit_messages_do_not_repeat_personal_data() -> None:
    # ICAO 9303-4 specimen with the document number's and the composite check digits broken
    lines = [
        "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
        "L898902C35UTO7408122F1204159ZE184226B<<<<<11",
    ]
    result = parse(lines, today=datetime.date(2010, 1, 1))
    assert not result.valid
    fields = {issue.field for issue in result.errors}
    assert {"document_number_check", "composite_check"} <= fields
    for issue in result.errors:
        text = str(issue) + issue.message
        assert "L898902C3" not in text and "740812" not in text and "120415" not in text
    bad_date = [lines[0], lines[1][:13] + "741312" + lines[1][19:]]  # month 13
    for issue in parse(bad_date, today=datetime.date(2010, 1, 1)).errors:
        assert "741312" not in str(issue)
