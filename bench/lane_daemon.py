"""The lane daemon under load of genuine travellers, on simulator devices; prints JSON.

Runs the real daemon (lane core, drivers, virtual chip on the in-process link, simulated gate
controller on a pty at time scale 4, simulated camera, outbox, delivery to an in-process central
stub) and plays genuine travellers one after another. Reports the start-up time, the passage
time per traveller (document placed to transaction event), the software time per traveller
(MRZ, chip crypto, passive/active/chip authentication, face: CPU work in worker threads), and
the event loop's lag measured every 10 ms during the run (how late a timer fires: the loop is
never blocked for longer than that).

    .venv/bin/python bench/lane_daemon.py --travellers 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

import cv2
import httpx

from gate.config import LaneConfig
from gate.daemon import LaneDaemon
from gate.emrtd.pki import trust
from simulator import passports, pki
from simulator.central import CentralStub
from simulator.chip.card import VirtualChip
from simulator.demo import FaceSource, make_mrz
from simulator.lane_devices import SimulatedLane
from simulator.testdata import testdata_root


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(travellers: int, tmp: Path) -> dict[str, Any]:
    config = LaneConfig.model_validate(
        {
            "api": {"listen": "127.0.0.1:0"},
            "central": {"url": "http://central", "token": "test-token",
                        "outbox_path": str(tmp / "outbox.sqlite")},
            "daemon": {"lists_dir": str(tmp / "lists"), "records_dir": str(tmp / "records")},
            "policy": {"refuse_specimen": False, "stale_lists": "serve",
                       "require_liveness": False},
        }
    )  # fmt: skip
    now = datetime.now(UTC)
    test_pki = pki.make_test_pki(now - timedelta(days=30))
    store = trust.TrustStore()
    for csca in test_pki.cscas:
        store.import_bytes(csca.der, source="test PKI", now=now)
    faces = FaceSource.find(testdata_root())
    rng = random.Random(3)
    prepared = []  # the simulator's work (signing passports) stays out of the measured loop
    for index in range(travellers):
        portrait, live = faces.pair(index, impostor=False)
        _, jpeg = cv2.imencode(".jpg", portrait)
        mrz = make_mrz(rng, now.date())
        image = passports.build_passport(mrz, test_pki.dsc_p256, face=bytes(jpeg))
        prepared.append((mrz, image, live))
    stub = CentralStub(lane_id=config.lane.id)
    sim = SimulatedLane(config)
    events: list[Any] = []
    software: dict[str, float] = {}
    daemon: LaneDaemon

    def on_event(event: Any) -> None:
        events.append(event)
        tx = daemon.transaction
        if event.type == "transaction" and tx is not None:
            software[str(event.transaction_id)] = tx.software_seconds

    daemon = LaneDaemon(
        config,
        devices=sim.devices(),
        central_transport=httpx.ASGITransport(stub.app()),
        trust_store=store,
        on_event=on_event,
    )
    started = time.perf_counter()
    task = asyncio.create_task(daemon.run())
    await daemon.started.wait()
    ready = time.perf_counter() - started
    screens: list[str] = []
    queue = daemon.screen.subscribe()

    async def watch() -> None:
        while True:
            screens.append((await queue.get())["screen"])

    lags: list[float] = []

    async def probe() -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.01)
            lags.append(max(0.0, loop.time() - before - 0.01))

    async def until(condition: Any, timeout: float = 60.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    await until(lambda: daemon.screen.screen == "welcome")
    await asyncio.sleep(3)  # the face models finish loading in the background
    prober = asyncio.create_task(probe())
    passages: list[float] = []
    decisions: dict[str, int] = {}
    for mrz, image, live in prepared:
        chip = VirtualChip(image)
        await asyncio.to_thread(sim.camera.show, live)
        done, start = len(events), len(screens)
        t0 = time.perf_counter()
        sim.place_document([mrz[:44], mrz[44:]], chip, real_time=True)
        await until(lambda s=start: any(x in ("enter", "see_officer") for x in screens[s:]))
        if "enter" in screens[start:]:
            sim.remove_document()
            sim.walk_in()
            await until(lambda s=start: any(x in ("proceed", "see_officer") for x in screens[s:]))
            if "proceed" not in screens[start:]:
                sim.turn_back()
        else:
            sim.remove_document()
        await until(lambda d=done: any(e.type == "transaction" for e in events[d:]))
        passages.append(time.perf_counter() - t0)
        tx = next(e for e in events[done:] if e.type == "transaction")
        decisions[tx.decision.value] = decisions.get(tx.decision.value, 0) + 1
        await asyncio.to_thread(sim.camera.show, None)
        await until(lambda: daemon.screen.screen == "welcome")
    prober.cancel()
    watcher.cancel()
    await until(lambda: len(stub.events) == len(events), 30)
    daemon.request_stop("bench over")
    await task
    soft = list(software.values())
    return {
        "travellers": travellers,
        "decisions": decisions,
        "ready_seconds": round(ready, 3),
        "passage_seconds": {
            "median": round(statistics.median(passages), 3),
            "max": round(max(passages), 3),
        },
        "software_seconds": {
            "median": round(statistics.median(soft), 3) if soft else None,
            "max": round(max(soft), 3) if soft else None,
        },
        "loop_lag_seconds": {
            "samples": len(lags),
            "p50": round(percentile(lags, 0.5), 4),
            "p99": round(percentile(lags, 0.99), 4),
            "max": round(max(lags), 4),
        },
        "events_delivered": len(stub.events),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "gate_time_scale": 4.0,
        "faces": faces.origin,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--travellers", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run(max(1, args.travellers), Path(tmp)))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
