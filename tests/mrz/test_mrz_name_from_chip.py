"""gate.mrz.name_from_chip: the name comes from DG1 and the disagreement is reported."""

from __future__ import annotations

import datetime

import pytest

from gate.mrz import MrzError, name_from_chip, parse

TODAY = datetime.date(2026, 1, 1)
DG1 = [
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
]


def test_same_name_no_disagreement() -> None:
    check = name_from_chip(parse(DG1, today=TODAY), parse(DG1, today=TODAY))
    assert not check.page_disagreed and check.reason is None and check.differences == ()
    assert (check.primary_identifier, check.secondary_identifier) == ("ERIKSSON", "ANNA MARIA")


def test_misread_name_is_taken_from_the_chip_and_reported() -> None:
    page_lines = [DG1[0].replace("ERIKSSON", "ERIKSS0N").replace("ANNA", "ANNL"), DG1[1]]
    page = parse(page_lines, today=TODAY)
    check = name_from_chip(page, parse(DG1, today=TODAY), doubtful=[(1, 12)])
    assert check.page_disagreed and check.reason == "MRZ_NAME_FROM_CHIP"
    assert check.primary_identifier == "ERIKSSON"
    assert check.secondary_identifier == "ANNA MARIA"
    assert [(d.line, d.position, d.page, d.chip, d.flagged) for d in check.differences] == [
        (1, 12, "0", "O", True),
        (1, 19, "L", "A", False),
    ]
    assert check.unflagged == 1
    assert not check.other_fields_differ
    assert check.to_dict()["reason"] == "MRZ_NAME_FROM_CHIP"


def test_other_fields_and_formats() -> None:
    page = parse([DG1[0], DG1[1][:28] + "ZE184226C" + DG1[1][37:]], today=TODAY)
    assert name_from_chip(page, parse(DG1, today=TODAY)).other_fields_differ
    card = parse(
        ["IDFRABERTHIER<<<<<<<<<<<<<<<<<<<<<<<", "9409923102854CORINNE<<<<<<<6512068F4"],
        today=TODAY,
    )
    with pytest.raises(MrzError, match="not the same format"):
        name_from_chip(card, parse(DG1, today=TODAY))
    check = name_from_chip(card, card)
    assert check.secondary_identifier == "CORINNE" and not check.page_disagreed
