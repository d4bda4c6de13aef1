"""The retention purge: transactions after ``[retention] transaction_days``, portraits of
referrals after ``portrait_hours``, foreign-national record portraits with their transaction
(``transaction_days``); the audit log never. Transactions, device faults and outages are folded
into the hourly aggregates (:mod:`central.hourly`) in the same transaction that deletes them.
Runs in the service every ``purge_interval_minutes`` and as ``egate central purge``; each run
is counted in /metrics and written to the audit log (as actor ``system``)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Table

from central import audit
from central.db import (
    alarms,
    commands,
    events,
    portraits,
    referrals,
    sessions,
)
from central.deps import Central
from central.hourly import purge_into_aggregates
from central.review import FOREIGN_NATIONAL_RECORD, REFERRAL


def purge(central: Central) -> dict[str, int]:
    """Delete what is past its retention; returns rows deleted per kind."""
    started = time.perf_counter()
    now = central.now()
    keep = central.config.retention
    tx_limit = now - keep.transaction_days * 86400
    portrait_limit = now - keep.portrait_hours * 3600
    plan: list[tuple[str, Table, Any]] = [
        (
            "portraits",
            portraits,
            ((portraits.c.purpose == REFERRAL) & (portraits.c.stored_at < portrait_limit))
            | (
                (portraits.c.purpose == FOREIGN_NATIONAL_RECORD)
                & (portraits.c.stored_at < tx_limit)
            ),
        ),
        ("events", events, events.c.received_at < tx_limit),
        ("referrals", referrals, referrals.c.created_at < tx_limit),
        ("commands", commands, commands.c.issued_at < tx_limit),
        ("alarms", alarms, (alarms.c.state == "cleared") & (alarms.c.updated_at < tx_limit)),
        ("sessions", sessions, sessions.c.expires_at < now),
    ]
    counts: dict[str, int] = {}
    with central.db.write() as conn:
        # transactions, device faults and outages are folded into the hourly aggregates as
        # they are deleted (central/hourly.py): the statistics of old periods survive
        counts.update(purge_into_aggregates(conn, tx_limit))
        for kind, table, condition in plan:
            counts[kind] = int(conn.execute(table.delete().where(condition)).rowcount)
        audit.append(conn, at=now, actor="system", action="retention_purge", detail=counts)
    metrics = central.metrics
    metrics.purge_runs.inc()
    for kind, n in counts.items():
        metrics.purged.labels(kind).inc(n)
    metrics.purge_seconds.set(time.perf_counter() - started)
    metrics.purge_last.set(now)
    return counts
