"""The lane's local API: health, status, Prometheus metrics, authenticated maintenance."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest

from gate.daemon.api import ApiError, bind, build_app, parse_listen
from gate.daemon.metrics import LaneMetrics
from gate.display.screen import TravellerScreen
from gate.events import LaneState


class FakeLane:
    def __init__(self) -> None:
        self.metrics = LaneMetrics()
        self.screen = TravellerScreen(["en"])
        self.reasons: list[str] = []
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self.refreshed = 0

    def health(self) -> list[str]:
        return self.reasons

    def status(self) -> dict[str, Any]:
        return {"state": "idle"}

    async def maintenance(self, action: str, args: dict[str, Any]) -> tuple[str, str]:
        self.commands.append((action, args))
        return ("done", "") if action != "nope" else ("unknown", "unknown action")


def call(lane: FakeLane, method: str, path: str, token: str = "t0k", **kw: Any) -> httpx.Response:
    async def refresh() -> None:
        lane.refreshed += 1

    async def go() -> httpx.Response:
        app = build_app(lane, token, refresh)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://lane"
        ) as client:
            return await client.request(method, path, **kw)

    return asyncio.run(go())


def test_health_is_503_with_reasons() -> None:
    lane = FakeLane()
    assert call(lane, "GET", "/health").json() == {"ok": True, "reasons": []}
    lane.reasons = ["camera: CAMERA_NO_FRAMES"]
    response = call(lane, "GET", "/health")
    assert response.status_code == 503
    assert response.json()["reasons"] == ["camera: CAMERA_NO_FRAMES"]
    assert lane.refreshed == 2


def test_metrics_are_prometheus_text_with_the_lane_metrics() -> None:
    lane = FakeLane()
    lane.metrics.transactions.labels("accepted").inc(3)
    lane.metrics.stage.labels("face_matched").observe(4.2)
    lane.metrics.face_similarity.observe(0.61)
    lane.metrics.device_faults.labels("camera").inc()
    lane.metrics.outbox_depth.set(17)
    lane.metrics.outbox_age.set(12.5)
    lane.metrics.loop_lag.observe(0.003)
    lane.metrics.set_state(LaneState.IDLE)
    response = call(lane, "GET", "/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for line in (
        'egate_transactions_total{decision="accepted"} 3.0',
        'egate_transactions_total{decision="referred"} 0.0',
        'egate_stage_duration_seconds_bucket{le="5.0",stage="face_matched"} 1.0',
        "egate_face_similarity_count 1.0",
        'egate_device_faults_total{device="camera"} 1.0',
        "egate_outbox_depth 17.0",
        "egate_outbox_oldest_age_seconds 12.5",
        "egate_loop_lag_seconds_count 1.0",
        'egate_lane_state{state="idle"} 1.0',
    ):
        assert line in text, line


def test_maintenance_needs_the_token() -> None:
    lane = FakeLane()
    assert call(lane, "POST", "/maintenance/out_of_service").status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert call(lane, "POST", "/maintenance/out_of_service", headers=wrong).status_code == 401
    good = {"Authorization": "Bearer t0k"}
    response = call(lane, "POST", "/maintenance/release_exit", headers=good, json={"note": "x"})
    assert response.status_code == 200 and response.json()["result"] == "done"
    assert lane.commands == [("release_exit", {"note": "x"})]
    assert call(lane, "POST", "/maintenance/nope", headers=good).status_code == 404
    bad = call(lane, "POST", "/maintenance/reset_alarm", headers=good, content=b"[1]")
    assert bad.status_code == 422
    disabled = call(lane, "POST", "/maintenance/in_service", token="", headers=good)
    assert disabled.status_code == 403 and "set [api] token" in disabled.json()["detail"]


def test_screen_routes_are_served() -> None:
    lane = FakeLane()
    assert "text/html" in call(lane, "GET", "/screen").headers["content-type"]
    assert call(lane, "GET", "/screen/static/screen.js").status_code == 200
    assert call(lane, "GET", "/screen/static/../../api.py").status_code == 404
    assert call(lane, "POST", "/screen/language", json={"language": "ja"}).status_code == 422
    assert call(lane, "POST", "/screen/language", json={"language": "en"}).status_code == 200


def test_listen_addresses_are_checked() -> None:
    assert parse_listen("127.0.0.1:8701") == ("127.0.0.1", 8701)
    assert parse_listen("[::1]:8701") == ("::1", 8701)
    with pytest.raises(ApiError, match="expected HOST:PORT"):
        parse_listen("localhost")
    taken = bind("127.0.0.1:0")
    port = taken.getsockname()[1]
    try:
        with pytest.raises(ApiError, match="cannot listen there"):
            other = socket.socket()
            other.close()
            bind(f"127.0.0.1:{port}")
    finally:
        taken.close()
