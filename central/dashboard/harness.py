"""A throwaway central service with the dashboard on loopback, and a headless browser for it.

Used by the browser tests (tests/dashboard/) and ``bench/dashboard.py``: a temporary SQLite
database, one account per role, registered lanes with their tokens, uvicorn in a thread on a
free port. The browser is Debian's ``chromium`` driven by Playwright through
``executable_path`` (never a downloaded browser), with no network use of its own.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from gate.config import CentralConfig

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
PASSWORD = "correct horse battery staple"


class HarnessError(RuntimeError):
    """The local central service could not be started or seeded."""


def chromium_path() -> str | None:
    """Debian's chromium, if installed (scripts/debian-packages.txt lists it)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass(frozen=True)
class LaneSpec:
    lane_id: str
    port: str = "TPE"
    terminal: str = "1"
    name: str = ""


@dataclass
class LocalCentral:
    base_url: str
    central: Any
    lane_tokens: dict[str, str]
    server: uvicorn.Server
    thread: threading.Thread
    seq: dict[str, int] = field(default_factory=dict)
    status: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What each simulated lane reports in its heartbeats."""
    silent: set[str] = field(default_factory=set)
    """Lanes whose heartbeats :meth:`keep_alive` leaves out (to see them go offline)."""
    _stop: threading.Event = field(default_factory=threading.Event)

    def username(self, role: str) -> str:
        return f"{role}1"

    def lane_client(self, lane_id: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            timeout=10.0,
            headers={"Authorization": f"Bearer {self.lane_tokens[lane_id]}"},
        )

    def heartbeat(self, lane_id: str, **changes: Any) -> None:
        """Send the lane's heartbeat with ``changes`` (state, step, devices, doors) applied."""
        body = self.status.setdefault(
            lane_id,
            {
                "state": "idle",
                "step": "",
                "outbox_depth": 0,
                "devices": {
                    "camera": "ok",
                    "chip_reader": "ok",
                    "document_reader": "ok",
                    "gate_controller": "ok",
                },
                "doors": {"entry": "closed", "exit": "closed"},
                "lists": {"watchlist": 3, "registry": 2},
                "trust_store": "ts-2026-11",
            },
        )
        body.update(changes)
        with self.lane_client(lane_id) as client:
            r = client.post(f"/api/v1/lanes/{lane_id}/heartbeat", json=body)
            if r.status_code != 200:
                raise HarnessError(f"heartbeat of {lane_id} refused: {r.status_code} {r.text}")

    def keep_alive(self) -> None:
        """Heartbeat every lane (but the silent ones) twice a period until the service stops
        (twice, so that a loaded machine delaying one never makes a lane look offline)."""
        interval = float(self.central.config.lanes.heartbeat_period_seconds) / 2

        def run() -> None:
            while not self._stop.wait(interval):
                for lane_id in list(self.lane_tokens):
                    if lane_id not in self.silent:
                        # a refused heartbeat is tried again next time, as a lane would
                        with contextlib.suppress(HarnessError, httpx.HTTPError):
                            self.heartbeat(lane_id)

        threading.Thread(target=run, daemon=True, name="lane-heartbeats").start()

    def post_events(self, lane_id: str, events: Iterable[dict[str, Any]]) -> dict[str, Any]:
        batch = []
        for ev in events:
            if ev.get("type") == "lane_state":
                self.status.setdefault(lane_id, {})["state"] = ev["state"]
            seq = self.seq.get(lane_id, 0)
            self.seq[lane_id] = seq + 1
            batch.append(
                {
                    "event_id": str(uuid.uuid4()),
                    "lane_id": lane_id,
                    "seq": seq,
                    "occurred_at": datetime.now(UTC).isoformat(),
                    **ev,
                }
            )
        with self.lane_client(lane_id) as client:
            r = client.post("/api/v1/ingest/events", json={"events": batch})
        if r.status_code != 200:
            raise HarnessError(f"ingest refused for {lane_id}: {r.status_code} {r.text}")
        result: dict[str, Any] = r.json()
        if result.get("rejected"):
            raise HarnessError(f"events rejected: {result['rejected']}")
        return result

    def put_portrait(self, lane_id: str, transaction_id: str, kind: str, jpeg: bytes) -> None:
        with self.lane_client(lane_id) as client:
            r = client.put(
                f"/api/v1/portraits/{transaction_id}/{kind}",
                content=jpeg,
                headers={"Content-Type": "image/jpeg"},
            )
        if r.status_code not in (200, 201, 204):
            raise HarnessError(f"portrait upload refused: {r.status_code} {r.text}")

    def fetch_commands(self, lane_id: str) -> list[dict[str, Any]]:
        with self.lane_client(lane_id) as client:
            r = client.get(f"/api/v1/lanes/{lane_id}/commands", params={"wait": 0})
        r.raise_for_status()
        commands: list[dict[str, Any]] = r.json()["commands"]
        return commands


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _seed(central: Any, lanes: list[LaneSpec]) -> dict[str, str]:
    from central.lanes import LaneRegistration, register_lane
    from central.security import ROLES, create_officer

    now = central.now()
    with central.db.write() as conn:
        for role in ROLES:
            create_officer(
                conn,
                central.config.security,
                username=f"{role}1",
                password=PASSWORD,
                role=role,
                at=now,
                display_name=f"{role.title()} One",
            )
    tokens = {}
    for spec in lanes:
        reg = LaneRegistration(
            lane_id=spec.lane_id,
            name=spec.name or spec.lane_id,
            port=spec.port,
            terminal=spec.terminal,
        )
        tokens[spec.lane_id] = register_lane(central, reg, "admin1")
    return tokens


@contextmanager
def local_central(
    workdir: Path,
    lanes: Iterable[LaneSpec] = (),
    config: dict[str, Any] | None = None,
) -> Iterator[LocalCentral]:
    """Run central with the dashboard until the block ends."""
    from central.app import create_app

    workdir.mkdir(parents=True, exist_ok=True)
    settings: dict[str, Any] = {
        "database": {"url": f"sqlite:///{workdir / 'central.sqlite'}"},
        "security": {"cookie_secure": False},
        "lists": {"signing_key_path": str(workdir / "lists.pem")},
        "retention": {"purge_interval_minutes": 0},
        "dashboard": {"timezone": "Asia/Taipei", "port_timezones": {"TPE": "Asia/Taipei"}},
    }
    for section, values in (config or {}).items():
        settings.setdefault(section, {}).update(values)
    app = create_app(CentralConfig.model_validate(settings))
    central = app.state.central
    tokens = _seed(central, list(lanes))
    sock = _free_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1)
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="local-central"
    )
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise HarnessError("the local central service did not start within 20 s")
        time.sleep(0.02)
    running = LocalCentral(f"http://127.0.0.1:{port}", central, tokens, server, thread)
    try:
        for lane_id in tokens:
            running.heartbeat(lane_id)
        running.keep_alive()
        yield running
    finally:
        running._stop.set()
        server.should_exit = True
        thread.join(10)
        sock.close()


def page_transfer(page: Any, path: str, ready: Any) -> dict[str, Any]:
    """Bytes the browser received (headers and bodies, as on the wire) loading ``path`` until
    ``ready(page)`` returns, from the DevTools protocol; the SSE stream counts what it got."""
    cdp = page.context.new_cdp_session(page)
    sizes: dict[str, int] = {}
    urls: dict[str, str] = {}
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})

    def on_response(event: dict[str, Any]) -> None:
        urls[event["requestId"]] = event["response"]["url"]

    def on_data(event: dict[str, Any]) -> None:
        sizes[event["requestId"]] = sizes.get(event["requestId"], 0) + int(
            event.get("encodedDataLength", 0)
        )

    def on_finished(event: dict[str, Any]) -> None:
        sizes[event["requestId"]] = int(event["encodedDataLength"])

    cdp.on("Network.responseReceived", on_response)
    cdp.on("Network.dataReceived", on_data)
    cdp.on("Network.loadingFinished", on_finished)
    started = time.monotonic()
    page.goto(path)
    ready(page)
    elapsed = time.monotonic() - started
    page.wait_for_timeout(300)  # late finishing events
    cdp.detach()
    return {
        "bytes": sum(sizes.values()),
        "requests": len(urls),
        "by_url": {urls.get(k, k): v for k, v in sizes.items()},
        "seconds": elapsed,
    }
