"""Lane commands (delivered once, expiring, acknowledged) and offline detection."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from central.app import housekeeping_once


def _lane(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_command_delivered_once_even_to_concurrent_polls(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    login: Callable[..., str],
) -> None:
    token = register_lane(app, "L1")
    login(client, "super")
    ids = {
        client.post("/api/v1/lanes/L1/commands", json={"action": a}).json()["command_id"]
        for a in ("out_of_service", "in_service", "release_exit")
    }

    def poll(_: int) -> list[str]:
        r = client.get("/api/v1/lanes/L1/commands", headers=_lane(token))
        return [c["command_id"] for c in r.json()["commands"]]

    with ThreadPoolExecutor(6) as pool:
        got = [cid for batch in pool.map(poll, range(12)) for cid in batch]
    assert sorted(got) == sorted(ids)  # each exactly once


def test_expired_command_is_never_delivered(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    login: Callable[..., str],
    clock: Any,
) -> None:
    token = register_lane(app, "L1")
    login(client, "super")
    cmd = client.post(
        "/api/v1/lanes/L1/commands", json={"action": "release_exit", "ttl_seconds": 10}
    ).json()
    assert cmd["status"] == "queued"
    clock.advance(10)
    assert client.get("/api/v1/lanes/L1/commands", headers=_lane(token)).json() == {"commands": []}
    housekeeping_once(app.state.central)
    [row] = client.get("/api/v1/commands?lane_id=L1").json()["commands"]
    assert row["status"] == "expired"
    r = client.post(
        f"/api/v1/lanes/L1/commands/{cmd['command_id']}/ack",
        json={"result": "done"},
        headers=_lane(token),
    )
    assert r.status_code == 409


def test_acknowledgement_is_recorded_and_idempotent(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    login: Callable[..., str],
) -> None:
    token = register_lane(app, "L1")
    other = register_lane(app, "L2")
    login(client, "super")
    client.post("/api/v1/lanes/L1/commands", json={"action": "emergency_open"})
    [cmd] = client.get("/api/v1/lanes/L1/commands?wait=1", headers=_lane(token)).json()["commands"]
    url = f"/api/v1/lanes/L1/commands/{cmd['command_id']}/ack"
    assert client.post(url, json={"result": "done"}, headers=_lane(other)).status_code == 403
    assert (
        client.post(
            url, json={"result": "done", "detail": "doors open"}, headers=_lane(token)
        ).status_code
        == 200
    )
    assert client.post(url, json={"result": "done"}, headers=_lane(token)).status_code == 200
    assert client.post(url, json={"result": "failed"}, headers=_lane(token)).status_code == 409
    [row] = client.get("/api/v1/commands").json()["commands"]
    assert (row["status"], row["result"], row["detail"]) == ("acknowledged", "done", "doors open")


def test_officer_cannot_command_lanes(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    login: Callable[..., str],
) -> None:
    register_lane(app, "L1")
    login(client, "officer")
    assert (
        client.post("/api/v1/lanes/L1/commands", json={"action": "emergency_open"}).status_code
        == 403
    )


def test_silent_lane_goes_offline_with_alarm_and_comes_back(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    login: Callable[..., str],
    clock: Any,
) -> None:
    token = register_lane(app, "L1")
    central = app.state.central
    beat = {"state": "idle", "devices": {"camera": "ok"}}
    assert (
        client.post("/api/v1/lanes/L1/heartbeat", json=beat, headers=_lane(token)).json()[
            "period_seconds"
        ]
        == 5.0
    )
    login(client, "officer")
    clock.advance(14.9)  # under 3 periods of 5 s
    housekeeping_once(central)
    assert client.get("/api/v1/lanes").json()["lanes"][0]["online"] is True
    clock.advance(0.2)
    assert housekeeping_once(central)["offline"] == 1
    assert client.get("/api/v1/lanes").json()["lanes"][0]["online"] is False
    [alarm] = client.get("/api/v1/alarms").json()["alarms"]
    assert alarm["kind"] == "lane_offline" and alarm["state"] == "active"
    clock.advance(60)
    client.post("/api/v1/lanes/L1/heartbeat", json=beat, headers=_lane(token))
    assert client.get("/api/v1/lanes").json()["lanes"][0]["online"] is True
    [alarm] = client.get("/api/v1/alarms").json()["alarms"]
    assert alarm["condition_active"] is False  # shown until acknowledged
    summary = client.get("/api/v1/stats/summary").json()
    # registered 75.1 s ago, offline from the last heartbeat (t=0) until t=75.1
    assert summary["availability"]["L1"] == 0.0
