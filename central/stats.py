"""Statistics, exports and public open data.

Figures are computed from the ``transactions``, ``device_faults`` and ``outages`` tables over a
period (UTC). "Automated-clearance usage" counts accepted passages (自動通關使用人次); its
change against the same period a year earlier is the agency's KPI (target +10 % a year).
``/open-data/crossings`` is public: crossings per port, direction and hour, with every cell
under ``[open_data] min_cell_count`` suppressed (value null, ``suppressed: true``) so that no
small group of travellers can be singled out.
"""

from __future__ import annotations

import csv
import io
import json
import math
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


def _rows(
    conn: Connection, start: float, end: float, port: str | None, lane_id: str | None
) -> list[Any]:
    q = select(
        transactions.c.lane_id,
        transactions.c.port,
        transactions.c.direction,
        transactions.c.occurred_at,
        transactions.c.decision,
        transactions.c.reasons,
        transactions.c.duration_ms,
        transactions.c.face_similarity,
    ).where(transactions.c.occurred_at >= start, transactions.c.occurred_at < end)
    if port:
        q = q.where(transactions.c.port == port)
    if lane_id:
        q = q.where(transactions.c.lane_id == lane_id)
    return list(conn.execute(q))


def _count_accepted(
    conn: Connection, start: float, end: float, port: str | None, lane_id: str | None
) -> int:
    return sum(1 for r in _rows(conn, start, end, port, lane_id) if r.decision == "accepted")


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
    out = {}
    for lane, reg in registered.items():
        span = end - max(start, reg)
        out[lane] = 1.0 if span <= 0 else round(max(0.0, 1 - down[lane] / span), 4)
    return out


def summary(
    conn: Connection, start: float, end: float, port: str | None, lane_id: str | None
) -> dict[str, Any]:
    rows = _rows(conn, start, end, port, lane_id)
    by_decision = Counter(r.decision for r in rows)
    reasons: Counter[str] = Counter()
    for r in rows:
        if r.decision == "referred":
            reasons.update(json.loads(r.reasons))
    durations = [
        r.duration_ms for r in rows if r.duration_ms is not None and r.decision == "accepted"
    ]
    bins = [0] * 10
    for r in rows:
        if r.face_similarity is not None:
            bins[min(9, max(0, int(r.face_similarity * 10)))] += 1
    fq = select(device_faults.c.device, device_faults.c.code).where(
        device_faults.c.occurred_at >= start,
        device_faults.c.occurred_at < end,
        device_faults.c.recovered.is_(False),
    )
    if lane_id:
        fq = fq.where(device_faults.c.lane_id == lane_id)
    faults = Counter(r.device for r in conn.execute(fq))
    year = 365 * 86400.0
    usage = by_decision.get("accepted", 0)
    previous = _count_accepted(conn, start - year, end - year, port, lane_id)
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
            "median": percentile(durations, 50),
            "p95": percentile(durations, 95),
            "count": len(durations),
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
    cells: dict[tuple[float, str, str], list[float | None]] = defaultdict(list)
    for r in _rows(conn, start, end, port, lane_id):
        key = r.lane_id if group == "lane" else r.port
        cells[(r.occurred_at // size * size, key, r.decision)].append(r.duration_ms)
    out = []
    for (t, key, decision), durations in sorted(cells.items()):
        known = [d for d in durations if d is not None]
        out.append(
            {
                "bucket_start": datetime.fromtimestamp(t, UTC).isoformat(),
                group: key,
                "decision": decision,
                "count": len(durations),
                "median_ms": percentile(known, 50),
                "p95_ms": percentile(known, 95),
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
                "durations": [],
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
            c["durations"].append(r.duration_ms)
        if r.face_similarity is not None:
            c["bins"][min(9, max(0, int(r.face_similarity * 10)))] += 1
    year = 365 * 86400.0
    for r in _rows(conn, start - year, end - year, port, lane_id):
        if r.decision == "accepted" and r.lane_id in port_of:
            t = (r.occurred_at + year) // size * size
            if (t, key_of(r.lane_id, r.port)) in cells:
                cells[(t, key_of(r.lane_id, r.port))]["last_year"] += 1
    fq = select(device_faults.c.lane_id, device_faults.c.occurred_at).where(
        device_faults.c.occurred_at >= start,
        device_faults.c.occurred_at < end,
        device_faults.c.recovered.is_(False),
    )
    for r in conn.execute(fq):
        if r.lane_id in port_of:
            cell(r.occurred_at // size * size, key_of(r.lane_id, port_of[r.lane_id]))["faults"] += 1
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
                "median_ms": percentile(c["durations"], 50),
                "p95_ms": percentile(c["durations"], 95),
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
