"""The lane's durable outbox: every event is on disk before anything else happens.

SQLite in WAL mode with ``synchronous=FULL``: a commit returns only after the write-ahead log was
fsync'ed, so an event the outbox returned survives a power cut or SIGKILL. The next sequence
number lives in the same database and is advanced in the same transaction as the insert, so the
per-lane ``seq`` never repeats and never has a gap, across restarts and crashes (an insert that
did not commit did not use its number).

Delivery is at-least-once: rows are deleted only after central acknowledged them (accepted or
duplicate), and central ingests idempotently on ``event_id``; together that is exactly once at
central.

Portraits (chip and live) of referred transactions and of the configured foreign-national record
wait here for their own upload. They are written in the same transaction as their transaction
event, uploaded only once that event was delivered, and deleted after upload or when older than
the retention period, whichever comes first.

The outbox is bounded: past ``alarm_fraction`` of ``max_events`` it reports high water (the
daemon raises an alarm), and from ``max_events - reserve_events`` on it refuses to admit
travellers (the lane goes out of service) while still recording the lane's own state and fault
events in the reserve. A full disk (SQLite ``SQLITE_FULL``) or free space below
``min_free_bytes`` has the same effect.

The class is thread-safe but blocking: the daemon calls it from one worker thread.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from gate import events
from gate.errors import EgateError

PortraitKind = Literal["chip", "live"]
PORTRAIT_KINDS: tuple[PortraitKind, ...] = ("chip", "live")
MAX_PORTRAIT_BYTES = 2 * 1024 * 1024  # the central contract's limit for one upload

AnyEvent = (
    events.TransactionEvent
    | events.AlarmEvent
    | events.DeviceFaultEvent
    | events.LaneStateEvent
    | events.OfficerActionEvent
)
EventT = TypeVar("EventT", bound=AnyEvent)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    transaction_id TEXT,
    body TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_tx ON events (transaction_id);
CREATE TABLE IF NOT EXISTS portraits (
    transaction_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    data BLOB NOT NULL,
    created_at REAL NOT NULL,
    upload INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (transaction_id, kind)
);
CREATE TABLE IF NOT EXISTS rejected (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    body TEXT NOT NULL,
    reason TEXT NOT NULL,
    rejected_at REAL NOT NULL
);
"""
_SQLITE_FULL = 13


class OutboxError(EgateError):
    """The outbox cannot be opened or written; the message names the file and what to do."""


class OutboxFull(OutboxError):
    """The outbox refuses the event: its size bound is reached or the disk is full."""


@dataclass(frozen=True)
class PendingEvent:
    seq: int
    event_id: str
    body: str
    created_at: float


@dataclass(frozen=True)
class PendingPortrait:
    transaction_id: str
    kind: PortraitKind
    data: bytes
    created_at: float


@dataclass(frozen=True)
class OutboxStats:
    depth: int
    """Events waiting for delivery."""
    oldest_created_at: float | None
    """Wall-clock time (seconds since the epoch) the oldest waiting event was written."""
    next_seq: int
    portraits: int
    rejected: int
    capacity: int
    high_water: bool
    """At or above the alarm fraction of the capacity."""
    admitting: bool
    """Room for travellers' transactions (below the reserve, disk not full)."""
    reason: str
    """Why travellers are not admitted; empty when they are."""


class Outbox:
    """The durable event queue of one lane (see the module documentation)."""

    def __init__(
        self,
        path: Path,
        lane_id: str,
        *,
        max_events: int = 200_000,
        alarm_fraction: float = 0.8,
        reserve_events: int = 1_000,
        min_free_bytes: int = 64 * 1024 * 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_events <= reserve_events:
            raise OutboxError(
                f"outbox max_events ({max_events}) must be larger than reserve_events "
                f"({reserve_events})"
            )
        self.path = Path(path)
        self.lane_id = lane_id
        self.max_events = max_events
        self.alarm_fraction = alarm_fraction
        self.reserve_events = reserve_events
        self.min_free_bytes = min_free_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._disk_full = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False, timeout=10.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key='lane_id'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('lane_id', ?)", (lane_id,))
                self._db.execute("INSERT INTO meta VALUES ('next_seq', '0')")
            elif row[0] != lane_id:
                raise OutboxError(
                    f"outbox {self.path} belongs to lane {row[0]!r}, not {lane_id!r}: deliver "
                    "it with that lane id or move it aside"
                )
            self._depth = self._count("events")
        except sqlite3.DatabaseError as exc:
            raise OutboxError(
                f"outbox {self.path} cannot be opened ({exc}): check the disk and permissions; "
                "a corrupt file must be moved aside (its events are then lost to central)"
            ) from None

    # ------------------------------------------------------------------ basics

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _count(self, table: str) -> int:
        return int(self._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    @property
    def next_seq(self) -> int:
        with self._lock:
            return self._next_seq()

    def _next_seq(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()
        return int(row[0])

    # ------------------------------------------------------------------ writing

    def append(
        self,
        build: Callable[[dict[str, Any]], EventT],
        at: datetime,
        *,
        portraits: Mapping[PortraitKind, bytes] | None = None,
        traveller: bool = False,
    ) -> EventT:
        """Number, build and durably store one event (and its portraits) in one transaction.

        ``build`` receives the common fields (``event_id``, ``lane_id``, ``seq``,
        ``occurred_at``) and returns the event. ``traveller=True`` marks an event that admits
        or records a traveller: it is refused once only the reserve is left, so the lane's own
        state and fault events can still be written. Raises :class:`OutboxFull`.
        """
        if at.tzinfo is None:
            raise OutboxError("event times must be timezone-aware (UTC)")
        for kind, data in (portraits or {}).items():
            if kind not in PORTRAIT_KINDS:
                raise OutboxError(f"portrait kind {kind!r} is not one of {PORTRAIT_KINDS}")
            if len(data) > MAX_PORTRAIT_BYTES:
                raise OutboxError(
                    f"{kind} portrait of {len(data)} bytes exceeds the upload limit of "
                    f"{MAX_PORTRAIT_BYTES} bytes: re-encode it smaller"
                )
        with self._lock:
            limit = self.max_events - (self.reserve_events if traveller else 0)
            if self._depth >= limit:
                raise OutboxFull(
                    f"outbox {self.path} holds {self._depth} undelivered events (limit {limit}"
                    f"{' for travellers' if traveller else ''}): central has not taken events "
                    "for too long; restore the link to central"
                )
            seq = self._next_seq()
            fields = {
                "event_id": events.event_id(at),
                "lane_id": self.lane_id,
                "seq": seq,
                "occurred_at": at,
            }
            event = build(fields)
            if event.seq != seq or str(event.event_id) != str(fields["event_id"]):
                raise OutboxError("the event builder must use the fields the outbox gave it")
            tx = getattr(event, "transaction_id", None)
            now = self._clock()
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.execute(
                        "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            seq,
                            str(event.event_id),
                            event.type,
                            str(tx) if tx else None,
                            events.to_json(event),
                            now,
                        ),
                    )
                    for kind, data in (portraits or {}).items():
                        if tx is None:
                            raise OutboxError("portraits belong to a transaction event")
                        self._db.execute(
                            "INSERT OR REPLACE INTO portraits VALUES (?, ?, ?, ?, 1)",
                            (str(tx), kind, data, now),
                        )
                    self._db.execute(
                        "UPDATE meta SET value=? WHERE key='next_seq'", (str(seq + 1),)
                    )
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:  # SQLITE_FULL already rolled back
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:
                if getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL:
                    self._disk_full = True
                    raise OutboxFull(
                        f"outbox {self.path}: the disk is full ({exc}); free space on it"
                    ) from None
                raise OutboxError(f"outbox {self.path}: write failed: {exc}") from None
            self._disk_full = False
            self._depth += 1
            return event

    # ------------------------------------------------------------------ delivery side

    def batch(self, max_events: int = 100, max_bytes: int = 3 * 1024 * 1024) -> list[PendingEvent]:
        """The oldest undelivered events in ``seq`` order, at most ``max_events`` and about
        ``max_bytes`` of JSON (always at least one event)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, event_id, body, created_at FROM events ORDER BY seq LIMIT ?",
                (max_events,),
            ).fetchall()
        out: list[PendingEvent] = []
        size = 0
        for seq, event_id, body, created in rows:
            size += len(body) + 1
            if out and size > max_bytes:
                break
            out.append(PendingEvent(int(seq), str(event_id), str(body), float(created)))
        return out

    def acknowledge(self, event_ids: Iterable[str]) -> int:
        """Delete events central took (accepted or duplicate); returns how many were deleted."""
        ids = [(str(e),) for e in event_ids]
        if not ids:
            return 0
        with self._lock:
            before = self._db.total_changes
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("DELETE FROM events WHERE event_id=?", ids)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            deleted = self._db.total_changes - before
            self._depth -= deleted
            return deleted

    def reject(self, rejected: Iterable[tuple[str, str]]) -> int:
        """Move events central refused for good (``(event_id, reason)``) out of the queue into
        the ``rejected`` table, kept for inspection; returns how many were moved."""
        items = list(rejected)
        if not items:
            return 0
        moved = 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for event_id, reason in items:
                    row = self._db.execute(
                        "SELECT seq, body FROM events WHERE event_id=?", (event_id,)
                    ).fetchone()
                    if row is None:
                        continue
                    self._db.execute(
                        "INSERT OR REPLACE INTO rejected VALUES (?, ?, ?, ?, ?)",
                        (row[0], event_id, row[1], reason[:500], self._clock()),
                    )
                    self._db.execute("DELETE FROM events WHERE event_id=?", (event_id,))
                    moved += 1
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._depth -= moved
            return moved

    def rejected(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, event_id, reason, body FROM rejected ORDER BY seq"
            ).fetchall()
        return [
            {"seq": r[0], "event_id": r[1], "reason": r[2], "event": json.loads(r[3])} for r in rows
        ]

    # ------------------------------------------------------------------ portraits

    def pending_portraits(self, limit: int = 10) -> list[PendingPortrait]:
        """Portraits whose transaction event has been delivered, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT p.transaction_id, p.kind, p.data, p.created_at FROM portraits p "
                "WHERE p.upload = 1 AND NOT EXISTS "
                "(SELECT 1 FROM events e WHERE e.transaction_id = p.transaction_id)"
                " ORDER BY p.created_at LIMIT ?",
                (limit,),
            ).fetchall()
        return [PendingPortrait(str(r[0]), r[1], bytes(r[2]), float(r[3])) for r in rows]

    def portrait_delivered(self, transaction_id: str, kind: PortraitKind) -> None:
        with self._lock:
            self._db.execute(
                "DELETE FROM portraits WHERE transaction_id=? AND kind=?", (transaction_id, kind)
            )

    def portrait_refused(self, transaction_id: str, kind: PortraitKind) -> None:
        """Central will not take this portrait: keep it on the lane until the retention
        period ends, without sending it again."""
        with self._lock:
            self._db.execute(
                "UPDATE portraits SET upload=0 WHERE transaction_id=? AND kind=?",
                (transaction_id, kind),
            )

    def expire_portraits(self, retention_seconds: float) -> int:
        """Delete portraits older than the retention period, delivered or not."""
        cutoff = self._clock() - retention_seconds
        with self._lock:
            cur = self._db.execute("DELETE FROM portraits WHERE created_at < ?", (cutoff,))
            return int(cur.rowcount)

    # ------------------------------------------------------------------ health

    def stats(self) -> OutboxStats:
        with self._lock:
            oldest = self._db.execute("SELECT min(created_at) FROM events").fetchone()[0]
            portraits = self._count("portraits")
            rejected = self._count("rejected")
            next_seq = self._next_seq()
            # counted, not remembered: another process (a tool, a test) may share the file
            depth = self._depth = self._count("events")
        reason = ""
        if self._disk_full:
            reason = "the disk holding the outbox is full"
        elif depth >= self.max_events - self.reserve_events:
            reason = f"the outbox holds {depth} undelivered events (limit {self.max_events})"
        else:
            try:
                free = shutil.disk_usage(self.path.parent).free
            except OSError:
                free = self.min_free_bytes
            if free < self.min_free_bytes:
                reason = (
                    f"only {free // (1024 * 1024)} MiB free on the outbox disk "
                    f"(minimum {self.min_free_bytes // (1024 * 1024)} MiB)"
                )
        return OutboxStats(
            depth=depth,
            oldest_created_at=float(oldest) if oldest is not None else None,
            next_seq=next_seq,
            portraits=portraits,
            rejected=rejected,
            capacity=self.max_events,
            high_water=depth >= self.alarm_fraction * self.max_events,
            admitting=not reason,
            reason=reason,
        )
