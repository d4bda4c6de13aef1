"""Durable hourly aggregates: what the statistics keep of purged rows.

The retention purge deletes transactions, device faults and outages after
``[retention] transaction_days``; the year-on-year KPI and the statistics of old periods must
survive it. So the purge folds every row it deletes into an aggregate without personal data,
in the same database transaction, from the rows the ``DELETE .. RETURNING`` itself returned:

- ``hourly_stats`` per (UTC hour, lane, port, direction, decision): passages, referral-reason
  counts, a passage-time histogram and the 10-bin face-similarity counts;
- ``hourly_lane`` per (UTC hour, lane): device faults by device (not the recoveries) and the
  seconds the lane was offline.

A row is therefore either still in its table or already in the aggregate, never in both and
never in neither, also when an event arrives late for an hour that was aggregated before (the
next purge adds it) or when several processes purge at once (they take one advisory lock on
PostgreSQL; SQLite has one writer). The statistics read both and add them up.

Passage times are kept in logarithmic bins of ratio ``DURATION_RATIO`` (1.01) with the count and
the sum of the values in each bin; a percentile over aggregated hours takes the mean of the bin
it falls in, which lies in the same bin as the exact nearest-rank value: less than 1 % off
(exact when the bin's values are equal). Hours that were not purged yet are exact.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, func, select, text, update
from sqlalchemy.engine import Connection

from central.db import device_faults, hourly_lane, hourly_stats, outages, transactions

HOUR = 3600
DURATION_RATIO = 1.01
_LOG_RATIO = math.log(DURATION_RATIO)
FACE_BINS = 10
CHUNK_SECONDS = 86400  # rows are deleted and folded a day at a time (bounded memory)
STAT_COLUMNS = (
    transactions.c.lane_id,
    transactions.c.port,
    transactions.c.direction,
    transactions.c.occurred_at,
    transactions.c.decision,
    transactions.c.reasons,
    transactions.c.duration_ms,
    transactions.c.face_similarity,
)
"""What the statistics use of a transaction: read from the rows still stored, and folded into
the hourly aggregate from the rows the purge deletes, in this order."""
_PURGE_LOCK_KEY = 0x70757267  # "purg": one purge at a time across processes (PostgreSQL)


def face_bin(score: float) -> int:
    return min(FACE_BINS - 1, max(0, int(score * 10)))


def duration_bin(ms: float) -> int:
    """The histogram bin of a passage time: ``floor(log(ms) / log(1.01))``, below 1 ms in 0."""
    return 0 if ms < 1 else math.floor(math.log(ms) / _LOG_RATIO)


class Durations:
    """Passage times of a statistic: exact values (rows not purged yet) plus histogram bins
    (aggregated hours, ``{bin: [count, sum]}``)."""

    __slots__ = ("bins", "exact")

    def __init__(self) -> None:
        self.exact: list[float] = []
        self.bins: dict[int, list[float]] = {}

    def add(self, value: float) -> None:
        self.exact.append(value)

    def add_bins(self, bins: dict[str, list[float]]) -> None:
        for key, (n, total) in bins.items():
            cur = self.bins.setdefault(int(key), [0, 0.0])
            cur[0] += n
            cur[1] += total

    def count(self) -> int:
        return len(self.exact) + int(sum(n for n, _ in self.bins.values()))

    def percentile(self, q: float) -> float | None:
        """Nearest-rank percentile (q in 0..100) over the exact values and, for each bin,
        its count times its mean; None for no values."""
        from central.stats import percentile

        if not self.bins:
            return percentile(self.exact, q)
        weighted = [(v, 1) for v in self.exact] + [
            (round(total / n, 3), int(n)) for n, total in self.bins.values() if n
        ]
        if not weighted:
            return None
        weighted.sort()
        rank = max(1, math.ceil(q / 100 * sum(n for _, n in weighted)))
        seen = 0
        for value, n in weighted:
            seen += n
            if seen >= rank:
                return value
        return weighted[-1][0]


def _hour(ts: float) -> float:
    return ts // HOUR * HOUR


def _chunks(conn: Connection, column: Any, limit: float) -> Iterable[float]:
    """Upper bounds (exclusive) for deleting the rows with ``column < limit`` a day at a time."""
    while True:
        first = conn.execute(select(func.min(column)).where(column < limit)).scalar()
        if first is None:
            return
        yield min(limit, (first // CHUNK_SECONDS + 1) * CHUNK_SECONDS)


def purge_into_aggregates(conn: Connection, limit: float) -> dict[str, int]:
    """Delete transactions and device faults that occurred before ``limit`` and outages that
    ended before it, folding each deleted row into the hourly aggregates; rows deleted per
    kind."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PURGE_LOCK_KEY})
    counts = {"transactions": 0, "device_faults": 0, "outages": 0}
    for bound in _chunks(conn, transactions.c.occurred_at, limit):
        tx_rows = conn.execute(
            transactions.delete().where(transactions.c.occurred_at < bound).returning(*STAT_COLUMNS)
        ).all()
        counts["transactions"] += len(tx_rows)
        _fold_transactions(conn, tx_rows)
    for bound in _chunks(conn, device_faults.c.occurred_at, limit):
        fault_rows = conn.execute(
            device_faults.delete()
            .where(device_faults.c.occurred_at < bound)
            .returning(
                device_faults.c.lane_id,
                device_faults.c.device,
                device_faults.c.recovered,
                device_faults.c.occurred_at,
            )
        ).all()
        counts["device_faults"] += len(fault_rows)
        faults: dict[tuple[float, str], Counter[str]] = defaultdict(Counter)
        for r in fault_rows:
            if not r.recovered:
                faults[(_hour(r.occurred_at), r.lane_id)][r.device] += 1
        _fold_lanes(conn, faults, {})
    outage_rows = conn.execute(
        outages.delete()
        .where(outages.c.ended_at < limit)
        .returning(outages.c.lane_id, outages.c.started_at, outages.c.ended_at)
    ).all()
    counts["outages"] = len(outage_rows)
    down: dict[tuple[float, str], float] = defaultdict(float)
    for o in outage_rows:
        t = _hour(o.started_at)
        while t < o.ended_at:
            down[(t, o.lane_id)] += min(o.ended_at, t + HOUR) - max(o.started_at, t)
            t += HOUR
    _fold_lanes(conn, {}, down)
    return counts


def _fold_transactions(conn: Connection, rows: Sequence[Any]) -> None:
    if not rows:
        return
    cells: dict[tuple[float, str, str, str, str], dict[str, Any]] = {}
    for r in rows:
        key = (_hour(r.occurred_at), r.lane_id, r.port, r.direction, r.decision)
        c = cells.get(key)
        if c is None:
            c = cells[key] = {"passages": 0, "reasons": Counter(), "durations": {}, "face": None}
            c["face"] = [0] * FACE_BINS
        c["passages"] += 1
        c["reasons"].update(json.loads(r.reasons or "[]"))
        if r.duration_ms is not None:
            b = c["durations"].setdefault(str(duration_bin(r.duration_ms)), [0, 0.0])
            b[0] += 1
            b[1] += r.duration_ms
        if r.face_similarity is not None:
            c["face"][face_bin(r.face_similarity)] += 1
    hours = [k[0] for k in cells]
    existing = {
        (e.hour, e.lane_id, e.port, e.direction, e.decision): e
        for e in conn.execute(
            select(hourly_stats).where(
                hourly_stats.c.hour >= min(hours), hourly_stats.c.hour <= max(hours)
            )
        )
    }
    inserts = []
    for key, c in cells.items():
        old = existing.get(key)
        if old is not None:
            c["passages"] += old.passages
            c["reasons"].update(json.loads(old.reasons))
            for b, (n, total) in json.loads(old.durations).items():
                cur = c["durations"].setdefault(b, [0, 0.0])
                cur[0] += n
                cur[1] += total
            c["face"] = [a + b for a, b in zip(c["face"], json.loads(old.face_counts), strict=True)]
        values = {
            "passages": c["passages"],
            "reasons": json.dumps(dict(sorted(c["reasons"].items()))),
            "durations": json.dumps(dict(sorted(c["durations"].items(), key=lambda i: int(i[0])))),
            "face_counts": json.dumps(c["face"]),
        }
        if old is None:
            inserts.append(
                dict(zip(("hour", "lane_id", "port", "direction", "decision"), key, strict=True))
                | values
            )
        else:
            conn.execute(
                update(hourly_stats)
                .where(
                    and_(
                        hourly_stats.c.hour == key[0],
                        hourly_stats.c.lane_id == key[1],
                        hourly_stats.c.port == key[2],
                        hourly_stats.c.direction == key[3],
                        hourly_stats.c.decision == key[4],
                    )
                )
                .values(**values)
            )
    if inserts:
        conn.execute(hourly_stats.insert(), inserts)


def _fold_lanes(
    conn: Connection,
    faults: dict[tuple[float, str], Counter[str]],
    down: dict[tuple[float, str], float],
) -> None:
    keys = set(faults) | set(down)
    if not keys:
        return
    hours = [k[0] for k in keys]
    existing = {
        (e.hour, e.lane_id): e
        for e in conn.execute(
            select(hourly_lane).where(
                hourly_lane.c.hour >= min(hours), hourly_lane.c.hour <= max(hours)
            )
        )
    }
    inserts = []
    for key in keys:
        counted: Counter[str] = Counter(faults.get(key, {}))
        seconds = down.get(key, 0.0)
        old = existing.get(key)
        if old is None:
            inserts.append(
                {
                    "hour": key[0],
                    "lane_id": key[1],
                    "faults": json.dumps(dict(sorted(counted.items()))),
                    "down_seconds": seconds,
                }
            )
            continue
        counted.update(json.loads(old.faults))
        conn.execute(
            update(hourly_lane)
            .where(hourly_lane.c.hour == key[0], hourly_lane.c.lane_id == key[1])
            .values(
                faults=json.dumps(dict(sorted(counted.items()))),
                down_seconds=old.down_seconds + seconds,
            )
        )
    if inserts:
        conn.execute(hourly_lane.insert(), inserts)


def aggregated_stats(
    conn: Connection, start: float, end: float, port: str | None, lane_id: str | None
) -> list[Any]:
    """Aggregated transaction cells whose hour starts in [start, end)."""
    q = select(hourly_stats).where(hourly_stats.c.hour >= start, hourly_stats.c.hour < end)
    if port:
        q = q.where(hourly_stats.c.port == port)
    if lane_id:
        q = q.where(hourly_stats.c.lane_id == lane_id)
    return list(conn.execute(q))


def aggregated_lanes(conn: Connection, start: float, end: float, lane_id: str | None) -> list[Any]:
    """Aggregated lane cells (faults, offline seconds) whose hour starts in [start, end)."""
    q = select(hourly_lane).where(hourly_lane.c.hour >= start, hourly_lane.c.hour < end)
    if lane_id:
        q = q.where(hourly_lane.c.lane_id == lane_id)
    return list(conn.execute(q))
