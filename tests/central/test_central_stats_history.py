"""Statistics of old periods survive the retention purge (hourly aggregates), and "the same
period a year earlier" is calendar-correct; on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from central.db import hourly_lane, hourly_stats, lanes, outages, transactions
from central.hourly import Durations, duration_bin
from central.stats import percentile, year_earlier, year_earlier_period


@pytest.fixture
def small_cells_app(app_factory: Callable[..., FastAPI], database_url: str) -> FastAPI:
    return app_factory(database_url, open_data={"min_cell_count": 2})


@pytest.fixture
def small_cells_client(small_cells_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(small_cells_app) as c:
        yield c


def test_statistics_of_old_periods_survive_the_purge(
    make_passage: Callable[..., dict[str, Any]],
    post_events: Callable[..., None],
    small_cells_app: FastAPI,
    small_cells_client: TestClient,
    register_lane: Callable[..., str],
    make_event: Callable[..., dict[str, Any]],
    login: Callable[..., str],
    clock: Any,
) -> None:
    from central.retention import purge

    app, client = small_cells_app, small_cells_client
    central = app.state.central
    t1 = register_lane(app, "L1", port="TPE")
    t2 = register_lane(app, "D1", port="KHH", direction="departure")
    today = datetime.fromtimestamp(clock.now, UTC).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    now_day = today - timedelta(days=2)
    old_day = datetime.fromtimestamp(year_earlier(now_day.timestamp()), UTC)
    h8 = old_day + timedelta(hours=8, minutes=5)
    old = [
        make_passage("L1", i, h8 + timedelta(minutes=i), seconds=s, score=0.55)
        for i, s in enumerate([8.0, 9.0, 10.0, 11.0, 30.0])
    ]
    old += [
        make_passage("L1", 10, h8, "referred", 12.0, ["FACE_NO_MATCH", "PA_NO_CHIP"], 0.2),
        make_passage("L1", 11, h8, "rejected", 5.0, ["PA_SIGNATURE_INVALID"]),
        make_passage("L1", 12, h8 + timedelta(hours=3), seconds=14.5, score=0.91),
        make_event("L1", 13, "device_fault", occurred_at=h8, device="camera", code="CAM_X"),
        make_event(
            "L1", 14, "device_fault", occurred_at=h8, device="camera", code="CAM_X", recovered=True
        ),
    ]
    post_events(client, t1, old)
    post_events(client, t2, [make_passage("D1", i, h8, seconds=20.0) for i in range(3)])
    recent = now_day + timedelta(hours=8, minutes=30)
    post_events(client, t1, [make_passage("L1", 100 + i, recent) for i in range(12)])
    with central.db.write() as conn:  # lanes registered long before; one outage of 15 min
        conn.execute(lanes.update().values(registered_at=0.0))
        down = (old_day + timedelta(hours=9, minutes=30)).timestamp()
        conn.execute(outages.insert().values(lane_id="L1", started_at=down, ended_at=down + 900))
    login(client, "officer")
    o, n = old_day.date().isoformat(), now_day.date().isoformat()
    urls = [
        f"/api/v1/stats/summary?from={n}&to={n}",
        f"/api/v1/stats/summary?from={o}&to={o}",
        f"/api/v1/stats/summary?from={o}&to={o}&lane_id=L1",
        f"/api/v1/stats/summary?from={o}&to={n}&port=TPE",
        f"/api/v1/stats/breakdown?from={o}&to={o}",
        f"/api/v1/stats/breakdown?from={o}&to={o}&bucket=day&group=port",
        f"/api/v1/stats/breakdown?from={n}&to={n}&group=port",
        f"/api/v1/stats/passages?from={o}&to={o}",
        f"/api/v1/stats/passages?from={o}&to={n}&bucket=day&group=port&format=csv",
        f"/open-data/crossings?date={o}",
        f"/open-data/crossings?date={o}&format=csv",
    ]
    before = [client.get(u).text for u in urls]
    summary = client.get(urls[0]).json()
    assert summary["usage"]["automated_clearances"] == 12
    assert summary["usage"]["same_period_last_year"] == 9  # 6 at L1, 3 at D1
    assert summary["usage"]["change_percent"] == 33.33
    old_summary = client.get(urls[2]).json()
    assert old_summary["passage_time_ms"] == {"median": 10000.0, "p95": 30000.0, "count": 6}
    assert old_summary["device_faults"] == {"camera": 1}
    assert old_summary["availability"]["L1"] == round(1 - 900 / 86400, 4)

    counts = purge(central)
    assert counts["transactions"] == 11 and counts["device_faults"] == 2
    assert counts["outages"] == 1
    with central.db.read() as conn:
        left = conn.execute(select(func.count()).select_from(transactions)).scalar()
        assert left == 12  # the recent ones
        assert conn.execute(select(func.count()).select_from(hourly_stats)).scalar() == 5
        assert conn.execute(select(func.count()).select_from(hourly_lane)).scalar() == 2
    after = [client.get(u).text for u in urls]
    for url, was, now in zip(urls, before, after, strict=True):
        assert now == was, url

    # a late event for an aggregated hour counts once: as a row, then in the aggregate
    post_events(client, t1, [make_passage("L1", 200, h8, seconds=9.5)])
    late = client.get(urls[0]).json()["usage"]["same_period_last_year"]
    assert late == 10
    assert purge(central)["transactions"] == 1
    assert client.get(urls[0]).json()["usage"]["same_period_last_year"] == 10
    assert client.get(urls[2]).json()["by_decision"]["accepted"] == 7
    # a resent event is a duplicate and changes nothing
    r = client.post(
        "/api/v1/ingest/events",
        json={"events": old[:1]},
        headers={"Authorization": f"Bearer {t1}"},
    )
    assert r.json()["duplicates"] == [old[0]["event_id"]]
    assert client.get(urls[0]).json()["usage"]["same_period_last_year"] == 10


def test_percentiles_from_the_aggregate_are_within_one_percent() -> None:
    rng = random.Random(13)
    for _ in range(50):
        values = [rng.lognormvariate(9.3, 0.5) for _ in range(rng.randint(1, 400))]
        split = rng.randint(0, len(values))
        merged = Durations()
        exact, folded = values[:split], values[split:]
        for v in exact:
            merged.add(v)
        bins: dict[str, list[float]] = {}
        for v in folded:
            b = bins.setdefault(str(duration_bin(v)), [0, 0.0])
            b[0] += 1
            b[1] += v
        merged.add_bins(bins)
        assert merged.count() == len(values)
        for q in (50, 95):
            want = percentile(values, q)
            got = merged.percentile(q)
            assert want is not None and got is not None
            assert abs(got - want) / want < 0.01


def test_year_earlier_is_the_same_calendar_date() -> None:
    def ts(*args: int) -> float:
        return datetime(*args, tzinfo=UTC).timestamp()

    assert year_earlier(ts(2028, 2, 29, 12)) == ts(2027, 2, 28, 12)
    assert year_earlier(ts(2028, 3, 1)) == ts(2027, 3, 1)
    assert year_earlier(ts(2029, 3, 1)) == ts(2028, 3, 1)
    # one day each: 28 and 29 February 2028 both against 28 February 2027
    assert year_earlier_period(ts(2028, 2, 28), ts(2028, 2, 29)) == (
        ts(2027, 2, 28),
        ts(2027, 3, 1),
    )
    assert year_earlier_period(ts(2028, 2, 29), ts(2028, 3, 1)) == (
        ts(2027, 2, 28),
        ts(2027, 3, 1),
    )
    # a span over the leap day a year on keeps it
    assert year_earlier_period(ts(2029, 2, 28), ts(2029, 3, 2)) == (
        ts(2028, 2, 28),
        ts(2028, 3, 2),
    )


def test_last_year_across_29_february(
    make_passage: Callable[..., dict[str, Any]],
    post_events: Callable[..., None],
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    login: Callable[..., str],
    clock: Any,
) -> None:
    clock.now = datetime(2028, 3, 5, tzinfo=UTC).timestamp()
    token = register_lane(app, "L1")
    evs = [make_passage("L1", i, datetime(2027, 2, 28, 10, tzinfo=UTC)) for i in range(3)]
    evs += [make_passage("L1", 10 + i, datetime(2027, 3, 1, 10, tzinfo=UTC)) for i in range(2)]
    evs += [make_passage("L1", 20 + i, datetime(2028, 2, 29, 10, tzinfo=UTC)) for i in range(6)]
    evs += [make_passage("L1", 30 + i, datetime(2028, 3, 1, 10, tzinfo=UTC)) for i in range(4)]
    post_events(client, token, evs)
    login(client, "officer")

    def last_year(day_from: str, day_to: str) -> int:
        s = client.get(f"/api/v1/stats/summary?from={day_from}&to={day_to}").json()
        return int(s["usage"]["same_period_last_year"])

    assert last_year("2028-02-28", "2028-02-28") == 3
    assert last_year("2028-02-29", "2028-02-29") == 3  # 365 days back would be 1 March
    assert last_year("2028-03-01", "2028-03-01") == 2  # 365 days back would be 2 March
    assert last_year("2028-02-28", "2028-03-01") == 5
    rows = client.get("/api/v1/stats/breakdown?from=2028-02-28&to=2028-03-01&bucket=day").json()
    by_day = {r["bucket_start"][:10]: r for r in rows["rows"]}
    assert by_day["2028-02-29"]["same_period_last_year"] == 3
    assert by_day["2028-02-29"]["change_percent"] == 100.0
    assert by_day["2028-03-01"]["same_period_last_year"] == 2
    assert by_day["2028-03-01"]["change_percent"] == 100.0
    hours = client.get("/api/v1/stats/breakdown?from=2028-03-01&to=2028-03-01").json()["rows"]
    [ten] = [r for r in hours if r["bucket_start"][11:13] == "10"]
    assert ten["same_period_last_year"] == 2
