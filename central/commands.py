"""Commands to lanes: queued durably, delivered once, acknowledged, expiring.

A command is ``queued`` until a lane fetches it. Fetching flips it to ``delivered`` with one
conditional UPDATE (``WHERE status = 'queued' AND expires_at > now``): when two central
processes serve two fetches at once, the database lets exactly one of them change the row, so a
command reaches the lane at most once. A command nobody fetched before ``expires_at`` becomes
``expired`` and is never delivered: an old "release exit" cannot open a door late. The lane's
acknowledgement (``done``, ``refused``, ``expired``, ``failed``) closes it (``acknowledged``).
A delivered command still without acknowledgement at ``expires_at`` becomes ``unacknowledged``
(the lane may or may not have executed it; officers see it as such); an acknowledgement that
arrives later still closes it as ``acknowledged``.

    queued --fetch--> delivered --ack--> acknowledged
    queued --expires_at--> expired
    delivered --expires_at--> unacknowledged --late ack--> acknowledged
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from central.db import commands, dumps
from central.errors import Conflict, NotFound
from central.live import LiveHub
from gate.events import CommandAction, CommandResult


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


def command_dict(row: Any) -> dict[str, Any]:
    return {
        "command_id": row.command_id,
        "lane_id": row.lane_id,
        "action": row.action,
        "args": json.loads(row.args or "{}"),
        "issued_at": iso(row.issued_at),
        "expires_at": iso(row.expires_at),
        "issued_by": row.issued_by,
        "status": row.status,
        "delivered_at": iso(row.delivered_at),
        "result": row.result,
        "detail": row.detail,
        "acked_at": iso(row.acked_at),
    }


def wire(row: Any) -> dict[str, Any]:
    """The command as the lane receives it (docs/lane-central-api.md)."""
    return {
        "command_id": row.command_id,
        "action": row.action,
        "args": json.loads(row.args or "{}"),
        "issued_at": iso(row.issued_at),
        "expires_at": iso(row.expires_at),
    }


def _publish(conn: Connection, hub: LiveHub, row: Any) -> None:
    hub.publish(conn, "command", command_dict(row))


def issue(
    conn: Connection,
    hub: LiveHub,
    *,
    lane_id: str,
    action: CommandAction,
    args: dict[str, Any],
    issued_by: str,
    now: float,
    ttl_seconds: float,
) -> dict[str, Any]:
    command_id = str(uuid.uuid4())
    conn.execute(
        commands.insert().values(
            command_id=command_id,
            lane_id=lane_id,
            action=action.value,
            args=dumps(args),
            issued_at=now,
            expires_at=now + ttl_seconds,
            issued_by=issued_by,
            status="queued",
            detail="",
        )
    )
    row = conn.execute(select(commands).where(commands.c.command_id == command_id)).one()
    _publish(conn, hub, row)
    return command_dict(row)


def deliver(conn: Connection, hub: LiveHub, lane_id: str, now: float, limit: int = 20) -> list[Any]:
    """Take the lane's pending commands (oldest first), each at most once."""
    candidates = (
        conn.execute(
            select(commands.c.command_id)
            .where(
                commands.c.lane_id == lane_id,
                commands.c.status == "queued",
                commands.c.expires_at > now,
            )
            .order_by(commands.c.issued_at)
            .limit(limit)
        )
        .scalars()
        .all()
    )
    if not candidates:
        return []
    rows = conn.execute(
        update(commands)
        .where(
            commands.c.command_id.in_(candidates),
            commands.c.status == "queued",
            commands.c.expires_at > now,
        )
        .values(status="delivered", delivered_at=now)
        .returning(*commands.c)
    ).all()
    rows = sorted(rows, key=lambda r: r.issued_at)
    for row in rows:
        _publish(conn, hub, row)
    return rows


def acknowledge(
    conn: Connection,
    hub: LiveHub,
    *,
    lane_id: str,
    command_id: str,
    result: CommandResult,
    detail: str,
    now: float,
) -> dict[str, Any]:
    row = conn.execute(
        select(commands).where(commands.c.command_id == command_id, commands.c.lane_id == lane_id)
    ).first()
    if row is None:
        raise NotFound(f"command {command_id} does not exist for lane {lane_id}")
    if row.status == "acknowledged":
        if row.result == result.value:
            return command_dict(row)  # a resent acknowledgement
        raise Conflict(f"command {command_id} was already acknowledged as {row.result!r}")
    if row.status not in ("delivered", "unacknowledged"):
        raise Conflict(f"command {command_id} is {row.status}, it was never delivered")
    conn.execute(
        update(commands)
        .where(commands.c.command_id == command_id)
        .values(status="acknowledged", result=result.value, detail=detail[:500], acked_at=now)
    )
    row = conn.execute(select(commands).where(commands.c.command_id == command_id)).one()
    _publish(conn, hub, row)
    return command_dict(row)


def expire_due(conn: Connection, hub: LiveHub, now: float) -> int:
    """Queued commands past ``expires_at`` -> ``expired``; how many."""
    return _lapse(conn, hub, now, "queued", "expired")


def unacknowledged_due(conn: Connection, hub: LiveHub, now: float) -> int:
    """Delivered commands past ``expires_at`` without acknowledgement -> ``unacknowledged``;
    how many."""
    return _lapse(conn, hub, now, "delivered", "unacknowledged")


def _lapse(conn: Connection, hub: LiveHub, now: float, status: str, becomes: str) -> int:
    rows = conn.execute(
        update(commands)
        .where(commands.c.status == status, commands.c.expires_at <= now)
        .values(status=becomes)
        .returning(*commands.c)
    ).all()
    for row in rows:
        _publish(conn, hub, row)
    return len(rows)
