"""`egate demo` refuses a bad --events before running; its tailgating alarms name their
transaction (issue 17, items 7 and 9)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from gate import events
from gate.cli import main


def test_demo_events_pointing_at_a_directory_fails_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sim_face_models: Callable[[], str]
) -> None:
    sim_face_models()
    args = ["demo", "--lanes", "1", "--travellers", "1", "--fast", "--no-central"]
    assert main([*args, "--events", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert "is a directory" in err and "Traceback" not in err
    assert "simulated lane(s)" not in out  # nothing ran


def test_demo_tailgating_alarm_carries_its_transaction_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sim_face_models: Callable[[], str]
) -> None:
    sim_face_models()
    out = tmp_path / "events.jsonl"
    args = ["demo", "--lanes", "1", "--travellers", "6", "--fast", "--no-central"]
    assert main([*args, "--scenario", "tailgater", "--events", str(out)]) == 0
    capsys.readouterr()
    parsed = [events.parse_event(line) for line in out.read_text("utf-8").split("\n") if line]
    alarms = [
        e for e in parsed
        if isinstance(e, events.AlarmEvent) and e.alarm is events.AlarmKind.TAILGATING and e.active
    ]  # fmt: skip
    referred = {
        e.transaction_id for e in parsed
        if isinstance(e, events.TransactionEvent) and "PASSAGE_TAILGATING" in e.reasons
    }  # fmt: skip
    assert alarms and all(a.transaction_id in referred for a in alarms), json.dumps(
        [a.model_dump(mode="json") for a in alarms]
    )
