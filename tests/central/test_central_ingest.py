"""Ingest: idempotency, per-event rejection, gap detection, limits and backpressure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from central.db import events, referrals, transactions


def _post(client: TestClient, token: str, batch: list[Any]) -> Any:
    return client.post(
        "/api/v1/ingest/events",
        json={"events": batch},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_resent_events_are_duplicates_and_change_nothing(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    make_event: Callable[..., dict[str, Any]],
) -> None:
    token = register_lane(app, "L1")
    batch = [make_event("L1", i, decision="referred" if i == 1 else "accepted") for i in range(3)]
    first = _post(client, token, batch)
    assert first.status_code == 200
    assert first.json()["accepted"] == [e["event_id"] for e in batch]
    again = _post(client, token, [*batch, make_event("L1", 3)])
    body = again.json()
    assert body["duplicates"] == [e["event_id"] for e in batch]
    assert len(body["accepted"]) == 1 and body["rejected"] == []
    with app.state.central.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar() == 4
        assert conn.execute(select(func.count()).select_from(transactions)).scalar() == 4
        assert conn.execute(select(func.count()).select_from(referrals)).scalar() == 1


def test_same_event_twice_in_one_batch_is_stored_once(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    make_event: Callable[..., dict[str, Any]],
) -> None:
    token = register_lane(app, "L1")
    ev = make_event("L1", 0)
    body = _post(client, token, [ev, ev]).json()
    assert body["accepted"] == [ev["event_id"]] and body["duplicates"] == [ev["event_id"]]


def test_bad_event_is_rejected_with_index_and_reason_rest_kept(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    make_event: Callable[..., dict[str, Any]],
) -> None:
    token = register_lane(app, "L1")
    good = make_event("L1", 0)
    bad = make_event("L1", 1, decision="maybe")
    not_object = 42
    body = _post(client, token, [good, bad, not_object]).json()
    assert body["accepted"] == [good["event_id"]]
    assert [r["index"] for r in body["rejected"]] == [1, 2]
    assert body["rejected"][0]["event_id"] == bad["event_id"]
    assert "decision" in body["rejected"][0]["reason"]


def test_sequence_gaps_are_detected_and_shrink_when_filled(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    make_event: Callable[..., dict[str, Any]],
    login: Callable[..., str],
) -> None:
    token = register_lane(app, "L1")
    _post(client, token, [make_event("L1", s) for s in (0, 1, 4, 5, 9)])
    login(client, "officer")
    gaps = client.get("/api/v1/lanes/L1").json()["sequence_gaps"]
    assert gaps == [{"first": 2, "last": 3}, {"first": 6, "last": 8}]
    _post(client, token, [make_event("L1", s) for s in (2, 3, 7)])
    gaps = client.get("/api/v1/lanes/L1").json()["sequence_gaps"]
    assert gaps == [{"first": 6, "last": 6}, {"first": 8, "last": 8}]


def test_credentials_are_required_and_bound_to_their_lane(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    make_event: Callable[..., dict[str, Any]],
) -> None:
    token = register_lane(app, "L1")
    register_lane(app, "L2")
    assert client.post("/api/v1/ingest/events", json={"events": []}).status_code == 401
    assert _post(client, "egl_nope_nope", [make_event("L1", 0)]).status_code == 401
    assert _post(client, token + "x", [make_event("L1", 0)]).status_code == 401
    foreign = _post(client, token, [make_event("L1", 0), make_event("L2", 0)])
    assert foreign.status_code == 403 and "L2" in foreign.json()["detail"]
    with app.state.central.db.read() as conn:  # nothing of the refused batch was stored
        assert conn.execute(select(func.count()).select_from(events)).scalar() == 0


def test_batch_limits(
    app_factory: Callable[..., FastAPI],
    sqlite_url: str,
    register_lane: Callable[..., str],
    make_event: Callable[..., dict[str, Any]],
) -> None:
    app = app_factory(sqlite_url, ingest={"max_batch_events": 5, "max_batch_bytes": 4096})
    token = register_lane(app, "L1")
    with TestClient(app) as client:
        assert _post(client, token, [make_event("L1", i) for i in range(6)]).status_code == 413
        big = [make_event("L1", 0, reasons=["X" * 60] * 64)]
        assert _post(client, token, big).status_code == 413
        over = _post(client, token, [make_event("L1", 0, reasons=["X1"] * 65)]).json()
        assert over["rejected"][0]["index"] == 0  # field limit: at most 64 reasons
        r = client.post(
            "/api/v1/ingest/events",
            content=b"{not json",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 400
        r = client.post(
            "/api/v1/ingest/events", json=[1, 2], headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 400


def test_backpressure_answers_429_with_retry_after(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    make_event: Callable[..., dict[str, Any]],
) -> None:
    token = register_lane(app, "L1")
    central = app.state.central
    central.extras["inflight"] = central.config.ingest.max_concurrent_batches
    r = _post(client, token, [make_event("L1", 0)])
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    central.extras["inflight"] = 0
    assert _post(client, token, [make_event("L1", 0)]).status_code == 200


def test_rotated_credential_keeps_old_one_for_grace_period(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    make_event: Callable[..., dict[str, Any]],
    login: Callable[..., str],
    clock: Any,
) -> None:
    old = register_lane(app, "L1")
    login(client, "admin")
    new = client.post("/api/v1/lanes/L1/credentials").json()["token"]
    assert new != old
    assert _post(client, old, [make_event("L1", 0)]).status_code == 200
    assert _post(client, new, [make_event("L1", 1)]).status_code == 200
    clock.advance(24 * 3600 + 10)
    app.state.central.forget_lane_tokens()
    assert _post(client, old, [make_event("L1", 2)]).status_code == 401
    assert _post(client, new, [make_event("L1", 3)]).status_code == 200
    with app.state.central.db.read() as conn:
        from central.db import lane_credentials

        hashes = conn.execute(select(lane_credentials.c.secret_hash)).scalars().all()
    assert all(new.split("_", 2)[2] not in h for h in hashes)  # only hashes stored
