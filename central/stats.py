"""Statistics, exports and public open data.

Figures are computed from the ``transactions``, ``device_faults`` and ``outages`` tables over a
period (UTC). "Automated-clearance usage" counts accepted passages (自動通關使用人次); its
change against the same period a year earlier is the agency's KPI (target +10 % a year).
``/open-data/crossings`` is public: crossings per port, direction and hour, with every cell
under ``[open_data] min_cell_count`` suppressed (value null, ``suppressed: true``) so that no
small group of travellers can be singled out.

Rows past ``[retention] transaction_days`` are purged, but not from the statistics: the purge
folds them into hourly aggregates (:mod:`central.hourly`) and every figure here adds the
aggregate of the hours that start in the period to the rows still stored. Percentiles over
aggregated hours are less than 1 % off; hours not purged yet are exact. "The same period a year
earlier" is the same calendar date and time a year before (29 February -> 28 February).
"""

from __future__ import annotations

import csv
import io
import json
import math
from bisect import bisect_left
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from central.db import device_faults, lanes, outages, transactions
from central.deps import OFFICER_AUTH, Central, get_central, require_officer
from central.hourly import (
    STAT_COLUMNS,
    Durations,
    aggregated_lanes,
    aggregated_stats,
    face_bin,
)
from central.responses import BAD_PERIOD, BreakdownBody, CrossingsBody, PassagesBody, json_or_csv
from central.security import Officer

router = APIRouter(tags=["statistics"])

KPI_TARGET_PERCENT = 10.0
MAX_PERIOD_DAYS = 366
AUTH = OFFICER_AUTH


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _period(since: date | None, until: date | None, now: float) -> tuple[float, float]:
    end = (
        datetime.combine(until, datetime.min.time(), UTC) + timedelta(days=1)
        if until
        else datetime.fromtimestamp(now, UTC)
    )
    start = datetime.combine(since, datetime.min.time(), UTC) if since else end - timedelta(days=1)
    if start >= end:
        raise HTTPException(400, "'from' must be before 'to'")
    if end - start > timedelta(days=MAX_PERIOD_DAYS):
        raise HTTPException(400, f"a period of at most {MAX_PERIOD_DAYS} days")
    return start.timestamp(), end.timestamp()


def year_earlier(ts: float) -> float:
    """The same calendar date and time a year before (29 February -> 28 February)."""
    at = datetime.fromtimestamp(ts, UTC)
    day = 28 if (at.month, at.day) == (2, 29) else at.day
    return at.replace(year=at.year - 1, day=day).timestamp()


def year_earlier_period(start: float, end: float) -> tuple[float, float]:
    """[start, end) a year earlier: the start's calendar time, and the end of the hour that
    is a year before the period's last hour (so a period ending at midnight after 29 February
    ends a year earlier at midnight after 28 February, not on it)."""
    return year_earlier(start), max(year_earlier(start), year_earlier(end - 3600) + 3600)


def _rows(
    conn: Connection, start: float, end: float, port: str | None, lane_id: str | None
) -> list[Any]:
    q = select(*STAT_COLUMNS).where(
        transactions.c.occurred_at >= start, transactions.c.occurred_at < end
    )
    if port:
        q = q.where(transactions.c.port == port)
    if lane_id:
        q = q.where(transactions.c.lane_id == lane_id)
    return list(conn.execute(q))


def _count_accepted(
    conn: Connection, start: float, end: float, port: str | None, lane_id: str | None
) -> int:
    raw = sum(1 for r in _rows(conn, start, end, port, lane_id) if r.decision == "accepted")
    return raw + sum(
        a.passages
        for a in aggregated_stats(conn, start, end, port, lane_id)
        if a.decision == "accepted"
    )


def _accepted_times(
    conn: Connection, start: float, end: float, port: str | None, lane_id: str | None
) -> list[tuple[float, str, str, int]]:
    """(time, lane, port, count) of accepted passages in [start, end): one per stored row,
    one per aggregated hour."""
    out = [
        (r.occurred_at, r.lane_id, r.port, 1)
        for r in _rows(conn, start, end, port, lane_id)
        if r.decision == "accepted"
    ]
    out += [
        (a.hour, a.lane_id, a.port, a.passages)
        for a in aggregated_stats(conn, start, end, port, lane_id)
        if a.decision == "accepted"
    ]
    return out


def _availability(
    conn: Connection, start: float, end: float, lane_id: str | None
) -> dict[str, float]:
    q = select(lanes.c.lane_id, lanes.c.registered_at)
    if lane_id:
        q = q.where(lanes.c.lane_id == lane_id)
    registered = {r.lane_id: r.registered_at for r in conn.execute(q)}
    down: dict[str, float] = defaultdict(float)
    for r in conn.execute(
        select(outages).where(
            outages.c.started_at < end,
            (outages.c.ended_at.is_(None)) | (outages.c.ended_at > start),
        )
    ):
        if r.lane_id in registered:
            down[r.lane_id] += min(end, r.ended_at or end) - max(start, r.started_at)
    for a in aggregated_lanes(conn, start, end, lane_id):
        if a.lane_id in registered:
            down[a.lane_id] += a.down_seconds
    out = {}
    for lane, reg in registered.items():
        span = end - max(start, reg)
        out[lane] = 1.0 if span <= 0 else round(max(0.0, 1 - down[lane] / span), 4)
    return out


def summary(
    conn: Connection, start: float, end: float, port: str | None, lane_id: str | None
) -> dict[str, Any]:
    rows = _rows(conn, start, end, port, lane_id)
    aggregated = aggregated_stats(conn, start, end, port, lane_id)
    by_decision = Counter(r.decision for r in rows)
    reasons: Counter[str] = Counter()
    for r in rows:
        if r.decision == "referred":
            reasons.update(json.loads(r.reasons))
    durations = Durations()
    for r in rows:
        if r.duration_ms is not None and r.decision == "accepted":
            durations.add(r.duration_ms)
    bins = [0] * 10
    for r in rows:
        if r.face_similarity is not None:
            bins[face_bin(r.face_similarity)] += 1
    for a in aggregated:
        by_decision[a.decision] += a.passages
        if a.decision == "referred":
            reasons.update(json.loads(a.reasons))
        if a.decision == "accepted":
            durations.add_bins(json.loads(a.durations))
        bins = [x + y for x, y in zip(bins, json.loads(a.face_counts), strict=True)]
    fq = select(device_faults.c.device, device_faults.c.code).where(
        device_faults.c.occurred_at >= start,
        device_faults.c.occurred_at < end,
        device_faults.c.recovered.is_(False),
    )
    if lane_id:
        fq = fq.where(device_faults.c.lane_id == lane_id)
    faults = Counter(r.device for r in conn.execute(fq))
    for lane_cell in aggregated_lanes(conn, start, end, lane_id):
        faults.update(json.loads(lane_cell.faults))
    usage = by_decision.get("accepted", 0)
    previous = _count_accepted(conn, *year_earlier_period(start, end), port, lane_id)
    change = None if previous == 0 else round((usage - previous) / previous * 100, 2)
    return {
        "from": datetime.fromtimestamp(start, UTC).isoformat(),
        "to": datetime.fromtimestamp(end, UTC).isoformat(),
        "port": port,
        "lane_id": lane_id,
        "passages": sum(by_decision.values()),
        "by_decision": dict(sorted(by_decision.items())),
        "referral_reasons": dict(reasons.most_common()),
        "passage_time_ms": {
            "median": durations.percentile(50),
            "p95": durations.percentile(95),
            "count": durations.count(),
        },
        "face_similarity_histogram": {
            "bins": [round(i / 10, 1) for i in range(11)],
            "counts": bins,
        },
        "device_faults": dict(sorted(faults.items())),
        "availability": _availability(conn, start, end, lane_id),
        "usage": {
            "automated_clearances": usage,
            "same_period_last_year": previous,
            "change_percent": change,
            "target_percent": KPI_TARGET_PERCENT,
            "on_target": None if change is None else change >= KPI_TARGET_PERCENT,
        },
    }


def passages(
    conn: Connection,
    start: float,
    end: float,
    bucket: str,
    group: str,
    port: str | None,
    lane_id: str | None,
) -> list[dict[str, Any]]:
    size = 3600 if bucket == "hour" else 86400
    cells: dict[tuple[float, str, str], tuple[list[int], Durations]] = {}

    def cell(t: float, key: str, decision: str) -> tuple[list[int], Durations]:
        found = cells.get((t, key, decision))
        if found is None:
            found = cells[(t, key, decision)] = ([0], Durations())
        return found

    for r in _rows(conn, start, end, port, lane_id):
        key = r.lane_id if group == "lane" else r.port
        count, known = cell(r.occurred_at // size * size, key, r.decision)
        count[0] += 1
        if r.duration_ms is not None:
            known.add(r.duration_ms)
    for a in aggregated_stats(conn, start, end, port, lane_id):
        key = a.lane_id if group == "lane" else a.port
        count, known = cell(a.hour // size * size, key, a.decision)
        count[0] += a.passages
        known.add_bins(json.loads(a.durations))
    out = []
    for (t, key, decision), (count, known) in sorted(cells.items(), key=lambda i: i[0]):
        out.append(
            {
                "bucket_start": datetime.fromtimestamp(t, UTC).isoformat(),
                group: key,
                "decision": decision,
                "count": count[0],
                "median_ms": known.percentile(50),
                "p95_ms": known.percentile(95),
            }
        )
    return out


MAX_HOURLY_DAYS = 31
DECISIONS = ("accepted", "rejected", "referred", "aborted")


def _down_seconds(
    conn: Connection, start: float, end: float, size: int, lane_ids: set[str]
) -> dict[tuple[float, str], float]:
    """Offline seconds per (bucket start, lane), from the outages table."""
    down: dict[tuple[float, str], float] = defaultdict(float)
    for r in conn.execute(
        select(outages).where(
            outages.c.started_at < end,
            (outages.c.ended_at.is_(None)) | (outages.c.ended_at > start),
        )
    ):
        if r.lane_id not in lane_ids:
            continue
        a, b = max(start, r.started_at), min(end, r.ended_at or end)
        t = a // size * size
        while t < b:
            down[(t, r.lane_id)] += min(b, t + size) - max(a, t)
            t += size
    for aggregated in aggregated_lanes(conn, start, end, None):
        if aggregated.lane_id in lane_ids:
            down[(aggregated.hour // size * size, aggregated.lane_id)] += aggregated.down_seconds
    return down


def breakdown(
    conn: Connection,
    start: float,
    end: float,
    bucket: str,
    group: str,
    port: str | None,
    lane_id: str | None,
) -> list[dict[str, Any]]:
    """Every figure of :func:`summary` per hour or day and per lane or port: one row per
    (bucket, lane or port) for every lane in scope, also when nothing passed."""
    size = 3600 if bucket == "hour" else 86400
    lq = select(lanes.c.lane_id, lanes.c.port, lanes.c.registered_at)
    if port:
        lq = lq.where(lanes.c.port == port)
    if lane_id:
        lq = lq.where(lanes.c.lane_id == lane_id)
    lane_rows = list(conn.execute(lq))
    port_of = {r.lane_id: r.port for r in lane_rows}
    registered = {r.lane_id: r.registered_at for r in lane_rows}
    keys = sorted(set(port_of.values()) if group == "port" else set(port_of))
    lanes_of: dict[str, list[str]] = defaultdict(list)
    for lane, p in port_of.items():
        lanes_of[p if group == "port" else lane].append(lane)

    def key_of(lane: str, row_port: str) -> str:
        return row_port if group == "port" else lane

    cells: dict[tuple[float, str], dict[str, Any]] = {}

    def cell(t: float, key: str) -> dict[str, Any]:
        found = cells.get((t, key))
        if found is None:
            found = cells[(t, key)] = {
                "decisions": Counter(),
                "reasons": Counter(),
                "durations": Durations(),
                "bins": [0] * 10,
                "faults": 0,
                "last_year": 0,
            }
        return found

    first = start // size * size
    t = first
    while t < end:
        for key in keys:
            cell(t, key)
        t += size
    for r in _rows(conn, start, end, port, lane_id):
        if r.lane_id not in port_of:
            continue
        c = cell(r.occurred_at // size * size, key_of(r.lane_id, r.port))
        c["decisions"][r.decision] += 1
        if r.decision == "referred":
            c["reasons"].update(json.loads(r.reasons))
        if r.decision == "accepted" and r.duration_ms is not None:
            c["durations"].add(r.duration_ms)
        if r.face_similarity is not None:
            c["bins"][face_bin(r.face_similarity)] += 1
    for a in aggregated_stats(conn, start, end, port, lane_id):
        if a.lane_id not in port_of:
            continue
        c = cell(a.hour // size * size, key_of(a.lane_id, a.port))
        c["decisions"][a.decision] += a.passages
        if a.decision == "referred":
            c["reasons"].update(json.loads(a.reasons))
        if a.decision == "accepted":
            c["durations"].add_bins(json.loads(a.durations))
        c["bins"] = [x + y for x, y in zip(c["bins"], json.loads(a.face_counts), strict=True)]
    # each bucket against the same calendar span a year earlier
    last_year: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for at, lane, row_port, n in _accepted_times(
        conn, *year_earlier_period(start, end), port, lane_id
    ):
        if lane in port_of:
            last_year[key_of(lane, row_port)].append((at, n))
    for times in last_year.values():
        times.sort()
    for (t, key), c in cells.items():
        series = last_year.get(key)
        if series:
            lo, hi = year_earlier_period(max(start, t), min(end, t + size))
            first = bisect_left(series, (lo, -1))
            last = bisect_left(series, (hi, -1))
            c["last_year"] = sum(n for _, n in series[first:last])
    fq = select(device_faults.c.lane_id, device_faults.c.occurred_at).where(
        device_faults.c.occurred_at >= start,
        device_faults.c.occurred_at < end,
        device_faults.c.recovered.is_(False),
    )
    for r in conn.execute(fq):
        if r.lane_id in port_of:
            cell(r.occurred_at // size * size, key_of(r.lane_id, port_of[r.lane_id]))["faults"] += 1
    for lane_cell in aggregated_lanes(conn, start, end, lane_id):
        if lane_cell.lane_id in port_of:
            c = cell(
                lane_cell.hour // size * size, key_of(lane_cell.lane_id, port_of[lane_cell.lane_id])
            )
            c["faults"] += sum(json.loads(lane_cell.faults).values())
    down = _down_seconds(conn, start, end, size, set(port_of))
    out = []
    for (t, key), c in sorted(cells.items()):
        spans = []
        for lane in lanes_of[key]:
            span = min(end, t + size) - max(start, t, registered[lane])
            if span > 0:
                spans.append(max(0.0, 1 - down.get((t, lane), 0.0) / span))
        usage = c["decisions"]["accepted"]
        change = (
            None
            if c["last_year"] == 0
            else round((usage - c["last_year"]) / c["last_year"] * 100, 2)
        )
        out.append(
            {
                "bucket_start": datetime.fromtimestamp(t, UTC).isoformat(),
                group: key,
                "passages": sum(c["decisions"].values()),
                **{d: c["decisions"][d] for d in DECISIONS},
                "referral_reasons": dict(c["reasons"].most_common()),
                "median_ms": c["durations"].percentile(50),
                "p95_ms": c["durations"].percentile(95),
                "face_similarity_counts": c["bins"],
                "device_faults": c["faults"],
                "availability": round(sum(spans) / len(spans), 4) if spans else None,
                "automated_clearances": usage,
                "same_period_last_year": c["last_year"],
                "change_percent": change,
            }
        )
    return out


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    """A breakdown row for CSV: reasons as ``CODE:n;...``, histogram as ``n;n;...``."""
    return {
        **row,
        "referral_reasons": ";".join(f"{k}:{v}" for k, v in row["referral_reasons"].items()),
        "face_similarity_counts": ";".join(str(n) for n in row["face_similarity_counts"]),
    }


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0].keys()), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buf.getvalue()


Format = Literal["json", "csv"]
FromQ = Annotated[date | None, Query(alias="from", description="first day (UTC), YYYY-MM-DD")]
ToQ = Annotated[date | None, Query(alias="to", description="last day (UTC), YYYY-MM-DD")]
PortQ = Annotated[str | None, Query(max_length=16)]
LaneQ = Annotated[str | None, Query(max_length=64)]


@router.get(
    "/api/v1/stats/summary",
    summary="Statistics of a period (default: last 24 h)",
    responses={**AUTH, **BAD_PERIOD},
)
async def stats_summary(
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_officer),
    since: FromQ = None,
    until: ToQ = None,
    port: PortQ = None,
    lane_id: LaneQ = None,
) -> dict[str, Any]:
    """Passages by decision, referral reasons, median and p95 passage time (accepted
    passages), face-score histogram, device faults, availability per lane, and the
    automated-clearance usage against the same period a year earlier."""
    start, end = _period(since, until, central.now())

    def work() -> dict[str, Any]:
        with central.db.read() as conn:
            return summary(conn, start, end, port, lane_id)

    return await run_in_threadpool(work)


@router.get(
    "/api/v1/stats/passages",
    summary="Passages per hour or day, by lane or port and decision (JSON or CSV)",
    responses={**AUTH, **BAD_PERIOD, **json_or_csv(PassagesBody, "passages per bucket")},
)
async def stats_passages(
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_officer),
    since: FromQ = None,
    until: ToQ = None,
    port: PortQ = None,
    lane_id: LaneQ = None,
    bucket: Literal["hour", "day"] = "hour",
    group: Literal["lane", "port"] = "lane",
    format: Format = "json",
) -> Response:
    start, end = _period(since, until, central.now())

    def work() -> list[dict[str, Any]]:
        with central.db.read() as conn:
            return passages(conn, start, end, bucket, group, port, lane_id)

    return _rows_response(await run_in_threadpool(work), format, "passages", rows_csv=None)


@router.get(
    "/api/v1/stats/breakdown",
    summary="Every statistic per hour or day and per lane or port (JSON or CSV)",
    responses={**AUTH, **BAD_PERIOD, **json_or_csv(BreakdownBody, "figures per bucket")},
)
async def stats_breakdown(
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_officer),
    since: FromQ = None,
    until: ToQ = None,
    port: PortQ = None,
    lane_id: LaneQ = None,
    bucket: Literal["hour", "day"] = "hour",
    group: Literal["lane", "port"] = "lane",
    format: Format = "json",
) -> Response:
    """One row per bucket and lane (or port), also when nothing passed: passages by
    decision, referral reasons, median and p95 passage time of accepted passages, face
    similarity counts in 10 bins of 0.1, device faults, availability (share of the bucket not
    offline; the mean of the port's lanes), and the automated-clearance usage against the same
    bucket a year earlier. Hourly buckets for periods of at most 31 days."""
    start, end = _period(since, until, central.now())
    if bucket == "hour" and end - start > MAX_HOURLY_DAYS * 86400:
        raise HTTPException(400, f"hourly buckets for at most {MAX_HOURLY_DAYS} days")

    def work() -> list[dict[str, Any]]:
        with central.db.read() as conn:
            return breakdown(conn, start, end, bucket, group, port, lane_id)

    rows = await run_in_threadpool(work)
    return _rows_response(rows, format, "breakdown", rows_csv=[_flat(r) for r in rows])


def _rows_response(
    rows: list[dict[str, Any]],
    format: str,
    name: str,
    *,
    rows_csv: list[dict[str, Any]] | None,
) -> Response:
    """``{"rows": [...]}`` as JSON, or the rows as a CSV attachment ``NAME.csv`` (``rows_csv``:
    the rows flattened for CSV when they nest)."""
    if format == "csv":
        return Response(
            to_csv(rows if rows_csv is None else rows_csv),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return Response(json.dumps({"rows": rows}), media_type="application/json")


OPEN_DATA_FIELDS = {
    "port": "border crossing point code",
    "direction": "arrival or departure",
    "hour": "start of the hour (UTC, ISO 8601)",
    "crossings": "automated-clearance passages (accepted); null when suppressed",
    "suppressed": "true when the count was below the minimum cell size and is withheld",
}


def crossings(conn: Connection, start: float, end: float, minimum: int) -> list[dict[str, Any]]:
    counts: Counter[tuple[str, str, float]] = Counter()
    for r in conn.execute(
        select(transactions.c.port, transactions.c.direction, transactions.c.occurred_at).where(
            transactions.c.occurred_at >= start,
            transactions.c.occurred_at < end,
            transactions.c.decision == "accepted",
        )
    ):
        counts[(r.port, r.direction, r.occurred_at // 3600 * 3600)] += 1
    for a in aggregated_stats(conn, start, end, None, None):
        if a.decision == "accepted":
            counts[(a.port, a.direction, a.hour)] += a.passages
    out = []
    for (port, direction, hour), n in sorted(counts.items()):
        hidden = n < minimum
        out.append(
            {
                "port": port,
                "direction": direction,
                "hour": datetime.fromtimestamp(hour, UTC).isoformat(),
                "crossings": None if hidden else n,
                "suppressed": hidden,
            }
        )
    return out


@router.get(
    "/open-data/crossings",
    tags=["open data"],
    summary="Public: automated crossings per port, direction and hour",
    responses={**BAD_PERIOD, **json_or_csv(CrossingsBody, "crossings of the day")},
)
async def open_data_crossings(
    central: Central = Depends(get_central),
    day: Annotated[date | None, Query(alias="date", description="UTC day (default: today)")] = None,
    format: Format = "json",
) -> Response:
    """No login. Cells with fewer crossings than ``[open_data] min_cell_count`` are suppressed.
    Fields: port, direction, hour, crossings, suppressed. Licence in the JSON metadata and in
    docs/central.md."""
    cfg = central.config.open_data
    today = datetime.fromtimestamp(central.now(), UTC).date()
    chosen = day or today
    if chosen > today:
        raise HTTPException(400, "no data for a future day")
    start = datetime.combine(chosen, datetime.min.time(), UTC).timestamp()

    def work() -> list[dict[str, Any]]:
        with central.db.read() as conn:
            return crossings(conn, start, start + 86400, cfg.min_cell_count)

    rows = await run_in_threadpool(work)
    if format == "csv":
        return Response(
            to_csv(rows) or "port,direction,hour,crossings,suppressed\n",
            media_type="text/csv; charset=utf-8",
            headers={"X-Licence": cfg.licence, "Cache-Control": "max-age=300"},
        )
    body = {
        "date": chosen.isoformat(),
        "licence": cfg.licence,
        "publisher": cfg.publisher,
        "min_cell_count": cfg.min_cell_count,
        "fields": OPEN_DATA_FIELDS,
        "rows": rows,
    }
    return Response(
        json.dumps(body), media_type="application/json", headers={"Cache-Control": "max-age=300"}
    )
