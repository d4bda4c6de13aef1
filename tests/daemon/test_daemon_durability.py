"""Durability: SIGKILL the lane daemon at random points of delivery, many times.

The receiving side is a real HTTP server (the central stub in a thread) that stores each
event once by ``event_id`` and counts every arrival. The outbox starts with 300 undelivered
events; every daemon start adds its own (lane state). After the kills and a final clean run,
central must hold every event exactly once, with ``seq`` 0..N-1 without a gap, and the outbox
must be empty.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from gate import events
from gate.daemon.api import ApiServer, bind
from gate.outbox.store import Outbox
from simulator.central import CentralStub

pytestmark = pytest.mark.slow
KILLS = 8
PREFILLED = 300


class StubServer:
    def __init__(self) -> None:
        self.stub = CentralStub()
        self.stub.faults.delay_seconds = 0.02  # a slow central: delivery takes a while
        sock = bind("127.0.0.1:0")
        self.port = int(sock.getsockname()[1])
        self.server = ApiServer(
            uvicorn.Config(
                self.stub.app(), lifespan="off", log_level="warning", timeout_graceful_shutdown=1
            )
        )
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve(sockets=[sock])), daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def central() -> Iterator[StubServer]:
    server = StubServer()
    yield server
    server.stop()


def write_config(tmp: Path, port: int) -> Path:
    path = tmp / "lane.toml"
    path.write_text(
        f"""
[api]
listen = "127.0.0.1:0"
[central]
url = "http://127.0.0.1:{port}"
token = "test-token"
outbox_path = "{tmp / "outbox.sqlite"}"
[outbox]
batch_size = 20
retry_base_seconds = 0.05
retry_max_seconds = 0.2
[daemon]
lists_dir = "{tmp / "lists"}"
records_dir = "{tmp / "records"}"
flush_seconds = 10
[policy]
refuse_specimen = false
[trust]
store_path = "{tmp / "trust"}"
[logging]
format = "text"
level = "WARNING"
""",
        encoding="utf-8",
    )
    return path


def start(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gate.cli", "lane", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    )


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_sigkill_during_delivery_loses_and_duplicates_nothing(
    tmp_path: Path, central: StubServer
) -> None:
    stub = central.stub
    with Outbox(tmp_path / "outbox.sqlite", "lane-1") as box:
        prefilled = [
            str(
                box.append(
                    lambda f, i=i: events.LaneStateEvent(
                        **f, state=events.LaneState.IDLE, reason=f"prefilled {i}"
                    ),
                    datetime.now(UTC),
                ).event_id
            )
            for i in range(PREFILLED)
        ]
    config = write_config(tmp_path, central.port)
    rng = random.Random(11)
    kills = 0
    for _ in range(KILLS):
        before = sum(stub.received.values())
        process = start(config)
        try:
            # kill at a random point once this run has started delivering
            wait_until(lambda b=before: sum(stub.received.values()) > b, 30, "delivery")
            time.sleep(rng.uniform(0.0, 0.15))
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(10)
        kills += 1
        if len(stub.events) >= PREFILLED + 10:
            # keep killing while there is something left to deliver
            with Outbox(tmp_path / "outbox.sqlite", "lane-1") as box:
                for _ in range(40):
                    box.append(
                        lambda f: events.LaneStateEvent(**f, state=events.LaneState.BUSY),
                        datetime.now(UTC),
                    )
    # a last, clean run delivers the rest and stops on SIGTERM
    process = start(config)
    try:
        with Outbox(tmp_path / "outbox.sqlite", "lane-1") as box:
            wait_until(lambda: box.stats().depth == 0, 60, "the outbox to drain")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    with Outbox(tmp_path / "outbox.sqlite", "lane-1") as box:
        stats = box.stats()
    assert stats.depth == 0
    seqs = stub.seqs()
    assert seqs == list(range(stats.next_seq)), "every seq exactly once, without a gap"
    assert len(stub.events) == stats.next_seq
    assert set(prefilled) <= set(stub.events)
    resent = sum(1 for n in stub.received.values() if n > 1)
    assert kills == KILLS and resent > 0  # killed after central stored, before the lane knew
