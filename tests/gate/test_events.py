from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gate import events
from gate.cli import main

T0 = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)


def _transaction(stamper: events.EventStamper) -> events.TransactionEvent:
    return events.TransactionEvent(
        **stamper.stamp(T0),
        transaction_id=uuid.uuid4(),
        decision=events.Decision.REFERRED,
        reasons=["FACE_NO_MATCH"],
        stages=[
            events.StageTime(stage=events.Stage.DOCUMENT_PLACED, at=T0),
            events.StageTime(stage=events.Stage.DECIDED, at=T0 + timedelta(seconds=7.5)),
        ],
        document=events.DocumentSummary(
            format="TD3",
            document_code="P",
            issuing_state="UTO",
            nationality="UTO",
            masked_number="L8*****C3",
        ),
        verdicts=[events.Verdict(check="face", outcome="refer", reasons=["FACE_NO_MATCH"])],
        scores=events.Scores(face_similarity=0.21, face_threshold=0.36),
    )


def test_every_event_type_round_trips_through_json() -> None:
    stamper = events.EventStamper("lane-7", next_seq=41)
    made: list[events._Event] = [
        _transaction(stamper),
        events.AlarmEvent(**stamper.stamp(T0), alarm=events.AlarmKind.TAILGATING),
        events.DeviceFaultEvent(
            **stamper.stamp(T0), device=events.Device.CAMERA, code="CAMERA_NO_FRAMES"
        ),
        events.LaneStateEvent(
            **stamper.stamp(T0), previous=events.LaneState.IDLE, state=events.LaneState.FAULT
        ),
        events.OfficerActionEvent(
            **stamper.stamp(T0), officer_id="officer-3", action=events.OfficerAction.OPEN_EXIT
        ),
    ]
    assert [e.seq for e in made] == [41, 42, 43, 44, 45]
    assert len({e.event_id for e in made}) == 5
    for event in made:
        back = events.parse_event(events.to_json(event))
        assert type(back) is type(event)
        assert back == event


def test_transaction_duration() -> None:
    tx = _transaction(events.EventStamper("lane-1"))
    assert tx.duration() == timedelta(seconds=7.5)


def test_unmasked_document_number_is_refused() -> None:
    with pytest.raises(ValueError, match="must be masked"):
        events.DocumentSummary(
            format="TD3",
            document_code="P",
            issuing_state="UTO",
            nationality="UTO",
            masked_number="L898902C3",
        )


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    data = json.loads(
        events.to_json(
            events.AlarmEvent(
                **events.EventStamper("l1").stamp(T0), alarm=events.AlarmKind.FORCED_DOOR
            )
        )
    )
    data["added_in_a_later_minor_release"] = 1
    assert isinstance(events.parse_event(data), events.AlarmEvent)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(schema_version=2), "schema_version 2 is not supported"),
        (lambda d: d.update(type="party"), "field (root)|does not match any of the expected"),
        (lambda d: d.update(seq=-1), "field alarm.seq"),
        (lambda d: d.update(occurred_at="2026-11-21T10:00:00"), "timezone"),
        (lambda d: d.update(lane_id="lane 1; DROP"), "field alarm.lane_id"),
        (lambda d: d.pop("event_id"), "field alarm.event_id"),
    ],
)
def test_invalid_events_name_the_field(mutate: object, message: str) -> None:
    data = json.loads(
        events.to_json(
            events.AlarmEvent(**events.EventStamper("l1").stamp(T0), alarm=events.AlarmKind.TAMPER)
        )
    )
    mutate(data)  # type: ignore[operator]
    with pytest.raises(events.EventSchemaError, match=message):
        events.parse_event(data)


def test_garbage_is_a_schema_error_not_a_crash() -> None:
    for junk in (b"\xff\xfe", "[1,2]", "not json", "{}"):
        with pytest.raises(events.EventSchemaError):
            events.parse_event(junk)


@pytest.mark.parametrize("junk", ["[" * 100_000, '{"a":' * 100_000, b"[" * 100_000])
def test_deeply_nested_json_is_a_schema_error(junk: str | bytes) -> None:
    with pytest.raises(events.EventSchemaError, match="nested too deeply"):
        events.parse_event(junk)


def test_naive_time_is_refused_by_the_stamper() -> None:
    with pytest.raises(events.EventSchemaError, match="timezone-aware"):
        events.EventStamper("l1").stamp(datetime(2026, 1, 1))


def test_sequence_gaps() -> None:
    assert events.sequence_gaps([5, 6, 6, 9, 10, 14]) == [(7, 8), (11, 13)]
    assert events.sequence_gaps([]) == []
    assert events.sequence_gaps([3, 2, 1]) == []


def test_cli_schema_and_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["events", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert {"transaction", "alarm", "device_fault", "lane_state", "officer_action"} <= set(
        schema["discriminator"]["mapping"]
    )
    good = events.to_json(_transaction(events.EventStamper("lane-1")))
    f = tmp_path / "events.jsonl"
    f.write_text(good + "\n" + '{"type": "alarm"}\n')
    assert main(["events", "validate", str(f)]) == 1
    assert ":2:" in capsys.readouterr().err
    f.write_text(good + "\n")
    assert main(["events", "validate", str(f)]) == 0


def test_event_ids_are_uuid7_ordered_by_time_and_unique() -> None:
    """Central's indexes stay append-mostly only if ids sort by time (RFC 9562 UUIDv7)."""
    base = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
    ids = [events.event_id(base + timedelta(milliseconds=i)) for i in range(0, 5000, 7)]
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert ids == sorted(ids)
    assert len({events.event_id(base) for _ in range(2000)}) == 2000
    assert ids[0].int >> 80 == int(base.timestamp() * 1000)
    fixed = events.event_id(base, random=lambda n: b"\xff" * n)
    assert fixed.int & ((1 << 62) - 1) == (1 << 62) - 1 and fixed.version == 7


def test_stamped_events_carry_time_ordered_ids() -> None:
    stamper = events.EventStamper("lane-1")
    first = stamper.stamp(datetime(2026, 12, 3, 6, 0, tzinfo=UTC))["event_id"]
    later = stamper.stamp(datetime(2026, 12, 3, 6, 1, tzinfo=UTC))["event_id"]
    assert first.version == 7 and first < later
