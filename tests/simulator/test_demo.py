"""`egate demo` (the main job) and the embedded central service the simulated lanes report to."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gate import events
from gate.cli import main
from simulator.uplink import EmbeddedCentral, Uplink


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _events(lane_id: str, count: int) -> list[events.Event]:
    stamper = events.EventStamper(lane_id)
    at = datetime(2026, 6, 1, 8, tzinfo=UTC)
    return [
        events.LaneStateEvent(**stamper.stamp(at), state=events.LaneState.IDLE)
        for _ in range(count)
    ]


def test_embedded_central_takes_events_once_and_knows_the_demo_officer(tmp_path: Path) -> None:
    central = EmbeddedCentral(tmp_path, ["sim-1", "sim-2"], port=_free_port())
    items = _events("sim-1", 150)

    async def scenario() -> tuple[int, int, int, list[str]]:
        async with central.client() as client:
            uplink = Uplink(client, central.tokens)
            await uplink.deliver("sim-1", items, lost_ack=True)  # first batch sent twice
            await uplink.heartbeat("sim-2", events.LaneState.IDLE)
            session = await client.get("/api/v1/auth/session")
            csrf = session.json()["csrf_token"]
            login = await client.post(
                "/api/v1/auth/login",
                json={"username": central.officer, "password": central.password},
                headers={"X-CSRF-Token": csrf},
            )
            lanes = await client.get("/api/v1/lanes")
            ids = sorted(lane["lane_id"] for lane in lanes.json()["lanes"])
            wrong = await client.post(
                "/api/v1/ingest/events",
                json={"events": []},
                headers={"Authorization": f"Bearer {central.tokens['sim-2']}x"},
            )
            return login.status_code, uplink.counts.duplicates, wrong.status_code, ids

    login, duplicates, wrong, ids = asyncio.run(scenario())
    assert login == 200 and ids == ["sim-1", "sim-2"] and wrong == 401
    assert duplicates == 100  # the resent batch is acknowledged, not stored again
    stored = central.counts(["sim-1", "sim-2"])
    assert stored.rows == 150 and stored.distinct_seqs == 150


def test_demo_runs_lanes_reporting_live_to_central(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sim_face_models: Callable[[], str]
) -> None:
    sim_face_models()
    out = tmp_path / "events.jsonl"
    args = ["demo", "--lanes", "2", "--travellers", "3", "--fast", "--port", str(_free_port())]
    args += ["--data-dir", str(tmp_path / "demo"), "--events", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "demo officer login: demo / " in text
    assert "http://127.0.0.1:" in text
    summary = json.loads(text[text.index("\n{\n") + 1 :])
    assert summary["travellers"] == 3
    assert summary["events"]["at_central"] == summary["events"]["produced"] > 3
    assert summary["events"]["missing"] == 0 and summary["events"]["duplicated"] == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == summary["events"]["produced"]
    assert main(["events", "validate", str(out)]) == 0
    # the demo starts from an empty central every time
    assert main(args) == 0


@pytest.mark.slow
def test_demo_with_lane_daemons_reports_through_their_outboxes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sim_face_models: Callable[[], str]
) -> None:
    sim_face_models()
    scenario = tmp_path / "two.toml"
    scenario.write_text(
        'name = "two"\n[[travellers]]\ncount = 1\ndocument = "expired"\nexpect = "rejected"\n'
        "[[travellers]]\ncount = 1\n",
        encoding="utf-8",
    )
    args = ["demo", "--daemon", "--lanes", "1", "--travellers", "2", "--seed", "3"]
    args += ["--scenario", str(scenario), "--port", str(_free_port())]
    args += ["--data-dir", str(tmp_path / "demo"), "--events", str(tmp_path / "e.jsonl")]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "the lane daemon (egate lane)" in text
    summary = json.loads(text[text.index("\n{\n") + 1 :])
    assert summary["outcomes"] == {"accepted": 1, "rejected": 1}
    assert summary["mismatches"] == 0
    assert summary["events"]["at_central"] == summary["events"]["produced"] > 2
    written = (tmp_path / "e.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(written) == summary["events"]["produced"]
