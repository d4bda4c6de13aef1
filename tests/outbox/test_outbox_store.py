"""The durable outbox: numbering across restarts, atomic portraits, bounds, a full disk."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gate import events
from gate.outbox.store import Outbox, OutboxError, OutboxFull

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def state(fields: dict[str, Any]) -> events.LaneStateEvent:
    return events.LaneStateEvent(**fields, state=events.LaneState.IDLE)


def transaction(fields: dict[str, Any]) -> events.TransactionEvent:
    return events.TransactionEvent(
        **fields, transaction_id=uuid.uuid4(), decision=events.Decision.REFERRED
    )


def test_seq_survives_restarts_without_gaps(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    with Outbox(path, "lane-1") as box:
        first = [box.append(state, NOW).seq for _ in range(3)]
    with Outbox(path, "lane-1") as box:
        assert box.next_seq == 3
        second = [box.append(state, NOW).seq for _ in range(2)]
        box.acknowledge([e.event_id for e in box.batch(10)])
    with Outbox(path, "lane-1") as box:
        assert box.stats().depth == 0
        assert box.append(state, NOW).seq == 5  # delivery does not reuse numbers
    assert first + second == [0, 1, 2, 3, 4]


def test_database_is_wal_with_full_sync(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    with Outbox(path, "lane-1") as box:
        box.append(state, NOW)
        mode = box._db.execute("PRAGMA journal_mode").fetchone()[0]
        sync = box._db.execute("PRAGMA synchronous").fetchone()[0]
    assert (mode, sync) == ("wal", 2)  # 2 = FULL: the WAL is fsync'ed at every commit


def test_batches_are_in_seq_order_and_bounded(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite", "lane-1") as box:
        for _ in range(7):
            box.append(state, NOW)
        batch = box.batch(max_events=5)
        assert [e.seq for e in batch] == [0, 1, 2, 3, 4]
        small = box.batch(max_events=5, max_bytes=len(batch[0].body) * 2 + 2)
        assert len(small) == 2
        assert len(box.batch(max_events=5, max_bytes=1)) == 1  # never an empty batch
        assert box.acknowledge([batch[1].event_id, "not-there"]) == 1
        assert [e.seq for e in box.batch(10)] == [0, 2, 3, 4, 5, 6]


def test_portraits_wait_for_their_event_and_expire(tmp_path: Path) -> None:
    clock = [1000.0]
    with Outbox(tmp_path / "o.sqlite", "lane-1", clock=lambda: clock[0]) as box:
        event = box.append(transaction, NOW, portraits={"chip": b"chip", "live": b"live"})
        assert box.pending_portraits() == []  # the event must reach central first
        box.acknowledge([str(event.event_id)])
        pending = box.pending_portraits()
        assert {(p.kind, p.data) for p in pending} == {("chip", b"chip"), ("live", b"live")}
        box.portrait_delivered(str(event.transaction_id), "chip")
        assert [p.kind for p in box.pending_portraits()] == ["live"]
        clock[0] += 3600
        assert box.expire_portraits(retention_seconds=3601) == 0
        assert box.expire_portraits(retention_seconds=3599) == 1
        assert box.stats().portraits == 0


def test_portraits_are_checked(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite", "lane-1") as box:
        with pytest.raises(OutboxError, match="upload limit"):
            box.append(transaction, NOW, portraits={"live": b"x" * (2 * 1024 * 1024 + 1)})
        with pytest.raises(OutboxError, match="belong to a transaction"):
            box.append(state, NOW, portraits={"live": b"x"})
        # the refused append used no number and left nothing behind
        assert box.next_seq == 0 and box.stats().depth == 0


def test_bounds_alarm_then_refuse_travellers_then_everything(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite", "lane-1", max_events=10, reserve_events=2) as box:
        for _ in range(7):
            box.append(transaction, NOW, traveller=True)
        assert not box.stats().high_water
        box.append(transaction, NOW, traveller=True)
        stats = box.stats()
        assert stats.high_water and not stats.admitting
        assert "8 undelivered" in stats.reason
        with pytest.raises(OutboxFull, match="for travellers"):
            box.append(transaction, NOW, traveller=True)
        box.append(state, NOW)  # the lane's own events use the reserve
        box.append(state, NOW)
        with pytest.raises(OutboxFull):
            box.append(state, NOW)
        assert box.next_seq == 10
        box.acknowledge([e.event_id for e in box.batch(5)])
        assert box.stats().admitting


def test_full_disk_refuses_and_recovers(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite", "lane-1") as box:
        box.append(state, NOW)
        pages = box._db.execute("PRAGMA page_count").fetchone()[0]
        box._db.execute(f"PRAGMA max_page_count={pages}")  # the file cannot grow: SQLITE_FULL
        big = "x" * 20000

        def huge(fields: dict[str, Any]) -> events.LaneStateEvent:
            return events.LaneStateEvent(**fields, state=events.LaneState.IDLE, reason=big)

        with pytest.raises(OutboxFull, match="disk is full"):
            box.append(huge, NOW)
        stats = box.stats()
        assert not stats.admitting and "disk" in stats.reason
        assert box.next_seq == 1  # the failed write did not use a number
        box._db.execute("PRAGMA max_page_count=1073741823")
        assert box.append(huge, NOW).seq == 1
        assert box.stats().admitting


def test_low_free_space_stops_admission(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite", "lane-1", min_free_bytes=1 << 62) as box:
        stats = box.stats()
    assert not stats.admitting and "MiB free" in stats.reason


def test_rejected_events_are_kept_aside(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite", "lane-1") as box:
        a = box.append(state, NOW)
        box.append(state, NOW)
        assert box.reject([(str(a.event_id), "schema"), ("unknown", "x")]) == 1
        assert [e.seq for e in box.batch()] == [1]
        kept = box.rejected()
        assert kept[0]["reason"] == "schema" and kept[0]["event"]["seq"] == 0


def test_other_lane_or_corrupt_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    Outbox(path, "lane-1").close()
    with pytest.raises(OutboxError, match="belongs to lane 'lane-1'"):
        Outbox(path, "lane-2")
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(OutboxError, match="cannot be opened"):
        Outbox(bad, "lane-1")
    with pytest.raises(OutboxError, match="larger than reserve"):
        Outbox(tmp_path / "x.sqlite", "lane-1", max_events=5, reserve_events=5)


def test_committed_events_survive_an_unclosed_connection(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path, "lane-1")
    box.append(state, NOW)
    # another connection (as after a crash: the first was never closed) sees the commit
    other = sqlite3.connect(str(path))
    assert other.execute("SELECT count(*) FROM events").fetchone()[0] == 1
    other.close()
    box.close()
