"""One per-position MRZ model (gate.mrz.layout) for parser, OCR and chip access; the French
identity card of 1988-2021; check digits a document does not print, named."""

from __future__ import annotations

import datetime

import pytest

from gate.emrtd.access.access import mrz_information
from gate.mrz import check_digit, parse
from gate.mrz import layout as lay
from gate.mrz.keys import BacKey

TODAY = datetime.date(2026, 1, 1)
TD3_LINES = [
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
]
TD1_LONG = [
    "I<UTOD23145890<7349<<<<<<<<<<<",
    "3407127M9507122UTO<<<<<<<<<<<2",
    "STEVENSON<<PETER<JOHN<<<<<<<<<",
]
FRA_ID = ["IDFRABERTHIER<<<<<<<<<<<<<<<<<<<<<<<", "9409923102854CORINNE<<<<<<<6512068F4"]
AUSTRIA = [
    "IDAUT000009993<<<<<<<<<<<<<<<<",
    "7109094F111231AUT<<<<<<<<<<<<0",
    "MUSTERFRAU<<ISOLDE<<<<<<<<<<<<",
]


def test_td3_positions_follow_the_field_spans() -> None:
    pos = lay.positions(lay.TD3)
    assert (pos.line_count, pos.line_length) == (2, 44)
    assert pos.classes[0][0] == "P"
    assert pos.classes[1][13] == lay.DIGITS  # date of birth
    assert pos.classes[1][20] == lay.SEX
    assert pos.classes[1][0] == lay.ALNUM  # document number
    assert pos.classes[1][42] == lay.DIGIT_OR_FILLER  # personal number check may be '<'
    names = [c.name for c in pos.checks]
    assert names == ["document_number", "date_of_birth", "date_of_expiry", "optional_data",
                     "composite"]  # fmt: skip
    assert pos.field_of(1, 9) == "document_number_check"
    assert pos.field_of(0, 10) == "name"
    # every check of the model agrees with the parser on a valid MRZ
    for check in pos.checks:
        data = "".join(TD3_LINES[r][s:e] for r, s, e in check.spans)
        digit = TD3_LINES[check.digit[0]][check.digit[1]]
        assert digit == "<" or check_digit(data) == digit


def test_visa_has_no_composite_and_td1_number_check_may_be_a_filler() -> None:
    visa = lay.positions_for(2, 44, "V<UTO")
    assert visa is not None and visa.name == "MRVA"
    assert "composite" not in [c.name for c in visa.checks]
    td1 = lay.positions_for(3, 30, "I<UTO")
    assert td1 is not None
    number = next(c for c in td1.checks if c.name == "document_number")
    assert number.long_number and td1.classes[0][14] == lay.DIGIT_OR_FILLER
    assert lay.positions_for(2, 36, "IDFRA") is lay.FRA_ID
    assert lay.positions_for(2, 36, "I<UTO") is not None
    assert lay.positions_for(4, 30, "I<UTO") is None


def test_chip_access_cuts_the_mrz_through_gate_mrz() -> None:
    assert mrz_information("\n".join(TD3_LINES)) == "L898902C3674081221204159"
    # ICAO 9303-11 D.2: the long number continues in the optional data with its check digit
    assert mrz_information("".join(TD1_LONG)) == "D23145890734934071279507122"
    key = parse(TD1_LONG, today=TODAY).bac_key
    assert key == BacKey("D23145890734", "340712", "950712")
    assert lay.printed_mrz_information(TD1_LONG) == key.mrz_information()
    with pytest.raises(ValueError, match="no document number"):
        lay.printed_mrz_information(FRA_ID)
    with pytest.raises(ValueError, match="88"):
        mrz_information("P<UTO" * 3)


def test_french_identity_card_is_its_own_format() -> None:
    result = parse(FRA_ID, today=TODAY)
    assert result.format == "FRA-ID"
    assert result.valid, result.errors
    f = result.fields
    assert (f.primary_identifier, f.secondary_identifier) == ("BERTHIER", "CORINNE")
    assert f.document_number == "940992310285"
    assert f.date_of_birth == datetime.date(1965, 12, 6)
    assert f.sex == "F" and f.date_of_expiry is None and result.bac_key is None
    assert set(result.checks) >= {"document_number", "date_of_birth", "composite"}


@pytest.mark.parametrize(
    ("line", "col", "new", "check"),
    [(1, 3, "8", "document_number"), (1, 30, "7", "date_of_birth"), (0, 7, "X", "composite")],
)
def test_french_identity_card_check_digits(line: int, col: int, new: str, check: str) -> None:
    lines = list(FRA_ID)
    lines[line] = lines[line][:col] + new + lines[line][col + 1 :]
    result = parse(lines, today=TODAY)
    assert result.format == "FRA-ID" and not result.valid
    assert not result.checks[check].ok


def test_austrian_card_without_two_check_digits_names_them() -> None:
    result = parse(AUSTRIA, today=TODAY)
    assert not result.valid
    assert result.missing_checks == ["document_number", "date_of_expiry"]
    assert result.checks["date_of_birth"].ok
    assert "check digit missing" in result.checks["date_of_expiry"].message
    assert result.to_dict()["missing_checks"] == ["document_number", "date_of_expiry"]
    # a wrong digit is not a missing one
    wrong = parse([TD3_LINES[0], TD3_LINES[1][:9] + "7" + TD3_LINES[1][10:]], today=TODAY)
    assert wrong.missing_checks == [] and not wrong.checks["document_number"].ok


def test_bac_spans_for_the_bench() -> None:
    assert lay.bac_spans(TD3_LINES) == ("L898902C3", "740812", "120415")
    assert lay.bac_spans(TD1_LONG) == ("D23145890734", "340712", "950712")
    assert lay.bac_spans(FRA_ID) is None
