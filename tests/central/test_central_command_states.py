"""A delivered command that is never acknowledged does not stay ``delivered``: at its expiry
it becomes ``unacknowledged`` (shown, counted); a late acknowledgement still closes it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from central.app import housekeeping_once


def _lane(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_delivered_command_without_acknowledgement_becomes_unacknowledged(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    login: Callable[..., str],
    clock: Any,
) -> None:
    token = register_lane(app, "L1")
    login(client, "super")
    silent = client.post(
        "/api/v1/lanes/L1/commands", json={"action": "release_exit", "ttl_seconds": 10}
    ).json()
    answered = client.post(
        "/api/v1/lanes/L1/commands", json={"action": "open_lane", "ttl_seconds": 10}
    ).json()
    fetched = client.get("/api/v1/lanes/L1/commands", headers=_lane(token)).json()["commands"]
    assert {c["command_id"] for c in fetched} == {silent["command_id"], answered["command_id"]}
    ack = f"/api/v1/lanes/L1/commands/{answered['command_id']}/ack"
    assert client.post(ack, json={"result": "done"}, headers=_lane(token)).status_code == 200
    clock.advance(9)
    assert housekeeping_once(app.state.central)["unacknowledged"] == 0
    clock.advance(1)
    assert housekeeping_once(app.state.central)["unacknowledged"] == 1
    assert housekeeping_once(app.state.central)["unacknowledged"] == 0  # once
    rows = {r["command_id"]: r for r in client.get("/api/v1/commands").json()["commands"]}
    assert rows[silent["command_id"]]["status"] == "unacknowledged"
    assert rows[silent["command_id"]]["result"] is None
    assert rows[answered["command_id"]]["status"] == "acknowledged"
    assert 'egate_commands_total{status="unacknowledged"} 1.0' in client.get("/metrics").text
    # the lane's answer arrives late: recorded, the command is closed
    late = f"/api/v1/lanes/L1/commands/{silent['command_id']}/ack"
    r = client.post(late, json={"result": "done", "detail": "late"}, headers=_lane(token))
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    assert client.get("/api/v1/lanes/L1/commands", headers=_lane(token)).json() == {"commands": []}
