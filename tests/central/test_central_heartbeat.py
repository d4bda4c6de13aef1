"""Heartbeats: the list versions a lane holds reach the lanes API and the live ``lane``
message the dashboard draws; a door opened by hand raises the door alarm (issue 13)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient


def _beat(client: TestClient, token: str, **body: Any) -> None:
    r = client.post(
        "/api/v1/lanes/L1/heartbeat",
        json={"state": "idle", **body},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text


def _record_lane_messages(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    hub = app.state.central.hub
    seen: list[dict[str, Any]] = []
    publish = hub.publish

    def spy(conn: Any, kind: str, data: dict[str, Any]) -> Any:
        if kind == "lane":
            seen.append(data)
        return publish(conn, kind, data)

    monkeypatch.setattr(hub, "publish", spy)
    return seen


def test_heartbeat_list_versions_shown_in_lanes_api_and_live_message(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    login: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = register_lane(app, "L1")
    live = _record_lane_messages(app, monkeypatch)
    login(client, "officer")
    [lane] = client.get("/api/v1/lanes").json()["lanes"]
    assert lane["lists"] == {} and lane["trust_store"] is None  # nothing reported yet

    held = {"watchlist": 12, "registry": 3, "manifests": 40}
    _beat(client, token, lists=held, trust_store="ts-2026-11")
    [lane] = client.get("/api/v1/lanes").json()["lanes"]
    assert lane["lists"] == held and lane["trust_store"] == "ts-2026-11"
    detail = client.get("/api/v1/lanes/L1").json()
    assert detail["lists"] == held and detail["trust_store"] == "ts-2026-11"
    assert live and live[-1]["lane_id"] == "L1" and live[-1]["lists"] == held

    # the lane fetched a newer watch list: the next heartbeat says so
    _beat(client, token, lists={**held, "watchlist": 13}, trust_store="ts-2026-11")
    [lane] = client.get("/api/v1/lanes").json()["lanes"]
    assert lane["lists"] == {**held, "watchlist": 13}
    assert live[-1]["lists"]["watchlist"] == 13

    # a lane that has not fetched a list yet leaves it out
    _beat(client, token, lists={"watchlist": 13})
    assert client.get("/api/v1/lanes/L1").json()["lists"] == {"watchlist": 13}


def test_heartbeat_rejects_a_negative_list_version(
    app: FastAPI, client: TestClient, register_lane: Callable[..., str]
) -> None:
    token = register_lane(app, "L1")
    r = client.post(
        "/api/v1/lanes/L1/heartbeat",
        json={"state": "idle", "lists": {"watchlist": -1}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 422


def test_door_opened_by_hand_raises_the_door_alarm(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    login: Callable[..., str],
) -> None:
    token = register_lane(app, "L1")
    login(client, "officer")
    _beat(client, token, doors={"entry": "closed", "exit": "open"})
    assert client.get("/api/v1/alarms").json()["alarms"] == []  # open is not manual

    _beat(client, token, doors={"entry": "manual", "exit": "closed"})
    [alarm] = client.get("/api/v1/alarms").json()["alarms"]
    assert alarm["kind"] == "forced_door" and alarm["lane_id"] == "L1"
    assert alarm["severity"] == "critical" and alarm["state"] == "active"
    assert "by hand" in alarm["detail"] and "entry" in alarm["detail"]
    assert "exit" not in alarm["detail"]

    # still open by hand at the next heartbeat: the same alarm, not a second one
    _beat(client, token, doors={"entry": "manual", "exit": "closed"})
    [again] = client.get("/api/v1/alarms").json()["alarms"]
    assert again["alarm_id"] == alarm["alarm_id"]
    [lane] = client.get("/api/v1/lanes").json()["lanes"]
    assert lane["doors"] == {"entry": "manual", "exit": "closed"}
    assert lane["open_alarms"] == 1
