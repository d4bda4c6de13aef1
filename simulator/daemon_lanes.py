"""Simulated lanes run by the real lane daemon (``egate lane``: ``gate.daemon.LaneDaemon``):
``egate sim run`` and ``egate demo``.

Each lane is a :class:`~gate.daemon.LaneDaemon` with the simulated devices of
:class:`simulator.lane_devices.SimulatedLane` (the real serial document-reader driver on an
in-memory line, a virtual chip in the reader's field, the scene camera, the real gate-controller
driver talking to the simulated controller); its durable outbox delivers to central over the
ingest contract. A player per lane acts the scenario's travellers on those devices (place the
passport, face the camera, step in when the entry opens, leave the way the screen shows) and
reads each decision from the daemon's own transaction event; the scenario's faults are played
on the devices and on the lane's link to central. Everything runs on the event loop's clock:
real time, or a virtual-time loop (:mod:`simulator.vtime`) with ``fast``. See
docs/scenarios.md.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import httpx
import numpy as np

from gate import events
from gate.config import LaneConfig
from gate.daemon import LaneDaemon
from gate.daemon.lists import LIST_NAMES
from gate.daemon.work import FaceCapture
from gate.face.liveness import ExternalLiveness
from gate.face.pipeline import FaceEngine
from simulator import vtime
from simulator.chip.card import VirtualChip
from simulator.lane_devices import SimulatedLane
from simulator.physical import PhysicalModel, pad_jpeg
from simulator.report import EventCounts, SimReport, TravellerResult
from simulator.scenarios import Fault, Scenario
from simulator.simrun import LaneFaults, SimError
from simulator.travellers import (
    DocumentFactory,
    FaceSource,
    Traveller,
    back_of_head,
    generate,
    jpeg,
    on_screen,
    pad_score,
    printed,
)
from simulator.uplink import EmbeddedCentral

Log = Callable[[str], None]
DRAIN_SECONDS = 60.0
"""After its last traveller a lane waits at most this long for its outbox to reach central."""
REMOVED_AFTER_APDUS = 9
"""A 'removes-document' traveller takes the passport away after this many APDUs (once the chip
has been opened, during the file reads)."""
WALK_BACK_AFTER_SECONDS = 5.0
"""A walking-back traveller turns round once in the entry doorway, at the latest this long
(simulated seconds) after starting to walk in."""
OUT_OF_SERVICE_WAIT = 600.0
"""A traveller waits at most this long (simulated seconds) for a lane out of service."""
SLOW_LINE_SECONDS = 0.3
"""A slow gate-controller line: every frame to the host this much later."""
SLOW_READER_SECONDS = 2.0
"""A slow document reader delivers the MRZ this much later."""
SLOW_CHIP_SECONDS = 0.02
NOISY_CHIP_SECONDS = 0.005
"""Extra seconds per APDU on a slow (weak field) or noisy (retransmissions) chip link."""
SLOW_CENTRAL_SECONDS = 2.0
"""A slow central or network answers each request this much later."""


class FaultyLink(httpx.AsyncBaseTransport):
    """A lane's link to central with the scenario's ``central`` and ``network`` faults:
    disconnect / power-cycle: central unreachable (connection refused); slow: every answer
    ``SLOW_CENTRAL_SECONDS`` later; noise: central answers 503 (``central``) or the answer is
    lost after central stored the batch (``network``: the outbox sends it again and central
    acknowledges duplicates)."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        faults: LaneFaults,
        clock: Callable[[], float],
        start: Callable[[], float],
        *,
        remote: bool = False,
    ) -> None:
        self.remote = remote
        self.inner = inner
        self.resent = 0
        """Events whose acknowledgement was lost (the outbox sends them again)."""
        self.duplicates = 0
        """Events central acknowledged as already stored."""
        self.faults = faults
        self.clock = clock
        self.start = start

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        t = self.clock() - self.start()
        central = self.faults.active(t, "central")
        network = self.faults.active(t, "network")
        for fault in (central, network):
            if fault is not None and fault.kind in ("disconnect", "power-cycle"):
                raise httpx.ConnectError(
                    f"simulated {fault.device} fault: central unreachable", request=request
                )
            if fault is not None and fault.kind == "slow":
                await asyncio.sleep(SLOW_CENTRAL_SECONDS)
        if central is not None and central.kind == "noise":
            return httpx.Response(503, json={"detail": "simulated central fault"})
        loop = asyncio.get_running_loop()
        # a central at a URL answers in real time: the virtual clock waits for it (except for
        # a long poll, which waits for the simulated world itself)
        hold = (
            self.remote
            and isinstance(loop, vtime.VirtualTimeLoop)
            and not request.url.params.get("wait")
        )
        if hold:
            assert isinstance(loop, vtime.VirtualTimeLoop)
            loop.hold()
        try:
            response = await self.inner.handle_async_request(request)
        finally:
            if hold:
                assert isinstance(loop, vtime.VirtualTimeLoop)
                loop.release()
        ingest = request.method == "POST" and request.url.path.endswith("/events")
        if network is not None and network.kind == "noise":
            await response.aread()
            if ingest:
                self.resent += len(_json_list(request.content, "events"))
            raise httpx.ReadError("simulated network fault: the answer was lost", request=request)
        if ingest and response.status_code < 300:
            await response.aread()
            self.duplicates += len(_json_list(response.content, "duplicates"))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def _json_list(body: bytes, key: str) -> list[Any]:
    try:
        data = json.loads(body)
    except ValueError:
        return []
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, list) else []


@dataclass(frozen=True)
class RemoteCentral:
    """A central service at a URL (``egate sim run --central URL``): the lanes sim-1..N are
    registered there and ``tokens`` holds their credentials."""

    url: str
    tokens: dict[str, str]


@dataclass
class DaemonLane:
    index: int
    lane_id: str
    config: LaneConfig
    sim: SimulatedLane
    daemon: LaneDaemon
    pad: ExternalLiveness
    faults: LaneFaults
    emitted: list[events.Event] = field(default_factory=list)
    mrz_delay: float = 0.0
    software: dict[str, float] = field(default_factory=dict)
    results: list[TravellerResult] = field(default_factory=list)

    def transactions(self) -> list[events.TransactionEvent]:
        return [e for e in self.emitted if isinstance(e, events.TransactionEvent)]


class DaemonRun:
    def __init__(
        self,
        scenario: Scenario,
        *,
        lanes: int,
        travellers: int,
        seed: int,
        lane_config: LaneConfig,
        faces: FaceSource,
        engine: FaceEngine,
        workdir: Path,
        central: EmbeddedCentral | RemoteCentral | None = None,
        model: PhysicalModel | None = None,
        log: Log | None = None,
        progress: Log | None = None,
        in_process: bool = True,
        events_out: TextIO | None = None,
        fast: bool = False,
    ) -> None:
        """``in_process``: the daemons reach the embedded central through its ASGI app;
        False: over HTTP at its URL (``egate demo``, where uvicorn serves it)."""
        if lanes < 1:
            raise SimError(f"--lanes must be at least 1, got {lanes}")
        self.scenario = scenario
        self.lanes = lanes
        self.total = travellers
        self.seed = seed
        self.base = lane_config
        self.faces = faces
        self.engine = engine
        self.workdir = workdir
        self.central = central
        self.in_process = in_process
        self.fast = fast
        self.events_out = events_out
        self.model = model or scenario.model  # the [model] table, or the defaults
        self.log = log or (lambda _line: None)
        self.progress = progress or (lambda _line: None)
        self.now = datetime.now(UTC)
        self.documents = DocumentFactory(self.now)
        self.done = 0
        self.notes: list[str] = []
        self.chip_link_seconds: list[float] = []
        self.started_at = 0.0
        self.lanes_built: list[DaemonLane] = []
        self.links: list[FaultyLink] = []

    def lane_config(self, index: int) -> LaneConfig:
        lane_dir = self.workdir / f"lane-{index + 1}"
        lane_id = f"sim-{index + 1}"
        data = self.base.model_dump(mode="json")
        data["lane"] |= {"id": lane_id, "name": f"Simulated lane {index + 1}"}
        data["central"] |= {
            "url": self.central.url if self.central is not None else "http://central.invalid",
            "token": self.central.tokens[lane_id] if self.central is not None else "",
            "outbox_path": str(lane_dir / "outbox.sqlite"),
        }
        data["api"] = {"listen": "127.0.0.1:0", "token": ""}
        data["daemon"] |= {
            "lists_dir": str(lane_dir / "lists"),
            "records_dir": str(lane_dir / "records"),
        }
        data["policy"] |= {"refuse_specimen": False, "stale_lists": "serve"}
        if isinstance(self.central, EmbeddedCentral):  # it holds the watch list and manifest
            key = lane_dir / "lists-public.pem"
            key.parent.mkdir(parents=True, exist_ok=True)
            key.write_text(self.central.public_key_pem())
            data["central"]["lists_public_key"] = str(key)
            data["policy"]["apis_directions"] = ["arrival"]
        data["passage"] |= {"flow": self.scenario.flow}
        return LaneConfig.model_validate(data)

    def build_lane(self, index: int) -> DaemonLane:
        config = self.lane_config(index)
        sim = SimulatedLane(
            config,
            time_scale=1.0,
            seed=self.seed + index,
            model=self.model,
        )
        pad = ExternalLiveness()
        faults = LaneFaults(tuple(f for f in self.scenario.faults if f.hits(index)))
        holder: dict[str, DaemonLane] = {}

        def on_event(event: events.Event) -> None:
            lane = holder["lane"]
            lane.emitted.append(event)
            if self.events_out is not None:
                self.events_out.write(events.to_json(event) + "\n")
                self.events_out.flush()
            tx = lane.daemon.transaction
            if isinstance(event, events.TransactionEvent) and tx is not None:
                lane.software[str(event.transaction_id)] = tx.software_seconds

        inner: httpx.AsyncBaseTransport = (
            httpx.ASGITransport(app=self.central.app)
            if isinstance(self.central, EmbeddedCentral) and self.in_process
            else httpx.AsyncHTTPTransport()  # over HTTP to [central] url
        )
        transport = FaultyLink(
            inner,
            faults,
            self.clock,
            lambda: self.started_at,
            remote=not isinstance(inner, httpx.ASGITransport),
        )
        self.links.append(transport)
        daemon = LaneDaemon(
            config,
            devices=sim.devices(),
            central=self.central is not None,
            central_transport=transport,
            trust_store=self.documents.store,
            face=FaceCapture(self.engine, pad, self.base.face.frames_to_fuse),
            on_event=on_event,
            serve_api=False,
            today=lambda: self.now.date(),
        )
        lane = DaemonLane(index, config.lane.id, config, sim, daemon, pad, faults)
        holder["lane"] = lane
        return lane

    # ------------------------------------------------------------------ travellers

    def face_for(self, traveller: Traveller) -> np.ndarray | None:
        kind = traveller.spec.face
        if kind == "none":
            return back_of_head()
        if kind == "printed-photo":
            return printed(self.faces.portrait(traveller.identity))
        if kind == "screen-replay":
            return on_screen(self.faces.portrait(traveller.identity))
        return self.faces.live(traveller.identity, impostor=kind == "impostor")[0]

    @staticmethod
    def undelivered(lane: DaemonLane) -> int:
        stats = lane.daemon.outbox_stats
        return stats.depth if stats is not None else 0

    def clock(self) -> float:
        """The event loop's clock: real seconds, or virtual ones under ``--fast``."""
        return asyncio.get_running_loop().time()

    async def wait(self, lane: DaemonLane, what: Callable[[], bool], timeout: float) -> bool:
        deadline = self.clock() + timeout
        while not what():
            if self.clock() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def play(self, lane: DaemonLane, traveller: Traveller, start: float) -> None:
        model, spec, sim = self.model, traveller.spec, lane.sim
        screen = lane.daemon.screen
        arrival = self.clock()
        # a lane out of service (a device fault) is waited for, as travellers do in a queue
        await self.wait(lane, lambda: screen.screen == "welcome", OUT_OF_SERVICE_WAIT)
        done = len(lane.transactions())
        slow = spec.behaviour == "slow"
        portrait = pad_jpeg(jpeg(self.faces.portrait(traveller.identity)), model.dg2_bytes)
        if self.fast:  # the simulator's own work, not the lane's: off the virtual clock
            image = self.documents.build(traveller, portrait)
        else:
            image = await asyncio.to_thread(self.documents.build, traveller, portrait)
        chip = VirtualChip(image) if image is not None else None
        if chip is not None and spec.behaviour == "removes-document":
            chip.faults.remove_after_apdus = REMOVED_AFTER_APDUS
        lane.pad.set_score(pad_score(traveller))
        face = self.face_for(traveller)
        # the passport goes on the reader; the reader's OCR delivers the MRZ a moment later
        placing = model.place_document_seconds * (model.slow_factor if slow else 1)
        await asyncio.sleep(placing + model.mrz_delivery_seconds + lane.mrz_delay)
        one_step = self.scenario.flow == "one-step"
        companions = 1 if spec.tailgater else 0
        if one_step and spec.behaviour != "looks-away":  # the camera faces the reader
            sim.camera.show(face, companions=companions)
        lines = traveller.document_lines()
        sim.place_document(lines, chip, real_time=True)
        # the entry opens, or the lane decided at the reader (a transaction event)
        # (one-step: the single barrier opens on "proceed")
        let_in = ("enter", "proceed") if one_step else ("enter",)
        await self.wait(
            lane, lambda: screen.screen in let_in or len(lane.transactions()) > done, 60
        )
        if screen.screen in let_in:
            sim.remove_document()
            if spec.behaviour == "walks-back":
                sim.walk_in(one_step=one_step)
                # into the entry doorway, then back (the controller then reports the passage
                # turned back, not timed out)
                await self.wait(lane, sim.gate.someone_in_entry_doorway, WALK_BACK_AFTER_SECONDS)
                sim.turn_back()
            else:
                sim.walk_in(
                    tailgater=spec.tailgater,
                    slow_factor=model.slow_factor if slow else 1.0,
                    one_step=one_step,
                )
                # two-step: the traveller faces the camera a moment after crossing the entry
                # door (walked up to it while it opened); one looking away turns to it later
                facing = 0.0 if one_step else model.facing_seconds(slow)
                if spec.behaviour == "looks-away":
                    facing += model.looks_away_seconds
                if facing > 0:
                    await asyncio.sleep(facing)
                    sim.camera.show(face, companions=companions)
                if not one_step:
                    await self.wait(
                        lane,
                        lambda: screen.screen in ("proceed", "see_officer", "walk_back"),
                        60,
                    )
                    if screen.screen != "proceed":
                        sim.turn_back()
        finished = await self.wait(lane, lambda: len(lane.transactions()) > done, 90)
        ended = self.clock()  # decided, and through the exit (or back out) when let in
        sim.remove_document()
        sim.camera.show(None)
        # the next traveller steps up once the lane welcomes again
        await self.wait(lane, lambda: screen.screen in ("welcome", "out_of_service"), 60)
        sim.gate.clear_people()
        tx = lane.transactions()[done] if finished else None
        if tx is not None and tx.decision is events.Decision.ACCEPTED and sim.chip.last:
            self.chip_link_seconds.append(sim.chip.last.modelled_seconds)
        result = TravellerResult(
            index=traveller.index,
            lane=lane.index,
            group=traveller.group,
            label=traveller.label,
            expect=spec.expect,
            expect_reasons=tuple(spec.expect_reasons),
            # no transaction at all (the lane never saw the passport, e.g. a reader unplugged
            # while it lay there): reported as decision "none", a mismatch unless a fault
            # window excuses it
            decision=tx.decision.value if tx is not None else "none",
            reasons=tuple(tx.reasons) if tx is not None else ("SIM_NO_TRANSACTION",),
            started=arrival - start,
            ended=ended - start,
            software_seconds=(
                lane.software.get(str(tx.transaction_id), 0.0) if tx is not None else 0.0
            ),
            faults=lane.faults.overlapping(arrival - start, ended - start),
        )
        lane.results.append(result)
        self.done += 1
        self.log(
            f"lane {lane.index} traveller {traveller.index} ({traveller.label}): "
            f"{result.decision} {' '.join(result.reasons)} in {result.passage_seconds:.1f} s"
        )
        if self.done % max(10, self.total // 10) == 0 or self.done == self.total:
            self.progress(f"sim: {self.done}/{self.total} travellers")

    async def inject(self, lane: DaemonLane, fault: Fault, start: float) -> None:
        """Play one fault window on the lane's simulated devices (docs/scenarios.md, faults);
        the daemon notices it the way it would notice the real thing. Central and network
        faults are played by the lane's link to central (:class:`FaultyLink`)."""
        await asyncio.sleep(max(0.0, start + fault.at_seconds - self.clock()))
        sim, end, kind = lane.sim, start + fault.end_seconds, fault.kind

        async def until_end() -> None:
            await asyncio.sleep(max(0.0, end - self.clock()))

        async def repeat(action: Callable[[], object], every: float) -> None:
            while self.clock() < end:
                action()
                await asyncio.sleep(every)

        if kind == "fire-alarm":
            sim.gate.fire_alarm(True)
            await until_end()
            sim.gate.fire_alarm(False)
        elif fault.device == "camera":
            if kind in ("disconnect", "power-cycle"):
                sim.camera.unplug()
                await until_end()
                sim.camera.replug()
            else:  # noise: grainy frames; slow: a third of the frame rate
                sim.camera.degrade(noise=kind == "noise", slow=kind == "slow")
                await until_end()
                sim.camera.degrade()
        elif fault.device == "gatectl":
            if kind == "noise":
                await repeat(lambda: sim.noise(32), 0.5)
            elif kind == "slow":
                sim.gate.set_delay(SLOW_LINE_SECONDS)
                await until_end()
                sim.gate.set_delay(0.0)
            elif kind == "disconnect":
                sim.gate.unplug()
                await until_end()
                sim.gate.replug()
            else:
                sim.gate.power_cycle()
        elif fault.device == "docreader":
            reader = sim.docreader
            if kind == "noise":
                await repeat(lambda: reader.send(reader.device.noise(16)), 0.5)
            elif kind == "slow":
                lane.mrz_delay = SLOW_READER_SECONDS
                await until_end()
                lane.mrz_delay = 0.0
            else:
                reader.unplug()
                await until_end()
                reader.replug()
        elif fault.device == "chip_reader":
            if kind in ("disconnect", "power-cycle"):
                sim.chip.unplug()
                await until_end()
                sim.chip.replug()
            else:  # slow: a weak field; noise: retransmitted frames
                sim.chip.extra_seconds = SLOW_CHIP_SECONDS if kind == "slow" else NOISY_CHIP_SECONDS
                await until_end()
                sim.chip.extra_seconds = 0.0

    async def preload_lists(self, lane: DaemonLane) -> None:
        """The lane's lists as it would have them from its last sync before the run (a fault
        of central at the start must not leave a lane without a manifest it had)."""
        central = self.central
        if not isinstance(central, EmbeddedCentral):
            return
        headers = {"Authorization": f"Bearer {central.tokens[lane.lane_id]}"}
        async with central.client() as client:
            for name in LIST_NAMES:
                answer = await client.get(
                    f"/api/v1/lanes/{lane.lane_id}/lists/{name}", headers=headers
                )
                answer.raise_for_status()
                lane.daemon.lists.apply(name, answer.json())

    async def serve(self, lane: DaemonLane, queue: list[Traveller], start: float) -> None:
        await self.preload_lists(lane)
        task = asyncio.create_task(lane.daemon.run())
        faults = [asyncio.create_task(self.inject(lane, f, start)) for f in lane.faults.faults]
        try:
            await asyncio.wait_for(lane.daemon.started.wait(), 60)
            await self.wait(lane, lambda: lane.daemon.screen.screen == "welcome", 30)
            for traveller in queue:
                await self.play(lane, traveller, start)
            central = self.central
            if isinstance(central, EmbeddedCentral):  # let the outbox deliver first
                await self.wait(
                    lane,
                    lambda: central.counts([lane.lane_id]).rows >= len(lane.emitted),
                    DRAIN_SECONDS,
                )
            elif central is not None:
                await self.wait(lane, lambda: self.undelivered(lane) == 0, DRAIN_SECONDS)
        finally:
            for f in faults:
                f.cancel()
            lane.daemon.request_stop("simulation over")
            await asyncio.wait_for(task, 60)

    async def run(self) -> SimReport:
        wall = time.perf_counter()
        travellers = generate(self.scenario, self.total, self.seed, self.now.date())
        if isinstance(self.central, EmbeddedCentral):
            self.central.load_lists(travellers, self.now.date())
        elif self.central is not None:
            self.notes.append(
                f"central at {self.central.url}: the scenario's watch list and manifest must be "
                "loaded there; events counted from the lanes' outboxes (what central "
                "acknowledged), not from central's store"
            )
        elif any(g.watchlist or not g.on_manifest for g in self.scenario.travellers):
            self.notes.append(
                "watch-list and manifest travellers: without central (--central none) the "
                "lanes have no lists; those travellers are screened as nobody listed"
            )
        # every lane keeps a document-reader read waiting in the default executor: give each
        # lane its own threads (the default pool has min(32, CPUs + 4), fewer than 16 lanes
        # need, and a read queued behind the others delays the lane and the virtual clock)
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(self.lanes * 3 + 4, thread_name_prefix="sim-lanes")
        )
        lanes = self.lanes_built = [self.build_lane(i) for i in range(self.lanes)]
        start = self.started_at = self.clock()
        queues = [travellers[i :: self.lanes] for i in range(self.lanes)]
        await asyncio.gather(
            *(self.serve(lane, q, start) for lane, q in zip(lanes, queues, strict=True))
        )
        report = SimReport(
            physical_model=self.model.model_dump(),
            scenario=self.scenario.name,
            flow=self.scenario.flow,
            lanes=self.lanes,
            seed=self.seed,
            fast=self.fast,
            central=(
                "embedded"
                if isinstance(self.central, EmbeddedCentral)
                else self.central.url
                if self.central is not None
                else "none"
            ),
            lane_implementation="gate.daemon.LaneDaemon (egate lane) with simulated devices, "
            + ("virtual time (simulator.vtime)" if self.fast else "real time"),
            notes=self.notes,
        )
        report.results = sorted((r for lane in lanes for r in lane.results), key=lambda r: r.index)
        produced = sum(len(lane.emitted) for lane in lanes)
        report.events = EventCounts(produced=produced)
        if isinstance(self.central, RemoteCentral):
            waiting = sum(self.undelivered(lane) for lane in lanes)
            report.events = EventCounts(
                produced=produced, at_central=produced - waiting, missing=waiting
            )
        elif self.central is not None:
            stored = self.central.counts([lane.lane_id for lane in lanes])
            report.events = EventCounts(
                produced=produced,
                at_central=stored.rows,
                missing=produced - stored.rows,
                duplicated=stored.rows - stored.distinct_seqs,
                resent=sum(link.resent for link in self.links),
                acknowledged_duplicates=sum(link.duplicates for link in self.links),
            )
        report.simulated_seconds = self.clock() - start
        if self.chip_link_seconds:
            report.physical_minimum_seconds = self.model.minimum(
                float(np.median(self.chip_link_seconds)), self.scenario.flow
            )
        report.wall_seconds = time.perf_counter() - wall
        return report
