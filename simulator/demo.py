"""``egate demo``: the main job. The central service with the officer dashboard (when installed)
and several simulated lanes with a continuous traveller mix, on embedded defaults.

The central service runs on a loopback port (uvicorn, in its own thread) on a fresh SQLite file
under ``--data-dir``; the simulated lanes are registered there and a demo officer account is
created, whose password is printed. The lanes (:mod:`simulator.simrun`: the lane core with
simulated devices, the real MRZ, chip, document-authentication and face code) serve the
scenario's travellers in real time and report every event to central as it happens over the
ingest contract, with a heartbeat every period, so the dashboard follows them live. It runs until
interrupted, or until ``--travellers`` have passed.
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import httpx

from gate import events
from gate.config import LaneConfig
from gate.errors import EgateError
from gate.face.pipeline import FaceEngine
from gate.lane.states import lane_state_of
from simulator.report import SimReport
from simulator.scenarios import Scenario
from simulator.simrun import SimLane, SimRun
from simulator.travellers import FaceSource, make_mrz
from simulator.uplink import EmbeddedCentral, Uplink

# FaceSource and make_mrz live in simulator.travellers; they are importable from here too
# because the lane daemon's end-to-end tests use them from the stand-in this module replaced.
__all__ = ["DemoOptions", "FaceSource", "make_mrz", "run_demo"]

CONTINUOUS = 1_000_000
"""Travellers drawn when the demo runs until interrupted (plain data; built as they arrive)."""


class DemoError(EgateError):
    """The demo cannot start; the message says what to change."""


@dataclass(frozen=True)
class DemoOptions:
    lanes: int = 4
    travellers: int | None = None
    """None: run until interrupted."""
    seed: int = 1
    fast: bool = False
    host: str = "127.0.0.1"
    port: int = 8600
    data_dir: Path = Path("var/demo")
    events_file: Path | None = Path("var/demo-events.jsonl")
    central: bool = True
    daemon: bool = False
    """Run the real lane daemon (egate lane) for each lane (real time only)."""


class DemoRun(SimRun):
    """A simulated run whose events go to central (and a JSON-lines file) as they happen."""

    def __init__(
        self,
        *args: object,
        uplink_url: str | None,
        tokens: dict[str, str],
        events_out: TextIO | None,
        heartbeat_seconds: float,
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.uplink_url = uplink_url
        self.tokens = tokens
        self.events_out = events_out
        self.heartbeat_seconds = heartbeat_seconds
        self.pending: dict[str, list[events.Event]] = {}
        self.sim_lanes: dict[str, SimLane] = {}
        self.delivered = 0

    def on_event(self, lane: SimLane, event: events.Event) -> None:
        self.sim_lanes.setdefault(lane.lane_id, lane)
        self.pending.setdefault(lane.lane_id, []).append(event)
        if self.events_out is not None:
            self.events_out.write(events.to_json(event) + "\n")
            self.events_out.flush()

    def central_down(self, lane: SimLane, t: float) -> bool:
        return any(
            f.device in ("central", "network") and f.at_seconds <= t < f.end_seconds
            for f in lane.faults.faults
        )

    async def report_loop(self, stop: asyncio.Event) -> None:
        """Deliver pending events every half second and heartbeat every period; a lane whose
        link to central is down (a scenario fault) keeps its events until it is back up."""
        if self.uplink_url is None:
            return
        async with httpx.AsyncClient(base_url=self.uplink_url, timeout=10.0) as client:
            uplink = Uplink(client, self.tokens)
            last_beat = 0.0
            while True:
                now = time.monotonic()
                for lane_id, lane in list(self.sim_lanes.items()):
                    if self.central_down(lane, lane.now):
                        continue
                    batch, self.pending[lane_id] = self.pending.get(lane_id, []), []
                    if batch:
                        await uplink.deliver(lane_id, batch)
                        self.delivered += len(batch)
                if now - last_beat >= self.heartbeat_seconds:
                    last_beat = now
                    for lane_id, lane in list(self.sim_lanes.items()):
                        if not self.central_down(lane, lane.now):
                            state = lane_state_of(lane.core.state)
                            await uplink.heartbeat(lane_id, state)
                if stop.is_set() and not any(self.pending.values()):
                    return
                await asyncio.sleep(0.5)


def _start_central(options: DemoOptions, lane_ids: list[str]) -> EmbeddedCentral:
    if options.data_dir.exists():
        shutil.rmtree(options.data_dir)  # the demo starts from an empty central every time
    central = EmbeddedCentral(
        options.data_dir, lane_ids, host=options.host, port=options.port, background=True
    )
    thread = threading.Thread(target=lambda: asyncio.run(central.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20.0
    while time.monotonic() < deadline:
        server = central._server
        if server is not None and server.started:
            return central
        if not thread.is_alive():
            break
        time.sleep(0.05)
    raise DemoError(
        f"the central service did not start on {options.host}:{options.port}: is the port in "
        "use? choose another with --port"
    )


def open_events_file(path: Path | None) -> TextIO | None:
    """``--events FILE`` opened for writing, or a :class:`DemoError` naming the problem (a
    directory, no permission) before anything runs."""
    if path is None:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("w", encoding="utf-8")
    except IsADirectoryError:
        raise DemoError(f"--events {path}: is a directory; give a file name") from None
    except OSError as exc:
        raise DemoError(f"--events {path}: cannot write: {exc.strerror or exc}") from None


def run_demo(
    scenario: Scenario,
    lane_config: LaneConfig,
    faces: FaceSource,
    engine: FaceEngine,
    options: DemoOptions,
    say: Callable[[str], None],
) -> SimReport:
    lane_ids = [f"sim-{i + 1}" for i in range(options.lanes)]
    early = open_events_file(options.events_file)  # fail now, not after the whole run
    if early is not None:
        early.close()
    central = _start_central(options, lane_ids) if options.central else None
    if central is not None:
        if _dashboard_installed():
            say(f"officer dashboard: {central.url}/")
        else:
            say(f"central service: {central.url}/docs (the officer dashboard is not installed)")
        say(f"demo officer login: {central.officer} / {central.password} (role supervisor)")
    else:
        say("no central service (--no-central): the lanes only")
    say(
        f"{options.lanes} simulated lane(s), scenario {scenario.name}, faces from {faces.origin}; "
        + ("press Ctrl-C to stop" if options.travellers is None else "")
    )
    if options.daemon:
        return _run_daemons(scenario, lane_config, faces, engine, options, say, central)
    out = open_events_file(options.events_file)
    try:
        run = DemoRun(
            scenario,
            lanes=options.lanes,
            travellers=options.travellers or CONTINUOUS,
            seed=options.seed,
            fast=options.fast,
            lane_config=lane_config,
            faces=faces,
            engine=engine,
            log=say,
            uplink_url=central.url if central is not None else None,
            tokens=central.tokens if central is not None else {},
            events_out=out,
            now=datetime.now(UTC),
            heartbeat_seconds=(
                central.config.lanes.heartbeat_period_seconds if central is not None else 5.0
            ),
        )

        async def main() -> SimReport:
            stop = asyncio.Event()
            reporter = asyncio.create_task(run.report_loop(stop))
            try:
                report = await run.run()
            finally:
                stop.set()
                await reporter
            return report

        report = asyncio.run(main())
        if central is not None:
            stored = central.counts(lane_ids)
            report.central = central.url
            report.events.at_central = stored.rows
            report.events.missing = report.events.produced - stored.rows
            report.events.duplicated = stored.rows - stored.distinct_seqs
        return report
    finally:
        if out is not None:
            out.close()
        if central is not None:
            central.stop()


def _run_daemons(
    scenario: Scenario,
    lane_config: LaneConfig,
    faces: FaceSource,
    engine: FaceEngine,
    options: DemoOptions,
    say: Callable[[str], None],
    central: EmbeddedCentral | None,
) -> SimReport:
    """The demo with a real lane daemon per lane; each daemon's outbox reports to central."""
    from simulator import vtime
    from simulator.daemon_lanes import DaemonRun

    say(
        "lanes: the lane daemon (egate lane) with simulated devices"
        + (", on the simulated clock" if options.fast else "")
    )
    out = open_events_file(options.events_file)
    run = DaemonRun(
        scenario,
        lanes=options.lanes,
        travellers=options.travellers or CONTINUOUS,
        seed=options.seed,
        lane_config=lane_config,
        faces=faces,
        engine=engine,
        workdir=options.data_dir / "lanes",
        central=central,
        log=say,
        in_process=False,
        events_out=out,
        fast=options.fast,
    )
    try:
        return vtime.run(run.run()) if options.fast else asyncio.run(run.run())
    finally:
        if out is not None:
            out.close()
        if central is not None:
            central.stop()


def _dashboard_installed() -> bool:
    return importlib.util.find_spec("central.dashboard") is not None
