"""Batch ingest of lane events: validation, idempotent storage, derived records, live updates.

A batch is validated event by event with the shared schema (:mod:`gate.events`): a bad event
is rejected with its index and reason and the rest is kept. Events are stored with
``INSERT .. ON CONFLICT DO NOTHING`` on ``event_id``, so a resent event is acknowledged as a
duplicate and changes nothing, also when two central processes receive it at once. Only newly
stored events update the derived tables (transactions, referrals, alarms, device faults, lane
state) and the live stream.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from central import alarms as alarm_model
from central.db import Database, device_faults, dumps, events, lanes, referrals, transactions
from central.errors import InvalidRequest
from central.live import LiveHub
from gate.config import CentralConfig
from gate.events import (
    AlarmEvent,
    Decision,
    DeviceFaultEvent,
    EventSchemaError,
    LaneStateEvent,
    TransactionEvent,
    parse_event,
)

LIVE_EVENT_SUMMARIES = 40  # event summaries per "ingest" live message at most


class ForeignLane(InvalidRequest):
    """An event of the batch names another lane than the credential's."""


@dataclass
class IngestResult:
    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


@dataclass(frozen=True)
class LaneInfo:
    lane_id: str
    port: str
    direction: str


def _ts(value: Any) -> float:
    return float(value.timestamp())


def validate_batch(
    lane_id: str, items: Sequence[Any]
) -> tuple[list[tuple[Any, dict[str, Any]]], list[dict[str, Any]]]:
    """(valid events with their JSON, rejections); raises ForeignLane for another lane's event."""
    valid: list[tuple[Any, dict[str, Any]]] = []
    rejected: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        event_id = item.get("event_id") if isinstance(item, dict) else None
        if not isinstance(event_id, str) or len(event_id) > 64:
            event_id = None
        try:
            ev = parse_event(item)
        except EventSchemaError as exc:
            rejected.append({"index": index, "event_id": event_id, "reason": str(exc)[:500]})
            continue
        if ev.lane_id != lane_id:
            raise ForeignLane(
                f"event {index} ({ev.event_id}) is from lane {ev.lane_id!r}; this credential "
                f"is for lane {lane_id!r}"
            )
        valid.append((ev, item))
    return valid, rejected


def _insert_ignore(conn: Connection, table: Any) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


def store_batch(
    conn: Connection,
    hub: LiveHub,
    config: CentralConfig,
    lane: LaneInfo,
    valid: list[tuple[Any, dict[str, Any]]],
    now: float,
) -> tuple[list[str], list[str]]:
    """Store the events, update what derives from the new ones; (accepted, duplicates)."""
    seen: set[str] = set()
    rows = []
    in_batch_duplicates: list[str] = []
    for ev, raw in valid:
        eid = str(ev.event_id)
        if eid in seen:
            in_batch_duplicates.append(eid)
            continue
        seen.add(eid)
        rows.append(
            {
                "event_id": eid,
                "lane_id": ev.lane_id,
                "seq": ev.seq,
                "type": ev.type,
                "occurred_at": _ts(ev.occurred_at),
                "received_at": now,
                "payload": json.dumps(raw, separators=(",", ":"), default=str),
            }
        )
    if not rows:
        return [], in_batch_duplicates
    stmt = _insert_ignore(conn, events).returning(events.c.event_id)
    inserted = (
        set(conn.execute(stmt, rows).scalars().all())
        if len(rows) > 1
        else set(conn.execute(stmt.values(rows[0])).scalars().all())
    )
    accepted = [r["event_id"] for r in rows if r["event_id"] in inserted]
    duplicates = [r["event_id"] for r in rows if r["event_id"] not in inserted]
    duplicates += in_batch_duplicates
    new_events = [ev for ev, _ in valid if str(ev.event_id) in inserted]
    if new_events:
        _derive(conn, hub, config, lane, new_events, now)
    return accepted, duplicates


def _derive(
    conn: Connection,
    hub: LiveHub,
    config: CentralConfig,
    lane: LaneInfo,
    new_events: list[Any],
    now: float,
) -> None:
    tx_rows = []
    fault_rows = []
    summaries: list[dict[str, Any]] = []
    for ev in new_events:
        summary: dict[str, Any] = {
            "event_id": str(ev.event_id),
            "type": ev.type,
            "seq": ev.seq,
            "occurred_at": ev.occurred_at.isoformat(),
        }
        if isinstance(ev, TransactionEvent):
            duration = ev.duration()
            doc = ev.document
            tx_rows.append(
                {
                    "transaction_id": str(ev.transaction_id),
                    "event_id": str(ev.event_id),
                    "lane_id": lane.lane_id,
                    "port": lane.port,
                    "direction": lane.direction,
                    "occurred_at": _ts(ev.occurred_at),
                    "decision": ev.decision.value,
                    "reasons": dumps(ev.reasons),
                    "duration_ms": duration.total_seconds() * 1000 if duration else None,
                    "face_similarity": ev.scores.face_similarity,
                    "nationality": doc.nationality if doc else "",
                    "fingerprint": doc.fingerprint if doc else None,
                }
            )
            summary.update(
                transaction_id=str(ev.transaction_id),
                decision=ev.decision.value,
                reasons=ev.reasons[:8],
            )
        elif isinstance(ev, AlarmEvent):
            summary.update(alarm=ev.alarm.value, active=ev.active)
        elif isinstance(ev, DeviceFaultEvent):
            fault_rows.append(
                {
                    "lane_id": lane.lane_id,
                    "device": ev.device.value,
                    "code": ev.code,
                    "recovered": ev.recovered,
                    "occurred_at": _ts(ev.occurred_at),
                }
            )
            summary.update(device=ev.device.value, code=ev.code, recovered=ev.recovered)
        elif isinstance(ev, LaneStateEvent):
            summary.update(state=ev.state.value)
        if len(summaries) < LIVE_EVENT_SUMMARIES:
            summaries.append(summary)
    new_tx: set[str] = set()
    if tx_rows:
        stmt = _insert_ignore(conn, transactions).returning(transactions.c.transaction_id)
        new_tx = (
            set(conn.execute(stmt, tx_rows).scalars().all())
            if len(tx_rows) > 1
            else set(conn.execute(stmt.values(tx_rows[0])).scalars().all())
        )
    if fault_rows:
        conn.execute(device_faults.insert(), fault_rows)
    for ev in new_events:
        if isinstance(ev, TransactionEvent) and str(ev.transaction_id) in new_tx:
            _on_transaction(conn, hub, config, lane, ev, now)
        elif isinstance(ev, AlarmEvent):
            _on_alarm(conn, hub, lane, ev, now)
        elif isinstance(ev, DeviceFaultEvent):
            if ev.recovered:
                alarm_model.clear_condition(
                    conn,
                    hub,
                    lane_id=lane.lane_id,
                    kind=f"{alarm_model.DEVICE_FAULT}:{ev.device.value}",
                    now=now,
                )
            else:
                alarm_model.raise_alarm(
                    conn,
                    hub,
                    lane_id=lane.lane_id,
                    kind=f"{alarm_model.DEVICE_FAULT}:{ev.device.value}",
                    severity="warning",
                    now=now,
                    detail=f"{ev.code} {ev.detail}".strip(),
                    source_event_id=str(ev.event_id),
                )
    states = [ev for ev in new_events if isinstance(ev, LaneStateEvent)]
    max_seq = max(ev.seq for ev in new_events)
    values: dict[str, Any] = {
        "last_seq": func.max(func.coalesce(lanes.c.last_seq, -1), max_seq)
        if conn.dialect.name == "sqlite"
        else func.greatest(func.coalesce(lanes.c.last_seq, -1), max_seq),
        "last_event_at": now,
    }
    if states:
        latest = max(states, key=lambda e: e.seq)
        values["state"] = latest.state.value
    conn.execute(update(lanes).where(lanes.c.lane_id == lane.lane_id).values(**values))
    if states:
        publish_lane(conn, hub, lane.lane_id)
    hub.publish(
        conn,
        "ingest",
        {
            "lane_id": lane.lane_id,
            "accepted": len(new_events),
            "last_seq": max_seq,
            "received_at": now,
            "events": summaries,
            "truncated": len(new_events) > len(summaries),
        },
    )


def _on_transaction(
    conn: Connection,
    hub: LiveHub,
    config: CentralConfig,
    lane: LaneInfo,
    ev: TransactionEvent,
    now: float,
) -> None:
    tid = str(ev.transaction_id)
    if ev.decision == Decision.REFERRED:
        conn.execute(
            _insert_ignore(conn, referrals).values(
                transaction_id=tid,
                lane_id=lane.lane_id,
                created_at=now,
                status="pending",
                reasons=dumps(ev.reasons),
            )
        )
        hub.publish(
            conn,
            "referral",
            {
                "transaction_id": tid,
                "lane_id": lane.lane_id,
                "status": "pending",
                "reasons": ev.reasons,
                "created_at": now,
            },
        )
    window = config.detection.document_reuse_minutes * 60
    doc = ev.document
    if ev.decision == Decision.ACCEPTED and window and doc is not None and doc.fingerprint:
        occurred = _ts(ev.occurred_at)
        previous = conn.execute(
            select(
                transactions.c.transaction_id, transactions.c.lane_id, transactions.c.occurred_at
            )
            .where(
                transactions.c.fingerprint == doc.fingerprint,
                transactions.c.decision == Decision.ACCEPTED.value,
                transactions.c.direction == lane.direction,
                transactions.c.transaction_id != tid,
                transactions.c.occurred_at >= occurred - window,
                transactions.c.occurred_at <= occurred + window,
            )
            .order_by(transactions.c.occurred_at.desc())
            .limit(1)
        ).first()
        if previous is not None:
            where = "on another lane" if previous.lane_id != lane.lane_id else "on the same lane"
            alarm_model.raise_alarm(
                conn,
                hub,
                lane_id=lane.lane_id,
                kind=alarm_model.DOCUMENT_USED_TWICE,
                severity="critical",
                now=now,
                transaction_id=tid,
                source_event_id=str(ev.event_id),
                detail=(
                    f"document {doc.masked_number} ({doc.issuing_state}) passed "
                    f"{lane.direction} {where} ({previous.lane_id}, transaction "
                    f"{previous.transaction_id}) {abs(occurred - previous.occurred_at):.0f} s "
                    f"apart without a passage in the other direction"
                ),
            )


def _on_alarm(conn: Connection, hub: LiveHub, lane: LaneInfo, ev: AlarmEvent, now: float) -> None:
    kind = ev.alarm.value
    if ev.active:
        alarm_model.raise_alarm(
            conn,
            hub,
            lane_id=lane.lane_id,
            kind=kind,
            severity=ev.severity,
            now=now,
            detail=ev.detail,
            source_event_id=str(ev.event_id),
            transaction_id=str(ev.transaction_id) if ev.transaction_id else None,
        )
    else:
        alarm_model.clear_condition(conn, hub, lane_id=lane.lane_id, kind=kind, now=now)


def lane_dict(row: Any, config: CentralConfig) -> dict[str, Any]:
    return {
        "lane_id": row.lane_id,
        "name": row.name,
        "port": row.port,
        "terminal": row.terminal,
        "direction": row.direction,
        "state": row.state,
        "step": row.step,
        "online": bool(row.online),
        "devices": json.loads(row.devices or "{}"),
        "doors": json.loads(row.doors or "{}"),
        "outbox_depth": row.outbox_depth,
        "lists": json.loads(row.lists or "{}"),
        "trust_store": row.trust_store,
        "last_heartbeat_at": row.last_heartbeat_at,
        "last_seq": row.last_seq,
        "last_event_at": row.last_event_at,
        "heartbeat_period_seconds": config.lanes.heartbeat_period_seconds,
    }


def publish_lane(conn: Connection, hub: LiveHub, lane_id: str) -> None:
    row = conn.execute(select(lanes).where(lanes.c.lane_id == lane_id)).first()
    if row is None:
        return
    data = {
        "lane_id": row.lane_id,
        "state": row.state,
        "step": row.step,
        "online": bool(row.online),
        "devices": json.loads(row.devices or "{}"),
        "doors": json.loads(row.doors or "{}"),
        "outbox_depth": row.outbox_depth,
        "last_heartbeat_at": row.last_heartbeat_at,
        "port": row.port,
        "terminal": row.terminal,
    }
    hub.publish(conn, "lane", data)


def lane_info(conn: Connection, lane_id: str) -> LaneInfo | None:
    row = conn.execute(
        select(lanes.c.lane_id, lanes.c.port, lanes.c.direction).where(lanes.c.lane_id == lane_id)
    ).first()
    return None if row is None else LaneInfo(row.lane_id, row.port, row.direction)


def ingest(
    db: Database,
    hub: LiveHub,
    config: CentralConfig,
    lane_id: str,
    items: Sequence[Any],
    now: float,
) -> IngestResult:
    """Validate and store one batch from ``lane_id`` (already authenticated)."""
    t0 = time.perf_counter()
    valid, rejected = validate_batch(lane_id, items)
    t1 = time.perf_counter()
    result = IngestResult(rejected=rejected)
    if valid:
        with db.write() as conn:
            t_lock = time.perf_counter()
            lane = lane_info(conn, lane_id)
            if lane is None:
                raise InvalidRequest(f"lane {lane_id!r} is not registered")
            result.accepted, result.duplicates = store_batch(conn, hub, config, lane, valid, now)
        t2 = time.perf_counter()
        result.timings = {"validate": t1 - t0, "lock_wait": t_lock - t1, "database": t2 - t_lock}
    else:
        result.timings = {"validate": t1 - t0, "lock_wait": 0.0, "database": 0.0}
    return result


def sequence_gaps(conn: Connection, lane_id: str, limit: int = 100) -> list[tuple[int, int]]:
    """Missing ``seq`` ranges of one lane (inclusive), computed in the database."""
    rows = conn.execute(
        text(
            "SELECT seq + 1 AS first, next_seq - 1 AS last FROM ("
            " SELECT seq, LEAD(seq) OVER (ORDER BY seq) AS next_seq FROM events"
            " WHERE lane_id = :lane) AS s WHERE next_seq > seq + 1 ORDER BY seq LIMIT :limit"
        ),
        {"lane": lane_id, "limit": limit},
    ).all()
    return [(int(r.first), int(r.last)) for r in rows]


def new_uuid() -> str:
    return str(uuid.uuid4())
