"""The live stream (SSE): an ingested event and a lane change reach a logged-in officer."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI

PASSWORD = "correct horse battery staple"


def _login(http: httpx.Client, username: str) -> str:
    csrf = http.get("/api/v1/auth/session").json()["csrf_token"]
    r = http.post(
        "/api/v1/auth/login",
        json={"username": username, "password": PASSWORD},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200, r.text
    return str(r.json()["csrf_token"])


def _reader(
    http: httpx.Client, out: queue.Queue[tuple[str, dict[str, Any]]], stop: threading.Event
) -> None:
    with http.stream("GET", "/api/v1/stream", timeout=None) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        kind = ""
        for line in resp.iter_lines():
            if stop.is_set():
                return
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                out.put((kind, json.loads(line[6:])))


def _wait_for(
    out: queue.Queue[tuple[str, dict[str, Any]]],
    kind: str,
    timeout: float = 5.0,
    backlog: list[tuple[str, dict[str, Any]]] | None = None,
) -> tuple[dict[str, Any], float]:
    """The next message of ``kind``; others are kept in ``backlog`` for later calls."""
    backlog = backlog if backlog is not None else []
    for i, (k, data) in enumerate(backlog):
        if k == kind:
            del backlog[i]
            return data, time.monotonic()
    deadline = time.monotonic() + timeout
    while True:
        k, data = out.get(timeout=max(0.01, deadline - time.monotonic()))
        if k == kind:
            return data, time.monotonic()
        backlog.append((k, data))


def test_ingest_and_heartbeat_reach_the_stream_within_a_second(
    app: FastAPI,
    live_server: Callable[[FastAPI], Any],
    register_lane: Callable[..., str],
    make_event: Callable[..., dict[str, Any]],
) -> None:
    token = register_lane(app, "L1")
    with (
        live_server(app) as srv,
        httpx.Client(base_url=srv.url) as officer,
        httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {token}"}) as lane,
    ):
        _login(officer, "officer")
        out: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        stop = threading.Event()
        threading.Thread(target=_reader, args=(officer, out, stop), daemon=True).start()
        seen: list[tuple[str, dict[str, Any]]] = []
        hello, _ = _wait_for(out, "hello", backlog=seen)
        assert hello["username"] == "officer"

        ev = make_event("L1", 0, decision="referred", reasons=["FACE_NO_MATCH"])
        sent = time.monotonic()
        assert lane.post("/api/v1/ingest/events", json={"events": [ev]}).status_code == 200
        data, got = _wait_for(out, "ingest", backlog=seen)
        assert data["lane_id"] == "L1" and data["events"][0]["event_id"] == ev["event_id"]
        assert data["events"][0]["decision"] == "referred"
        assert got - sent < 1.0
        referral, _ = _wait_for(out, "referral", backlog=seen)
        assert referral["transaction_id"] == ev["transaction_id"]

        r = lane.post(
            "/api/v1/lanes/L1/heartbeat",
            json={
                "state": "busy",
                "step": "face_captured",
                "devices": {"camera": "ok", "chip_reader": "fault"},
            },
        )
        assert r.status_code == 200
        tile, _ = _wait_for(out, "lane", backlog=seen)
        assert tile["state"] == "busy" and tile["step"] == "face_captured"
        assert tile["online"] is True and tile["devices"]["chip_reader"] == "fault"
        stop.set()


def test_stream_needs_a_session(app: FastAPI, client: Any) -> None:
    assert client.get("/api/v1/stream").status_code == 401
