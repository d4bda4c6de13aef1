"""Alarms and their state model (after OPC UA Part 9, Alarms and Conditions).

An alarm is ``active`` when raised. An officer acknowledges it (``acknowledged``) or shelves it
for a while (``shelved``; it comes back when the shelf time ends). It is ``cleared`` once its
condition is gone *and* it was acknowledged: an alarm whose condition cleared by itself stays
``active`` (with ``condition_active`` false) until someone acknowledges it, so no alarm goes
unseen. A cleared alarm never changes again; the same condition later raises a new alarm.

The transitions are data (:data:`TRANSITIONS`); :func:`transition` applies one or says which
rule forbids it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from central.db import alarms
from central.errors import Conflict, NotFound
from central.live import LiveHub

AlarmState = Literal["active", "acknowledged", "shelved", "cleared"]
Operation = Literal[
    "acknowledge", "shelve", "unshelve", "condition_clear", "condition_raise", "clear"
]

# (state, operation) -> state; None: decided by whether the condition is still active
# (acknowledged if it is, cleared if it is not).
TRANSITIONS: dict[tuple[str, str], str | None] = {
    ("active", "acknowledge"): None,
    ("active", "shelve"): "shelved",
    ("active", "condition_clear"): "active",
    ("active", "condition_raise"): "active",
    ("active", "clear"): "cleared",
    ("acknowledged", "shelve"): "shelved",
    ("acknowledged", "condition_clear"): "cleared",
    ("acknowledged", "condition_raise"): "acknowledged",
    ("acknowledged", "clear"): "cleared",
    ("shelved", "unshelve"): "active",
    ("shelved", "condition_clear"): "shelved",
    ("shelved", "condition_raise"): "shelved",
    ("shelved", "clear"): "cleared",
}

# Kinds the service raises itself, besides the lanes' own (gate.events.AlarmKind).
LANE_OFFLINE = "lane_offline"
DOCUMENT_USED_TWICE = "document_used_twice"
DEVICE_FAULT = "device_fault"
FORCED_DOOR = "forced_door"

URGENCY = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Change:
    state: str
    condition_active: bool


def transition(state: str, condition_active: bool, op: str, *, acknowledged: bool) -> Change:
    """The next state, or :class:`Conflict` naming the state and operation."""
    key = (state, op)
    if key not in TRANSITIONS:
        raise Conflict(f"an alarm in state {state!r} cannot be {op.replace('_', ' ')}d")
    condition = {"condition_clear": False, "condition_raise": True}.get(op, condition_active)
    target = TRANSITIONS[key]
    if target is None:  # acknowledge
        target = "acknowledged" if condition else "cleared"
    if op == "unshelve" and acknowledged:  # back to where it was before shelving
        target = "acknowledged" if condition else "cleared"
    return Change(target, condition)


def alarm_dict(row: Any) -> dict[str, Any]:
    return {
        "alarm_id": row.alarm_id,
        "lane_id": row.lane_id,
        "kind": row.kind,
        "severity": row.severity,
        "state": row.state,
        "condition_active": row.condition_active,
        "transaction_id": row.transaction_id,
        "source_event_id": row.source_event_id,
        "detail": row.detail,
        "raised_at": row.raised_at,
        "updated_at": row.updated_at,
        "acknowledged_by": row.acknowledged_by,
        "acknowledged_at": row.acknowledged_at,
        "shelved_until": row.shelved_until,
        "cleared_at": row.cleared_at,
    }


def _publish(conn: Connection, hub: LiveHub, alarm_id: int) -> dict[str, Any]:
    row = conn.execute(select(alarms).where(alarms.c.alarm_id == alarm_id)).one()
    data = alarm_dict(row)
    hub.publish(conn, "alarm", data)
    return data


def raise_alarm(
    conn: Connection,
    hub: LiveHub,
    *,
    lane_id: str,
    kind: str,
    severity: str,
    now: float,
    detail: str = "",
    transaction_id: str | None = None,
    source_event_id: str | None = None,
) -> int:
    """Raise ``kind`` on ``lane_id``; an open alarm of that kind is re-raised, not duplicated.

    Per-transaction alarms (a watch-list hit for one traveller) are always new alarms.
    """
    if transaction_id is None:
        open_row = conn.execute(
            select(alarms.c.alarm_id, alarms.c.state, alarms.c.acknowledged_at)
            .where(alarms.c.lane_id == lane_id, alarms.c.kind == kind, alarms.c.state != "cleared")
            .order_by(alarms.c.alarm_id.desc())
            .limit(1)
        ).first()
        if open_row is not None:
            change = transition(
                open_row.state,
                False,
                "condition_raise",
                acknowledged=open_row.acknowledged_at is not None,
            )
            values: dict[str, Any] = {
                "state": change.state,
                "condition_active": True,
                "updated_at": now,
            }
            if detail:
                values["detail"] = detail[:1000]
            conn.execute(
                update(alarms).where(alarms.c.alarm_id == open_row.alarm_id).values(**values)
            )
            _publish(conn, hub, open_row.alarm_id)
            return int(open_row.alarm_id)
    result = conn.execute(
        alarms.insert().values(
            lane_id=lane_id,
            kind=kind,
            severity=severity,
            state="active",
            condition_active=True,
            source_event_id=source_event_id,
            transaction_id=transaction_id,
            detail=detail[:1000],
            raised_at=now,
            updated_at=now,
        )
    )
    alarm_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    _publish(conn, hub, alarm_id)
    return alarm_id


def clear_condition(conn: Connection, hub: LiveHub, *, lane_id: str, kind: str, now: float) -> int:
    """The lane says the condition of ``kind`` is gone; returns how many alarms changed."""
    rows = conn.execute(
        select(alarms).where(
            alarms.c.lane_id == lane_id,
            alarms.c.kind == kind,
            alarms.c.state != "cleared",
            alarms.c.condition_active.is_(True),
        )
    ).all()
    for row in rows:
        apply(conn, hub, row.alarm_id, "condition_clear", now=now, actor=None)
    return len(rows)


def apply(
    conn: Connection,
    hub: LiveHub,
    alarm_id: int,
    op: str,
    *,
    now: float,
    actor: str | None,
    shelve_until: float | None = None,
) -> dict[str, Any]:
    """Apply an operation to one alarm (officer or condition); returns the alarm."""
    row = conn.execute(select(alarms).where(alarms.c.alarm_id == alarm_id)).first()
    if row is None:
        raise NotFound(f"alarm {alarm_id} does not exist")
    change = transition(
        row.state, row.condition_active, op, acknowledged=row.acknowledged_at is not None
    )
    values: dict[str, Any] = {
        "state": change.state,
        "condition_active": change.condition_active,
        "updated_at": now,
    }
    if op == "acknowledge":
        values.update(acknowledged_by=actor, acknowledged_at=now)
    if op == "shelve":
        values["shelved_until"] = shelve_until
    if op == "unshelve":
        values["shelved_until"] = None
    if change.state == "cleared":
        values["cleared_at"] = now
    conn.execute(update(alarms).where(alarms.c.alarm_id == alarm_id).values(**values))
    return _publish(conn, hub, alarm_id)


def unshelve_due(conn: Connection, hub: LiveHub, now: float) -> int:
    due = (
        conn.execute(
            select(alarms.c.alarm_id).where(
                alarms.c.state == "shelved", alarms.c.shelved_until <= now
            )
        )
        .scalars()
        .all()
    )
    for alarm_id in due:
        apply(conn, hub, alarm_id, "unshelve", now=now, actor=None)
    return len(due)
