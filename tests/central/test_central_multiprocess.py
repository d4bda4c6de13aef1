"""Two central processes on one PostgreSQL behave as one: a live update posted to one reaches
an officer streaming from the other (LISTEN/NOTIFY), a command issued on one wakes a lane
long-polling the other, and commands polled from both are delivered exactly once."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from central.app import create_app
from central.lanes import LaneRegistration, register_lane
from central.security import create_officer
from gate.config import CentralConfig

PASSWORD = "correct horse battery staple"
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def two_processes(pg_url: str, tmp_path: Path) -> Iterator[tuple[list[str], str]]:
    env = {
        **os.environ,
        "EGATE_CENTRAL__DATABASE__URL": pg_url,
        "EGATE_CENTRAL__SECURITY__COOKIE_SECURE": "false",
        "EGATE_CENTRAL__SECURITY__ARGON2_TIME_COST": "1",
        "EGATE_CENTRAL__SECURITY__ARGON2_MEMORY_KIB": "8192",
        "EGATE_CENTRAL__LISTS__SIGNING_KEY_PATH": str(tmp_path / "lists.pem"),
        "EGATE_CENTRAL__LOGGING__LEVEL": "WARNING",
    }
    cfg = CentralConfig.model_validate(
        {
            "database": {"url": pg_url},
            "security": {"argon2_time_cost": 1, "argon2_memory_kib": 8192},
            "lists": {"signing_key_path": str(tmp_path / "lists.pem")},
        }
    )
    central = create_app(cfg, background=False).state.central
    with central.db.write() as conn:
        create_officer(
            conn,
            cfg.security,
            username="super",
            password=PASSWORD,
            role="supervisor",
            at=central.now(),
        )
    token = register_lane(central, LaneRegistration(lane_id="L1"), "test")
    central.db.dispose()
    ports = [_free_port(), _free_port()]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gate.cli", "central", "--port", str(p)],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for p in ports
    ]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        deadline = time.monotonic() + 60
        for url, proc in zip(urls, procs, strict=True):
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"central exited: {proc.stderr.read().decode()[-2000:]}"
                        if proc.stderr
                        else "central exited"
                    )
                try:
                    if httpx.get(url + "/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("central did not start")
                time.sleep(0.2)
        yield urls, token
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _login(client: httpx.Client) -> None:
    csrf = client.get("/api/v1/auth/session").json()["csrf_token"]
    r = client.post(
        "/api/v1/auth/login",
        json={"username": "super", "password": PASSWORD},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]


@pytest.mark.slow
def test_two_processes_behave_as_one(
    two_processes: tuple[list[str], str],
    make_event: Callable[..., dict[str, Any]],
) -> None:
    (url_a, url_b), token = two_processes
    lane_headers = {"Authorization": f"Bearer {token}"}
    with (
        httpx.Client(base_url=url_a, timeout=30) as officer,
        httpx.Client(base_url=url_b, headers=lane_headers, timeout=30) as lane_b,
        httpx.Client(base_url=url_a, headers=lane_headers, timeout=30) as lane_a,
    ):
        _login(officer)
        # 1. live update: ingest on B, officer streaming from A
        got: list[dict[str, Any]] = []
        ready = threading.Event()

        def read_stream() -> None:
            with officer.stream("GET", "/api/v1/stream?kinds=ingest") as resp:
                for line in resp.iter_lines():
                    ready.set()
                    if line.startswith("data: ") and "lane_id" in line:
                        got.append(json.loads(line[6:]))
                        return

        reader = threading.Thread(target=read_stream, daemon=True)
        reader.start()
        assert ready.wait(10)
        ev = make_event("L1", 0)
        sent = time.monotonic()
        assert lane_b.post("/api/v1/ingest/events", json={"events": [ev]}).status_code == 200
        reader.join(timeout=5)
        assert got and got[0]["events"][0]["event_id"] == ev["event_id"]
        assert time.monotonic() - sent < 2.0

        # 2. a lane long-polling B is woken by a command issued on A
        with ThreadPoolExecutor(1) as pool:
            started = time.monotonic()
            waiting = pool.submit(lambda: lane_b.get("/api/v1/lanes/L1/commands?wait=20").json())
            time.sleep(0.5)
            officer.post("/api/v1/lanes/L1/commands", json={"action": "out_of_service"})
            woken = waiting.result(timeout=25)
        assert [c["action"] for c in woken["commands"]] == ["out_of_service"]
        assert time.monotonic() - started < 5

        # 3. commands polled from both processes at once are delivered exactly once
        issued = {
            officer.post("/api/v1/lanes/L1/commands", json={"action": "release_exit"}).json()[
                "command_id"
            ]
            for _ in range(20)
        }
        clients = [lane_a, lane_b] * 4

        def poll(i: int) -> list[str]:
            out: list[str] = []
            for _ in range(5):
                r = clients[i].get("/api/v1/lanes/L1/commands")
                out += [c["command_id"] for c in r.json()["commands"]]
            return out

        with ThreadPoolExecutor(8) as pool:
            delivered = [cid for batch in pool.map(poll, range(8)) for cid in batch]
        assert sorted(delivered) == sorted(issued)
