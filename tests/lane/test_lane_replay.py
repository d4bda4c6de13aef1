"""Transaction records and ``egate lane replay``."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from gate.cli import main
from gate.config import PassageConfig, PolicyConfig
from gate.events import Device
from gate.lane.inputs import (
    BeamsChanged,
    ChipRead,
    CommandAction,
    DeviceFault,
    DocumentPlaced,
    DocumentVerified,
    Door,
    FaceBox,
    FaceVerified,
    Input,
    LivenessChecked,
    MrzRead,
    OfficerCommand,
    PassageCompleted,
    PassageDirection,
    PersonsSeen,
    Screened,
    Started,
)
from gate.lane.record import RecordError, decode, decode_input, encode_input, header
from gate.lane.replay import compare, replay
from gate.policy.model import DocumentFacts, ScreeningResult

TODAY = date(2026, 12, 2)


def traveller(tx: str, t0: float, born: date, face: str = "match") -> list[Input]:
    doc = DocumentFacts(
        document_code="P",
        issuing_state="D",
        nationality="D",
        date_of_birth=born,
        date_of_expiry=date(2031, 1, 1),
        masked_number="*****4567",
    )
    return [
        DocumentPlaced(at=t0, transaction=tx, date=TODAY),
        MrzRead(at=t0 + 0.5, transaction=tx, document=doc, reasons=("MRZ_OK",)),
        Screened(at=t0 + 0.6, transaction=tx, result=ScreeningResult(enrolled=True)),
        ChipRead(at=t0 + 2.0, transaction=tx, ok=True, reasons=("CHIP_OK",)),
        DocumentVerified(at=t0 + 2.2, transaction=tx, reasons=("PA_OK", "AA_OK")),
        PassageCompleted(at=t0 + 4.0, door=Door.ENTRY, direction=PassageDirection.IN, persons=1),
        FaceVerified(at=t0 + 5.0, transaction=tx, outcome=face, similarity=0.61, threshold=0.399),  # type: ignore[arg-type]
        LivenessChecked(at=t0 + 5.1, transaction=tx, passed=True, score=0.9),
        PassageCompleted(
            at=t0 + 7.0,
            door=Door.EXIT if face == "match" else Door.ENTRY,
            direction=PassageDirection.IN if face == "match" else PassageDirection.OUT,
            persons=1,
        ),
    ]


@pytest.fixture
def record_file(tmp_path: Path) -> Path:
    lines = [header("lane-7", "arrival", PassageConfig(), PolicyConfig())]
    events: list[Input] = [Started(at=0.0)]
    events += traveller("t-adult", 1.0, date(1985, 5, 17))
    events += traveller("t-teen", 20.0, date(2010, 1, 1))
    events += traveller("t-impostor", 40.0, date(1990, 3, 3), face="no_match")
    lines += [encode_input(e) for e in events]
    path = tmp_path / "lane-7.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_every_input_kind_round_trips() -> None:
    events: list[Input] = [
        *traveller("t", 1.0, date(1985, 5, 17)),
        BeamsChanged(at=1.0, beams=(False, True, False)),
        PersonsSeen(at=1.0, faces=(FaceBox(x=0.1, y=0.2, width=0.3, height=0.4),)),
        DeviceFault(at=1.0, device=Device.CAMERA, code="CAMERA_NO_FRAMES"),
        OfficerCommand(
            at=2.0, command_id="c", action=CommandAction.REFERRAL_DECISION, args={"decision": "x"}
        ),
    ]
    for event in events:
        assert decode_input(encode_input(event)) == event


def test_records_never_hold_full_document_numbers() -> None:
    doc = DocumentFacts(
        document_code="P", issuing_state="D", nationality="D", masked_number="C01X00T47"
    )
    with pytest.raises(RecordError, match="full document numbers"):
        encode_input(MrzRead(at=1.0, transaction="t", document=doc))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"input": "Nope", "at": 1}', "unknown input 'Nope'"),
        ('{"input": "Tick", "at": "soon"}', "expected a number"),
        ('{"input": "Tick", "at": 1, "x": 2}', r"unknown field\(s\) \['x'\]"),
        ('{"input": "DocumentPlaced", "at": 1, "transaction": "t", "date": "2.12.2026"}', "date"),
        ('{"input": "DoorChanged", "at": 1, "door": "roof", "position": "open"}', "not a Door"),
        ("[1]", "expected an object"),
        (
            '{"input": "ChipRead", "at": 1, "transaction": "t", "ok": true, "reasons": ["NOPE_X"]}',
            "unknown reason code",
        ),
        ("{", "not JSON"),
    ],
)
def test_bad_record_lines_name_the_problem(line: str, message: str) -> None:
    with pytest.raises(RecordError, match=message):
        decode_input(line, "f:2")


def test_a_record_needs_its_header() -> None:
    with pytest.raises(RecordError, match="header"):
        decode('{"input": "Tick", "at": 1}\n')


def test_replay_gives_the_same_decisions_with_the_rules_that_fired(record_file: Path) -> None:
    record = decode(record_file.read_text(encoding="utf-8"))
    result = replay(record)
    decisions = {t.transaction: t.decision for t in result.transactions}
    assert decisions == {"t-adult": "accepted", "t-teen": "accepted", "t-impostor": "referred"}
    impostor = result.by_id()["t-impostor"]
    assert "FACE_NO_MATCH" in impostor.reasons
    assert any(line.startswith("face: refer FACE_NO_MATCH") for line in impostor.fired)
    assert all(not s.error for s in result.steps)


def test_a_new_policy_shows_which_decisions_differ(record_file: Path) -> None:
    record = decode(record_file.read_text(encoding="utf-8"))
    _, _, diffs = compare(record, PolicyConfig(minimum_age_years=18))
    assert [d.transaction for d in diffs] == ["t-teen"]
    assert diffs[0].new is not None and diffs[0].new.decision == "referred"
    assert "POLICY_UNDER_MINIMUM_AGE" in diffs[0].new.reasons


def test_cli_replay_and_policy_diff(
    record_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lane", "replay", str(record_file)]) == 0
    out = capsys.readouterr().out
    assert "transaction t-impostor: referred" in out and "reading_mrz -> reading_chip" in out
    new = tmp_path / "new.toml"
    new.write_text("[policy]\nminimum_age_years = 18\n", encoding="utf-8")
    assert main(["lane", "replay", str(record_file), "--policy", str(new), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["transactions"] == 3 and len(data["differences"]) == 1
    bad = tmp_path / "bad.toml"
    bad.write_text("[policy]\nminimum_age = 18\n", encoding="utf-8")
    assert main(["lane", "replay", str(record_file), "--policy", str(bad)]) == 2
    assert "policy.minimum_age" in capsys.readouterr().err
    assert main(["lane", "replay", str(tmp_path / "missing.jsonl")]) == 2
    capsys.readouterr()
    assert main(["lane", "replay", str(record_file), "--transaction", "t-teen", "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert [t["transaction"] for t in one["transactions"]] == ["t-teen"]
    assert {s["transaction"] for s in one["steps"]} == {"t-teen"} and len(one["steps"]) == 9
    assert main(["lane", "replay", str(record_file), "--transaction", "nobody"]) == 2
    assert "no transaction 'nobody'" in capsys.readouterr().err
