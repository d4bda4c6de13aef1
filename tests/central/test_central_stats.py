"""Statistics, CSV export, open-data suppression and the retention purge."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from central.db import audit_log, events, lanes, portraits, transactions
from central.stats import percentile

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 16


def test_percentile_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0 and percentile(values, 95) == 95.0


def test_summary_figures_and_year_on_year_usage(
    make_passage: Callable[..., dict[str, Any]],
    post_events: Callable[..., None],
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    login: Callable[..., str],
    clock: Any,
) -> None:
    token = register_lane(app, "L1")
    now = datetime.fromtimestamp(clock.now, UTC)
    recent = now - timedelta(hours=2)
    year_ago = recent - timedelta(days=365)
    evs = [
        make_passage("L1", i, recent, seconds=float(s), score=0.55)
        for i, s in enumerate([8, 9, 10, 11, 30])
    ]
    evs += [
        make_passage("L1", 10, recent, "referred", reasons=["FACE_NO_MATCH"], score=0.2),
        make_passage("L1", 11, recent, "rejected", reasons=["PA_SIGNATURE_INVALID"]),
    ]
    evs += [make_passage("L1", 20 + i, year_ago) for i in range(4)]
    post_events(client, token, evs)
    login(client, "officer")
    s = client.get("/api/v1/stats/summary").json()
    assert s["by_decision"] == {"accepted": 5, "referred": 1, "rejected": 1}
    assert s["referral_reasons"] == {"FACE_NO_MATCH": 1}
    assert s["passage_time_ms"] == {"median": 10000.0, "p95": 30000.0, "count": 5}
    assert s["face_similarity_histogram"]["counts"][5] == 5
    assert s["face_similarity_histogram"]["counts"][2] == 1
    assert s["usage"]["automated_clearances"] == 5
    assert s["usage"]["same_period_last_year"] == 4
    assert s["usage"]["change_percent"] == 25.0 and s["usage"]["on_target"] is True

    r = client.get("/api/v1/stats/passages?format=csv&group=port&bucket=day")
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    accepted = next(row for row in rows if row["decision"] == "accepted")
    assert accepted["port"] == "TPE" and accepted["count"] == "5"
    assert client.get("/api/v1/stats/summary?from=2026-01-02&to=2026-01-01").status_code == 400


def test_breakdown_per_lane_and_hour_with_availability_and_last_year(
    make_passage: Callable[..., dict[str, Any]],
    post_events: Callable[..., None],
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    make_event: Callable[..., dict[str, Any]],
    login: Callable[..., str],
    clock: Any,
) -> None:
    from central.db import outages

    t1 = register_lane(app, "L1")
    register_lane(app, "L2", port="KHH")
    day = (datetime.fromtimestamp(clock.now, UTC) - timedelta(days=2)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    h8 = day + timedelta(hours=8, minutes=5)
    evs = [make_passage("L1", i, h8, seconds=float(10 + i), score=0.71) for i in range(3)]
    evs.append(make_passage("L1", 3, h8, "referred", reasons=["FACE_NO_MATCH"], score=0.1))
    evs.append(make_passage("L1", 4, h8 - timedelta(days=365)))
    evs.append(make_event("L1", 5, "device_fault", occurred_at=h8, device="camera", code="CAM_X"))
    post_events(client, t1, evs)
    with app.state.central.db.write() as conn:  # lanes registered long before
        conn.execute(lanes.update().values(registered_at=0.0))
        start = (day + timedelta(hours=9)).timestamp()
        conn.execute(outages.insert().values(lane_id="L1", started_at=start, ended_at=start + 900))
    login(client, "officer")
    d = day.date().isoformat()
    rows = client.get(f"/api/v1/stats/breakdown?from={d}&to={d}").json()["rows"]
    assert len(rows) == 48  # every hour of the day for each of the two lanes
    cell = {(r["bucket_start"][11:13], r["lane"]): r for r in rows}
    busy = cell[("08", "L1")]
    assert (busy["passages"], busy["accepted"], busy["referred"]) == (4, 3, 1)
    assert busy["referral_reasons"] == {"FACE_NO_MATCH": 1}
    assert busy["median_ms"] == 11000.0 and busy["p95_ms"] == 12000.0
    assert busy["face_similarity_counts"][7] == 3 and busy["face_similarity_counts"][1] == 1
    assert busy["device_faults"] == 1 and busy["availability"] == 1.0
    assert busy["same_period_last_year"] == 1 and busy["change_percent"] == 200.0
    assert cell[("09", "L1")]["availability"] == 0.75 and cell[("09", "L1")]["passages"] == 0
    assert cell[("08", "L2")]["passages"] == 0
    by_port = client.get(
        f"/api/v1/stats/breakdown?from={d}&to={d}&bucket=day&group=port&format=csv"
    )
    table = {r["port"]: r for r in csv.DictReader(io.StringIO(by_port.text))}
    assert table["TPE"]["accepted"] == "3" and table["TPE"]["referral_reasons"] == "FACE_NO_MATCH:1"
    assert table["KHH"]["availability"] == "1.0"
    assert float(table["TPE"]["availability"]) == round(1 - 900 / 86400, 4)
    too_long = client.get("/api/v1/stats/breakdown?from=2026-01-01&to=2026-03-01")
    assert too_long.status_code == 400


def test_open_data_is_public_and_suppresses_small_cells(
    make_passage: Callable[..., dict[str, Any]],
    post_events: Callable[..., None],
    app_factory: Callable[..., FastAPI],
    database_url: str,
    register_lane: Callable[..., str],
    clock: Any,
) -> None:
    app = app_factory(database_url, open_data={"min_cell_count": 3})
    t = register_lane(app, "T1", port="TPE")
    k = register_lane(app, "K1", port="KHH")
    day = datetime.fromtimestamp(clock.now, UTC).replace(hour=0, minute=30, second=0, microsecond=0)
    with TestClient(app) as client:
        post_events(client, t, [make_passage("T1", i, day) for i in range(3)])
        post_events(client, k, [make_passage("K1", i, day) for i in range(2)])
        post_events(client, k, [make_passage("K1", 9, day, "rejected")])
        body = client.get(f"/open-data/crossings?date={day.date().isoformat()}").json()
        assert body["licence"] == "CC-BY-4.0" and "crossings" in body["fields"]
        cells = {r["port"]: r for r in body["rows"]}
        assert cells["TPE"]["crossings"] == 3 and not cells["TPE"]["suppressed"]
        assert cells["KHH"]["crossings"] is None and cells["KHH"]["suppressed"]
        text = client.get(f"/open-data/crossings?date={day.date().isoformat()}&format=csv").text
        assert "KHH,arrival" in text and ",2," not in text
        future = (day + timedelta(days=2)).date().isoformat()
        assert client.get(f"/open-data/crossings?date={future}").status_code == 400


def test_purge_removes_old_data_keeps_audit_and_counts(
    post_events: Callable[..., None],
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    make_event: Callable[..., dict[str, Any]],
    clock: Any,
) -> None:
    from central.retention import purge

    token = register_lane(app, "L1")
    now = datetime.fromtimestamp(clock.now, UTC)
    old = make_event("L1", 0, occurred_at=now, decision="referred")
    post_events(client, token, [old])
    client.put(
        f"/api/v1/portraits/{old['transaction_id']}/live",
        content=JPEG,
        headers={"Authorization": f"Bearer {token}"},
    )
    central = app.state.central
    clock.advance(25 * 3600)  # past portrait_hours (24), within transaction_days (30)
    post_events(client, token, [make_event("L1", 1, occurred_at=now)])
    counts = purge(central)
    assert counts["portraits"] == 1 and counts["events"] == 0
    clock.advance(30 * 86400 + 1)
    counts = purge(central)
    assert counts["events"] == 2 and counts["transactions"] == 2 and counts["referrals"] == 1
    with central.db.read() as conn:
        for table in (events, transactions, portraits):
            assert conn.execute(select(func.count()).select_from(table)).scalar() == 0
        actions = conn.execute(select(audit_log.c.action)).scalars().all()
    assert actions.count("retention_purge") == 2 and "lane_registered" in actions
    metrics = client.get("/metrics").text
    assert 'egate_purged_rows_total{kind="events"} 2.0' in metrics
    assert "egate_purge_runs_total 2.0" in metrics
