"""gate.mrz.reading: the page reader's doubts feed name_from_chip without importing a driver."""

from __future__ import annotations

from gate.mrz import Doubt, Reading, doubt_positions, name_from_chip, parse

PAGE = [
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
]


def test_doubts_mark_which_name_differences_the_reader_had_flagged() -> None:
    misread = [PAGE[0][:9] + "L" + PAGE[0][10:17] + "F" + PAGE[0][18:], PAGE[1]]
    doubts = [Doubt(1, 10, "name", "L", 0.55, (("S", 0.4),))]  # only the first was doubted
    check = name_from_chip(parse(misread), parse(PAGE), doubtful=doubt_positions(doubts))
    assert check.page_disagreed and not check.other_fields_differ
    assert [(d.position, d.flagged) for d in check.differences] == [(10, True), (18, False)]
    assert check.unflagged == 1


def test_reading_and_doubt_serialise_with_their_bac_key() -> None:
    parsed = parse(PAGE)
    reading = Reading(tuple(PAGE), 0.25, parsed.bac_key)
    assert reading.to_dict()["bac_key"] == {
        "document_number": "L898902C3",
        "date_of_birth": "740812",
        "date_of_expiry": "120415",
    }
    doubt = Doubt(1, 10, "name", "L", 0.55123, (("S", 0.40004),)).to_dict()
    assert doubt["confidence"] == 0.5512 and doubt["alternatives"] == [["S", 0.4]]
