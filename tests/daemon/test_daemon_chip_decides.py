"""The chip decides what the page OCR could not (gate.daemon.work.confirm_with_chip): the name
from DG1 when the page OCR misread it (no check digit protects a name), and the reading that
opened the chip when several pass every check digit. Warnings (MRZ_NAME_FROM_CHIP,
MRZ_AMBIGUOUS), not "the page or the chip was replaced"."""

from __future__ import annotations

from functools import lru_cache

import pytest

from gate.daemon import work
from gate.emrtd.pki.trust import TrustStore
from simulator.chip.builder import SPECIMEN_MRZ
from simulator.chip.card import VirtualChip
from simulator.chip.image import ChipImage
from simulator.chip.transport import InProcessTransport
from simulator.passports import build_passport
from simulator.pki import TEST_PKI_EPOCH, shared_test_pki

PRINTED = (SPECIMEN_MRZ[:44], SPECIMEN_MRZ[44:])
WALL = TEST_PKI_EPOCH


@lru_cache(maxsize=1)
def _chip() -> tuple[ChipImage, TrustStore]:
    """A genuine chip of the specimen MRZ signed by the shared test PKI, and its trust store."""
    pki = shared_test_pki()
    store = TrustStore()
    for csca in pki.cscas:
        store.import_bytes(csca.der, source="test-csca", now=TEST_PKI_EPOCH)
    return build_passport(SPECIMEN_MRZ, pki.dsc_p256, aa_kind="p256"), store


class Slot:
    def connect(self, timeout: float) -> InProcessTransport:
        return InProcessTransport(VirtualChip(_chip()[0]))


def _through_the_chip(lines: tuple[str, ...]) -> tuple[work.Transaction, tuple[str, ...]]:
    tx = work.Transaction("t1", lines, 0.0, WALL)
    assert work.read_mrz(tx, WALL.date(), lambda: 0.0).document is not None
    assert work.read_chip(tx, Slot(), 1.0, lambda: 0.0).ok
    verified = work.verify_document(tx, _chip()[1], WALL, lambda: 0.0)
    # the chip is genuine (signed by a trusted DSC; no CRL is loaded): only the page differs
    assert [c for c in verified.reasons if c.startswith("PA_")] == ["PA_CRL_MISSING"]
    return tx, verified.reasons


def _with(line: str, position: int, char: str) -> str:
    return line[:position] + char + line[position + 1 :]


@pytest.mark.parametrize(
    "misread",
    [
        (_with(PRINTED[0], 9, "L"), PRINTED[1]),  # ERIKSSON -> ERIKSLON (I/L kind of slip)
        (_with(_with(PRINTED[0], 17, "F"), 19, "L"), PRINTED[1]),  # ANNA -> FNLA
    ],
)
def test_misread_name_is_taken_from_dg1_and_reported(misread: tuple[str, str]) -> None:
    tx, reasons = _through_the_chip(misread)
    assert "MRZ_NAME_FROM_CHIP" in reasons
    assert "MRZ_DG1_MISMATCH" not in reasons
    assert tx.mrz_lines == PRINTED and tx.mrz == SPECIMEN_MRZ  # screening uses DG1's name
    assert tx.verdicts["document"][1].count("MRZ_NAME_FROM_CHIP") == 1


def test_agreeing_page_reports_nothing_more() -> None:
    tx, reasons = _through_the_chip(PRINTED)
    assert "MRZ_NAME_FROM_CHIP" not in reasons and "MRZ_DG1_MISMATCH" not in reasons
    assert tx.chip_corrections == ()


def test_another_name_is_a_mismatch_not_a_correction() -> None:
    other = PRINTED[0][:5] + "SMITH<<JOHN".ljust(39, "<")
    tx, reasons = _through_the_chip((other, PRINTED[1]))
    assert "MRZ_DG1_MISMATCH" in reasons and "MRZ_NAME_FROM_CHIP" not in reasons
    assert tx.mrz_lines == (other, PRINTED[1])


def test_a_difference_outside_the_name_is_still_a_mismatch() -> None:
    # optional data differs (its check digit and the composite recomputed: a valid page)
    from gate.mrz.checkdigit import check_digit

    line2 = PRINTED[1][:28] + "ZE184227B<<<<<"
    line2 = line2[:42] + check_digit(line2[28:42]) + line2[43:]
    composite = line2[0:10] + line2[13:20] + line2[21:43]
    line2 = line2[:43] + check_digit(composite)
    _, reasons = _through_the_chip((_with(PRINTED[0], 9, "L"), line2))
    assert "MRZ_DG1_MISMATCH" in reasons and "MRZ_NAME_FROM_CHIP" not in reasons


def test_valid_but_wrong_number_is_decided_by_the_chip() -> None:
    # L = 21 and 1 = 1 weigh the same modulo 10: '1898902C3' passes the number's check digit
    page = (PRINTED[0], "1" + PRINTED[1][1:])
    tx, reasons = _through_the_chip(page)
    assert "MRZ_AMBIGUOUS" in reasons and "MRZ_DG1_MISMATCH" not in reasons
    assert tx.mrz_lines == PRINTED
    assert tx.facts is not None and tx.facts.masked_number.startswith("L")


def test_valid_but_wrong_number_and_misread_name_together() -> None:
    page = (_with(PRINTED[0], 9, "L"), "1" + PRINTED[1][1:])
    tx, reasons = _through_the_chip(page)
    assert {"MRZ_AMBIGUOUS", "MRZ_NAME_FROM_CHIP"} <= set(reasons)
    assert "MRZ_DG1_MISMATCH" not in reasons and tx.mrz_lines == PRINTED


def test_page_reader_doubtful_flags_reach_the_name_check(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The doubtful positions a page reader sends are passed to name_from_chip: the log counts
    the differences it had not flagged; a reader that sends lines only is named as such."""
    seen: list[list[tuple[int, int]]] = []
    real = work.name_from_chip

    def spy(page, dg1, doubtful=()):  # type: ignore[no-untyped-def]
        seen.append(list(doubtful))
        return real(page, dg1, doubtful)

    monkeypatch.setattr(work, "name_from_chip", spy)
    misread = (_with(_with(PRINTED[0], 17, "F"), 19, "L"), PRINTED[1])  # ANNA -> FNLA
    caplog.set_level("INFO", logger=work.__name__)
    tx = work.Transaction("t1", misread, 0.0, WALL, doubtful=((1, 18),))
    assert work.read_mrz(tx, WALL.date(), lambda: 0.0).document is not None
    assert work.read_chip(tx, Slot(), 1.0, lambda: 0.0).ok
    assert seen == [[(1, 18)]]
    assert work.NAME_FROM_CHIP in tx.chip_corrections
    assert "1 not flagged doubtful" in caplog.text  # position 20 was not flagged
    caplog.clear()
    tx = work.Transaction("t2", misread, 0.0, WALL)  # a serial reader: lines only
    work.read_mrz(tx, WALL.date(), lambda: 0.0)
    assert work.read_chip(tx, Slot(), 1.0, lambda: 0.0).ok
    assert seen[-1] == []
    assert "the reader sent no doubtful flags" in caplog.text


def test_french_identity_card_keeps_its_format_in_the_lane() -> None:
    """FRA-ID (1988-2021, 2 x 36) is its own format in the lane's facts, not TD3."""
    lines = ["IDFRABERTHIER<<<<<<<<<<<<<<<<<<<<<<<", "9409923102854CORINNE<<<<<<<6512068F4"]
    outcome = work.interpret_mrz(lines, WALL.date())
    assert outcome.document is not None
    assert outcome.document.format == "FRA-ID"
    assert work.document_summary(outcome.document).format == "FRA-ID"
