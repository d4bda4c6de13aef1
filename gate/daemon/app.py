"""The lane daemon: the asyncio shell around the pure lane core (``egate lane --config FILE``).

Data flows one way: devices -> inputs -> :class:`gate.lane.Lane` -> commands -> devices, screen,
outbox. Everything the core sees goes through one bounded input queue and one consumer task, in
order; blocking work (chip, crypto, face, SQLite) runs in worker threads with bounded queues and
answers with an input. Time for the core is the event loop's clock (``loop.time()``), so a
virtual-time loop can drive the whole daemon.

Start-up order: the gate controller first, put in its safe state (out of service, passages
cancelled) before anything else; then the outbox, the local API and the traveller screen, the
other devices, and ``Started`` to the core. SIGTERM (:meth:`LaneDaemon.request_stop`) sends
``SafeStop``: the current traveller is let out, the lane goes out of service, the outbox gets a
last chance to deliver, then everything closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import httpx

from drivers.docreader.framing import DocumentRemoved as ReaderDocumentRemoved
from drivers.docreader.reader import Connected, Disconnected, DocumentPlaced
from drivers.gatectl import driver as gd
from drivers.gatectl import protocol as p
from drivers.gatectl.session import CommandRejected
from gate import events
from gate.config import LaneConfig
from gate.daemon import work
from gate.daemon.api import bind, build_app, server
from gate.daemon.devices import Devices, build_devices
from gate.daemon.lists import ListCache, load_public_key
from gate.daemon.metrics import LaneMetrics
from gate.daemon.record import TransactionRecorder
from gate.daemon.systemd import Notifier
from gate.display.screen import TravellerScreen
from gate.emrtd.pki.trust import TrustStore
from gate.errors import EgateError
from gate.lane import Lane, LaneProtocolError
from gate.lane import commands as lc
from gate.lane import inputs as li
from gate.lane.states import lane_state_of
from gate.mrz import parse as parse_mrz
from gate.outbox.client import CentralAuthError, CentralClient, CentralError, ListName
from gate.outbox.delivery import Backoff, Deliverer
from gate.outbox.store import AnyEvent, Outbox, OutboxError, OutboxFull, OutboxStats, PortraitKind
from gate.policy import lists as pl
from gate.policy.model import ScreeningResult
from gate.truststore import load_store, read_index_key

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

INPUT_BACKLOG = 1000
LISTS: tuple[ListName, ...] = ("watchlist", "registry", "manifests")
DEVICE_NAMES = {
    events.Device.DOCUMENT_READER: "document_reader",
    events.Device.CHIP_READER: "chip_reader",
    events.Device.CAMERA: "camera",
    events.Device.GATE_CONTROLLER: "gate_controller",
}
_DOOR = {p.Door.ENTRY: li.Door.ENTRY, p.Door.EXIT: li.Door.EXIT}
_TO_DOOR = {li.Door.ENTRY: p.Door.ENTRY, li.Door.EXIT: p.Door.EXIT}
_POSITION = {
    p.DoorState.CLOSED: li.DoorPosition.CLOSED,
    p.DoorState.OPENING: li.DoorPosition.OPENING,
    p.DoorState.OPEN: li.DoorPosition.OPEN,
    p.DoorState.CLOSING: li.DoorPosition.CLOSING,
    p.DoorState.LOCKED: li.DoorPosition.LOCKED,
}
_ABORT: dict[p.AbortReason, Any] = {
    p.AbortReason.TIMEOUT: "timeout",
    p.AbortReason.TURNED_BACK: "turned_back",
    p.AbortReason.CANCELLED: "cancelled",
    p.AbortReason.MODE_CHANGE: "mode_change",
}
COUNTDOWN_SCREENS = frozenset(
    {lc.Screen.ENTER, lc.Screen.PROCEED, lc.Screen.WALK_BACK, lc.Screen.TAKE_DOCUMENT}
)
"""Screens where the traveller must act before a timeout: they show a countdown."""
_MODE = {
    lc.GateMode.NORMAL: p.Mode.NORMAL,
    lc.GateMode.OUT_OF_SERVICE: p.Mode.OUT_OF_SERVICE,
    lc.GateMode.EMERGENCY_OPEN: p.Mode.EMERGENCY_OPEN,
}


class LaneDaemon:
    """One lane. ``devices``: already built devices (else built from ``config``);
    ``central``: False runs without a central service (events stay in the outbox);
    ``on_event``: called with every event once it is durably in the outbox."""

    def __init__(
        self,
        config: LaneConfig,
        *,
        devices: Devices | None = None,
        central: bool = True,
        central_transport: httpx.AsyncBaseTransport | None = None,
        trust_store: TrustStore | None = None,
        face: work.FaceCapture | None = None,
        on_event: Callable[[AnyEvent], None] | None = None,
        serve_api: bool = True,
        today: Callable[[], date] | None = None,
    ) -> None:
        self.config = config
        self.devices = devices
        self.central_enabled = central
        self._central_transport = central_transport
        self.trust_store = trust_store
        self.face = face
        self.on_event = on_event
        self.serve_api = serve_api
        self._today = today or (lambda: datetime.now().date())
        self.metrics = LaneMetrics()
        self.screen = TravellerScreen(config.lane.languages)
        self.lane = Lane(
            config.passage,
            config.policy,
            direction="departure" if config.lane.direction == "departure" else "arrival",
        )
        self.notifier = Notifier()
        key = config.central.lists_public_key
        self.lists = ListCache(
            config.daemon.lists_dir, public_key=load_public_key(key) if key else None
        )
        direction = "departure" if config.lane.direction == "departure" else "arrival"
        self.recorder = TransactionRecorder(
            config.daemon.records_dir, config.lane.id, direction, config.passage, config.policy
        )
        self.outbox: Outbox | None = None
        self.client: CentralClient | None = None
        self.deliverer: Deliverer | None = None
        self.api_port: int | None = None
        self.transaction: work.Transaction | None = None
        self.device_faults: dict[events.Device, str] = {}
        self.central_up: bool | None = None
        self.last_loop_lag = 0.0
        self.started = asyncio.Event()
        self.stopped = asyncio.Event()
        self.stop_reason = ""
        self.officer_requested: tuple[str, ...] = ()
        self.transactions = 0
        self._inputs: asyncio.Queue[li.Input] = asyncio.Queue(INPUT_BACKLOG)
        self._stop = asyncio.Event()
        self._deadline_changed = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._pending_acks: dict[str, asyncio.Future[tuple[str, str]]] = {}
        self._central_commands: set[str] = set()
        self._beams: list[bool] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._db_pool = ThreadPoolExecutor(1, thread_name_prefix="outbox")
        self._chip_pool = ThreadPoolExecutor(1, thread_name_prefix="chip")
        self._face_pool = ThreadPoolExecutor(1, thread_name_prefix="face")
        self._misc_pool = ThreadPoolExecutor(1, thread_name_prefix="work")
        self._record_pool = ThreadPoolExecutor(1, thread_name_prefix="record")
        self._jobs = asyncio.Semaphore(config.daemon.max_pending_jobs)
        self._high_water = False
        self._outbox_refusing = False
        self._wall_anchor = (0.0, datetime.now(UTC))
        self._delivered_reported: dict[str, int] = {}
        self._lists_stale = False
        self._credential_refused = False
        self._early_faults: list[tuple[events.Device, str, str]] = []
        self._passage_window: float | None = None
        self.doors: dict[str, str] = {}
        """Last reported position of each door (heartbeat, /status)."""
        self.outbox_stats: OutboxStats | None = None

    # ------------------------------------------------------------------ time

    def now(self) -> float:
        """The core's clock: the event loop's."""
        assert self._loop is not None
        return self._loop.time()

    def wall(self, at: float) -> datetime:
        loop_at, wall_at = self._wall_anchor
        return wall_at + timedelta(seconds=at - loop_at)

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        """Run until :meth:`request_stop`; raises :class:`EgateError` if start-up fails."""
        self._loop = asyncio.get_running_loop()
        self._wall_anchor = (self._loop.time(), datetime.now(UTC))
        if self.devices is None:
            self.devices = build_devices(self.config)
        try:
            await self._start()
            self.notifier.notify("READY=1", f"STATUS=lane {self.config.lane.id} running")
            log.info(
                "lane %s ready: local API on %s",
                self.config.lane.id,
                f"127.0.0.1:{self.api_port}" if self.api_port else "(none)",
            )
            self.started.set()
            await self._stop.wait()
            await self._shutdown()
        finally:
            await self._close()
            self.stopped.set()

    def request_stop(self, reason: str = "SIGTERM") -> None:
        """Finish or safely abort the current traveller, flush, stop (thread-safe)."""
        if self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._begin_stop, reason)

    def _begin_stop(self, reason: str) -> None:
        if self._stop.is_set():
            return
        self.stop_reason = reason
        self.notifier.notify("STOPPING=1", f"STATUS=stopping: {reason}")
        self._stop.set()

    async def _start(self) -> None:
        assert self.devices is not None
        devices = self.devices
        # 1. safe state before anything else
        await self._safe_state()
        # 2. durable outbox: nothing is admitted that cannot be recorded
        cfg = self.config.outbox
        self.outbox = await self._db(
            Outbox,
            self.config.central.outbox_path,
            self.config.lane.id,
            max_events=cfg.max_events,
            alarm_fraction=cfg.alarm_fraction,
            reserve_events=cfg.reserve_events,
            min_free_bytes=cfg.min_free_mb * 1024 * 1024,
        )
        await self._db(self.lists.load)
        for device, code, detail in self._early_faults:
            self._device_fault(device, code, detail)
        if self.trust_store is None:
            self.trust_store = await self._work(self._misc_pool, self._load_trust)
        # the face models load in the background: the lane is up (and safe) sooner, and a
        # traveller's face capture waits for them
        self._face_loading: asyncio.Future[work.FaceCapture] = asyncio.ensure_future(
            self._face_engine()
        )
        # 3. local API and traveller screen
        if self.serve_api:
            sock = bind(self.config.api.listen)
            self.api_port = int(sock.getsockname()[1])
            app = build_app(self, self.config.api.token, self._refresh)
            self._api = server(app)
            self._spawn(self._api.serve(sockets=[sock]), "api")
        # 4. central link
        if self.central_enabled:
            self.client = CentralClient(
                self.config.central.url,
                self.config.lane.id,
                self.config.central.token,
                timeout=self.config.central.timeout_seconds,
                transport=self._central_transport,
                ca_file=self.config.central.ca_file,
                client_cert=self.config.central.client_cert,
                client_key=self.config.central.client_key,
            )
            self.deliverer = Deliverer(
                self.outbox,
                self.client,
                self._db_pool,
                batch_size=cfg.batch_size,
                backoff=Backoff(base=cfg.retry_base_seconds, cap=cfg.retry_max_seconds),
                portrait_retention_seconds=self.config.policy.record_retention_days * 86400.0,
                on_link=self._on_link,
            )
            self._spawn(self.deliverer.run(), "delivery")
            self._spawn(self._heartbeats(), "heartbeat")
            self._spawn(self._commands(), "commands")
            self._spawn(self._sync_lists(), "lists")
        # 5. devices and the core
        self._spawn(self._consume(), "core")
        self._spawn(self._ticker(), "ticker")
        self._spawn(self._loop_lag(), "loop-lag")
        self._spawn(self._outbox_monitor(), "outbox-monitor")
        self._spawn(self._docreader(devices), "docreader")
        self._spawn(self._gate_events(devices), "gatectl")
        self._spawn(self._camera_watchdog(devices), "camera-watchdog")
        self._spawn(self._chip_watchdog(devices), "chip-watchdog")
        self.post(li.Started(at=self.now()))

    async def _safe_state(self) -> None:
        assert self.devices is not None
        gate = self.devices.gatectl
        try:
            await gate.start(timeout=self.config.daemon.device_start_seconds)
            await gate.cancel_passage()
            await gate.set_mode(p.Mode.OUT_OF_SERVICE)
        except (EgateError, OSError, TimeoutError) as exc:
            # a controller that does not answer keeps its own safe state (heartbeat loss); the
            # driver goes on trying, and its LinkUp/Resynced event clears the fault
            log.error("gate controller not ready at start: %s", exc)
            self._early_faults.append(
                (events.Device.GATE_CONTROLLER, "GATECTL_NO_ANSWER", str(exc))
            )

    def _load_trust(self) -> TrustStore:
        path = Path(self.config.trust.store_path)
        if path.exists():
            return load_store(path, index_key=read_index_key(self.config.trust.index_key_file))
        log.warning("trust store %s does not exist: every document fails PA", path)
        return TrustStore()

    async def _face_engine(self) -> work.FaceCapture:
        if self.face is None:
            self.face = await self._work(self._misc_pool, self._load_face)
        return self.face

    def _load_face(self) -> work.FaceCapture:
        from gate.face.liveness import MotionLiveness
        from gate.face.pipeline import FaceEngine

        return work.FaceCapture(
            FaceEngine.from_config(self.config.face),
            MotionLiveness(),
            self.config.face.frames_to_fuse,
        )

    async def _shutdown(self) -> None:
        """SafeStop to the core, wait until no traveller is inside, flush the outbox."""
        self.post(li.SafeStop(at=self.now(), reason=self.stop_reason))
        cfg = self.config.daemon
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(cfg.stop_seconds):
                while lane_state_of(self.lane.state) is events.LaneState.BUSY or not (
                    self._inputs.empty()
                ):
                    await asyncio.sleep(0.05)
        if self.deliverer is not None and self.outbox is not None:
            with contextlib.suppress(TimeoutError, CentralError, OutboxError):
                async with asyncio.timeout(cfg.flush_seconds):
                    while (await self._db(self.outbox.stats)).depth:
                        if not await self.deliverer.deliver_once():
                            break

    async def _close(self) -> None:
        loading = getattr(self, "_face_loading", None)
        if loading is not None and not loading.done():
            loading.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.devices is not None:
            with contextlib.suppress(Exception):
                await self.devices.gatectl.close()
            with contextlib.suppress(Exception):
                self.devices.docreader.close()
            with contextlib.suppress(Exception):
                self.devices.camera.close()
        if self.client is not None:
            await self.client.aclose()
        if self.outbox is not None:
            await self._db(self.outbox.close)
        self._record_pool.shutdown(wait=True)
        self.recorder.close()
        for pool in (self._db_pool, self._chip_pool, self._face_pool, self._misc_pool):
            pool.shutdown(wait=False, cancel_futures=True)

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(coro, name=f"lane-{name}")
        task.add_done_callback(self._task_done)
        self._tasks.append(task)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled() or self._stop.is_set():
            return
        exc = task.exception()
        if exc is not None:
            log.error("lane task %s died: %r; stopping the lane safely", task.get_name(), exc)
            self._begin_stop(f"internal error in {task.get_name()}: {exc}")

    # ------------------------------------------------------------------ threads

    async def _db(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db_pool, lambda: fn(*args, **kwargs))

    async def _work(
        self, pool: ThreadPoolExecutor, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """Blocking work in a worker thread; at most ``max_pending_jobs`` wait at a time."""
        async with self._jobs:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(pool, lambda: fn(*args, **kwargs))

    def post(self, inp: li.Input) -> None:
        """Queue an input for the core (from the event loop)."""
        try:
            self._inputs.put_nowait(inp)
        except asyncio.QueueFull:
            if isinstance(inp, li.PersonsSeen | li.Tick):
                return  # derived, repeated inputs: the next one carries the same news
            log.error("core input queue full, %s dropped", type(inp).__name__)

    def post_threadsafe(self, inp: li.Input) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self.post, inp)

    # ------------------------------------------------------------------ the core

    async def _consume(self) -> None:
        while True:
            inp = await self._inputs.get()
            await self.feed(inp)

    def _record(self, inp: li.Input) -> None:
        """Append the input to the transaction record, in order, off the event loop."""
        self._record_pool.submit(self.recorder.input, inp)

    async def feed(self, inp: li.Input) -> None:
        """One input to the core, then its commands, in order."""
        self._record(inp)
        try:
            commands = self.lane.handle(inp)
        except LaneProtocolError as exc:
            self.metrics.protocol_errors.inc()
            log.error("lane core refused an input: %s; going to a safe state", exc)
            safe = li.SafeStop(at=inp.at, reason=str(exc)[:200])
            self._record(safe)
            try:
                commands = self.lane.handle(safe)
            except LaneProtocolError:
                commands = []
        self._deadline_changed.set()
        self._passage_window = next(
            (c.timeout_seconds for c in commands if isinstance(c, lc.ReleasePassage)), None
        )
        for command in commands:
            try:
                await self.execute(command)
            except Exception:  # one failing command must not stop the lane's brain
                log.exception("executing %s failed", type(command).__name__)

    async def _ticker(self) -> None:
        while True:
            self._deadline_changed.clear()
            deadline = self.lane.deadline()
            delay = 3600.0 if deadline is None else max(0.0, deadline - self.now())
            try:
                await asyncio.wait_for(self._deadline_changed.wait(), delay)
            except TimeoutError:
                self.post(li.Tick(at=self.now()))
                await asyncio.sleep(0)  # let the consumer see it before re-reading

    async def execute(self, command: lc.Command) -> None:
        """Carry out one command of the core."""
        assert self.devices is not None
        tx = self.transaction
        if isinstance(command, lc.ReadDocument):
            if tx is not None and tx.id == command.transaction:
                self._spawn_job(self._misc_pool, work.read_mrz, tx, self._today(), self.now)
        elif isinstance(command, lc.ReadChip):
            if tx is not None and tx.id == command.transaction:
                timeout = self.config.chip.timeout_seconds
                self._spawn_job(self._chip_pool, self._read_chip, tx, self.devices.chip, timeout)
        elif isinstance(command, lc.VerifyDocument):
            if tx is not None and tx.id == command.transaction:
                assert self.trust_store is not None
                self._spawn_job(
                    self._chip_pool,
                    work.verify_document,
                    tx,
                    self.trust_store,
                    datetime.now(UTC),
                    self.now,
                )
        elif isinstance(command, lc.ScreenTraveller):
            if tx is not None and tx.id == command.transaction:
                self._spawn_job(self._misc_pool, self._screen, tx)
        elif isinstance(command, lc.StartFaceCapture):
            if tx is not None and tx.id == command.transaction:
                tx.stop_face.clear()
                self._spawn(self._capture(tx, command.liveness), "face")
        elif isinstance(command, lc.StopFaceCapture):
            if tx is not None:
                tx.stop_face.set()
        elif isinstance(command, lc.ReleasePassage):
            await self._gate(
                self.devices.gatectl.release_passage(
                    _TO_DOOR[command.door],
                    p.Direction.IN
                    if command.direction is li.PassageDirection.IN
                    else p.Direction.OUT,
                    timeout=command.timeout_seconds,
                )
            )
        elif isinstance(command, lc.CancelPassage):
            await self._gate(self.devices.gatectl.cancel_passage())
        elif isinstance(command, lc.SetGateMode):
            await self._gate(self.devices.gatectl.set_mode(_MODE[command.mode]))
        elif isinstance(command, lc.ShowScreen):
            data = dict(command.data)
            if "countdown_seconds" not in data and command.screen in COUNTDOWN_SCREENS:
                # the traveller must act while the released passage is open, else before the
                # core's next deadline (the waiting state's timeout)
                deadline = self.lane.deadline()
                if self._passage_window is not None:
                    data["countdown_seconds"] = round(self._passage_window)
                elif deadline is not None:
                    data["countdown_seconds"] = round(max(0.0, deadline - self.now()))
            self.screen.show(command.screen.value, data)
            if command.screen is lc.Screen.WELCOME:
                self.officer_requested = ()
        elif isinstance(command, lc.RaiseAlarm | lc.ClearAlarm):
            await self._alarm(command)
        elif isinstance(command, lc.RequestOfficer):
            self.officer_requested = command.reasons
            log.warning("officer requested at the lane (discreet=%s)", command.discreet)
            if not command.discreet:
                await self._gate(
                    self.devices.gatectl.set_indicators(
                        entry=p.Pictogram.AMBER_WAIT, exit=p.Pictogram.RED_CROSS
                    )
                )
        elif isinstance(command, lc.TransactionFinished):
            await self._finished(command)
        elif isinstance(command, lc.LaneStateChanged):
            self.metrics.set_state(command.state)
            await self.emit(
                lambda f: events.LaneStateEvent(
                    **f, previous=command.previous, state=command.state, reason=command.reason
                )
            )
        elif isinstance(command, lc.AckOfficerCommand):
            await self._ack(command)

    def _spawn_job(self, pool: ThreadPoolExecutor, fn: Callable[..., li.Input], *args: Any) -> None:
        async def job() -> None:
            try:
                result = await self._work(pool, fn, *args)
            except work.DeviceFailure as exc:
                self._device_fault(exc.device, exc.code, exc.detail)
                return
            except Exception:
                # a bug, not a bad document: log it; the core's timeout refers the traveller
                log.exception("%s failed; the lane core's timeout will decide", fn.__name__)
                return
            self.post(result)

        self._spawn(job(), fn.__name__)

    def _read_chip(self, tx: work.Transaction, slot: work.ChipSlot, timeout: float) -> li.ChipRead:
        result = work.read_chip(tx, slot, timeout, self.now)
        if tx.chip_portrait is not None or not result.ok:
            tx.portrait_ready.set()
        return result

    async def _capture(self, tx: work.Transaction, liveness: bool) -> None:
        assert self.devices is not None
        face = await self._face_loading
        try:
            await self._work(
                self._face_pool,
                work.capture_face,
                tx,
                self.devices.camera,
                face,
                self.post_threadsafe,
                self.now,
                want_liveness=liveness,
            )
        except work.DeviceFailure as exc:
            self._device_fault(exc.device, exc.code, exc.detail)
        except Exception:
            log.exception("face capture failed; the lane core's timeout will decide")

    async def _gate(self, call: Coroutine[Any, Any, Any]) -> None:
        device = events.Device.GATE_CONTROLLER
        try:
            await call
        except CommandRejected as exc:
            # the controller answered (NAK): a refused command, not a dead controller
            log.error("gate controller refused a command: %s", exc)
        except (EgateError, OSError, TimeoutError) as exc:
            self._device_fault(device, "GATECTL_NO_ANSWER", str(exc))
        else:
            if self.device_faults.get(device) == "GATECTL_NO_ANSWER":
                self._device_recovered(device)

    def _screen(self, tx: work.Transaction) -> li.Screened:
        """Look the traveller up in the cached lists (worker thread; the full number stays in
        memory)."""
        age = self.lists.oldest_age()
        facts = tx.facts
        if facts is None or not tx.mrz_lines:
            result = ScreeningResult(lists_age_seconds=age)
            return li.Screened(at=self.now(), transaction=tx.id, result=result)
        parsed = parse_mrz(list(tx.mrz_lines), today=self._today())
        name = f"{parsed.fields.primary_identifier} {parsed.fields.secondary_identifier}"
        policy = self.config.policy
        result = pl.screen(
            number=parsed.fields.document_number,
            nationality=facts.nationality,
            name=name,
            date_of_birth=facts.date_of_birth,
            day=self._today(),
            registry=self.lists.registry() if policy.enrolment_required != "none" else None,
            watchlist=self.lists.watchlist(policy.watchlist_name_threshold),
            manifests=self.lists.manifests() if policy.apis_directions else None,
            lists_age_seconds=age,
        )
        return li.Screened(at=self.now(), transaction=tx.id, result=result)

    # ------------------------------------------------------------------ events out

    async def emit(
        self,
        build: Callable[[dict[str, Any]], AnyEvent],
        *,
        portraits: dict[PortraitKind, bytes] | None = None,
    ) -> AnyEvent | None:
        """Write one event durably to the outbox (in the outbox thread), then announce it."""
        assert self.outbox is not None
        at = datetime.now(UTC)
        try:
            event = await self._db(self.outbox.append, build, at, portraits=portraits)
        except OutboxFull as exc:
            log.critical("event lost, outbox full: %s", exc)
            self._refuse_travellers(str(exc))
            return None
        except OutboxError as exc:
            log.critical("event not recorded: %s", exc)
            return None
        if self.deliverer is not None:
            self.deliverer.wake()
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                log.exception("on_event hook failed")
        return event

    async def _finished(self, command: lc.TransactionFinished) -> None:
        tx = (
            self.transaction
            if self.transaction and self.transaction.id == command.transaction
            else None
        )
        stages = []
        for stage, at in command.stages:
            with contextlib.suppress(ValueError):
                stages.append(events.StageTime(stage=events.Stage(stage), at=self.wall(at)))
        document = None
        if tx is not None and tx.facts is not None:
            document = work.document_summary(tx.facts)
        verdicts = [
            events.Verdict(check=check, outcome=events.CheckOutcome(outcome), reasons=reasons)
            for check, (outcome, reasons) in (tx.verdicts.items() if tx else [])
        ]
        scores: dict[str, float | None] = dict(tx.scores) if tx else {}
        scores.update({k: v for k, v in command.scores.items() if v is not None})
        known = set(events.Scores.model_fields)
        portraits: dict[PortraitKind, bytes] = {}
        if tx is not None and command.send_portraits:
            if tx.chip_portrait:
                portraits["chip"] = tx.chip_portrait
            if tx.live_portrait:
                portraits["live"] = tx.live_portrait
        elif tx is not None and command.keep_live_portrait and tx.live_portrait:
            portraits["live"] = tx.live_portrait
        refs = events.PortraitRefs(
            chip=f"{command.transaction}/chip" if "chip" in portraits else None,
            live=f"{command.transaction}/live" if "live" in portraits else None,
        )
        try:
            transaction_id = uuid.UUID(command.transaction)
        except ValueError:
            transaction_id = uuid.uuid5(uuid.NAMESPACE_URL, command.transaction)
        await self.emit(
            lambda f: events.TransactionEvent(
                **f,
                transaction_id=transaction_id,
                decision=command.decision,
                reasons=list(command.reasons),
                stages=stages,
                document=document,
                verdicts=verdicts,
                scores=events.Scores(**{k: v for k, v in scores.items() if k in known}),
                portraits=refs,
            ),
            portraits=portraits or None,
        )
        self.transactions += 1
        self.metrics.transactions.labels(command.decision.value).inc()
        if command.stages:
            first = command.stages[0][1]
            for stage, at in command.stages[1:]:
                self.metrics.stage.labels(stage).observe(max(0.0, at - first))
            self.metrics.transaction_duration.labels(command.decision.value).observe(
                max(0.0, command.stages[-1][1] - first)
            )
        similarity = scores.get("face_similarity")
        if similarity is not None:
            self.metrics.face_similarity.observe(similarity)
        if tx is not None:
            tx.stop_face.set()
            tx.reader = tx.link = None
            tx.files.clear()

    async def _alarm(self, command: lc.RaiseAlarm | lc.ClearAlarm) -> None:
        if isinstance(command, lc.RaiseAlarm):
            tx = command.transaction
            await self.emit(
                lambda f: events.AlarmEvent(
                    **f,
                    alarm=command.kind,
                    active=True,
                    transaction_id=uuid.UUID(tx) if tx and _is_uuid(tx) else None,
                    detail=command.detail,
                )
            )
        else:
            await self.emit(lambda f: events.AlarmEvent(**f, alarm=command.kind, active=False))

    async def _ack(self, command: lc.AckOfficerCommand) -> None:
        future = self._pending_acks.pop(command.command_id, None)
        if future is not None and not future.done():
            future.set_result((command.result, command.detail))
        if command.command_id in self._central_commands and self.client is not None:
            self._central_commands.discard(command.command_id)
            result = command.result if command.result in ("done", "refused") else "failed"
            self._spawn(self._send_ack(command.command_id, result, command.detail), "ack")

    async def _send_ack(self, command_id: str, result: Any, detail: str) -> None:
        assert self.client is not None
        for attempt in range(5):
            try:
                await self.client.ack(command_id, result, detail)
                return
            except CentralError as exc:
                log.warning("ack of command %s failed (%s), retrying", command_id, exc)
                await asyncio.sleep(min(30.0, 0.5 * 2**attempt))

    # ------------------------------------------------------------------ devices

    def _device_fault(self, device: events.Device, code: str, detail: str) -> None:
        if device in self.device_faults:
            return
        self.device_faults[device] = code
        self.metrics.device_faults.labels(device.value).inc()
        self.metrics.device_up.labels(device.value).set(0)
        log.error("device fault %s %s: %s", device.value, code, detail)
        self.post(li.DeviceFault(at=self.now(), device=device, code=code, detail=detail))
        self._spawn(
            self.emit(
                lambda f: events.DeviceFaultEvent(
                    **f, device=device, code=code, detail=detail[:500], recovered=False
                )
            ),
            "fault-event",
        )

    def _device_recovered(self, device: events.Device) -> None:
        code = self.device_faults.pop(device, None)
        self.metrics.device_up.labels(device.value).set(1)
        if code is None:
            return
        log.warning("device %s recovered", device.value)
        self.post(li.DeviceRecovered(at=self.now(), device=device))
        self._spawn(
            self.emit(
                lambda f: events.DeviceFaultEvent(**f, device=device, code=code, recovered=True)
            ),
            "recovery-event",
        )

    async def _docreader(self, devices: Devices) -> None:
        async for event in devices.docreader.events():
            if isinstance(event, Connected):
                self._device_recovered(events.Device.DOCUMENT_READER)
            elif isinstance(event, Disconnected):
                self._device_fault(
                    events.Device.DOCUMENT_READER, "DOCREADER_NO_ANSWER", event.reason
                )
            elif isinstance(event, DocumentPlaced):
                now = self.now()
                if self.transaction is not None:
                    self.transaction.stop_face.set()
                wall = self.wall(now)  # transaction ids sort by time, like event ids
                tx = work.Transaction(
                    str(events.event_id(wall)), tuple(event.lines), now, wall, event.doubtful
                )
                self.transaction = tx
                self.post(li.DocumentPlaced(at=now, transaction=tx.id, date=self._today()))
            elif isinstance(event, ReaderDocumentRemoved):
                self.post(li.DocumentRemoved(at=self.now()))

    async def _gate_events(self, devices: Devices) -> None:
        gate = devices.gatectl
        async for event in gate.events():
            now = self.now()
            if isinstance(event, gd.LinkDown | gd.ControllerUnresponsive):
                self._device_fault(events.Device.GATE_CONTROLLER, "GATECTL_NO_ANSWER", str(event))
            elif isinstance(event, gd.LinkUp | gd.Resynced):
                self._device_recovered(events.Device.GATE_CONTROLLER)
            elif isinstance(event, p.DoorChanged):
                self.doors[_DOOR[event.door].value] = _POSITION[event.state].value
                self.post(
                    li.DoorChanged(at=now, door=_DOOR[event.door], position=_POSITION[event.state])
                )
            elif isinstance(event, p.BeamChanged):
                if event.beam >= len(self._beams):
                    self._beams.extend([False] * (event.beam + 1 - len(self._beams)))
                self._beams[event.beam] = bool(event.interrupted)
                self.post(li.BeamsChanged(at=now, beams=tuple(self._beams)))
            elif isinstance(event, p.PassageCompleted):
                self.post(
                    li.PassageCompleted(
                        at=now,
                        door=_DOOR[event.door],
                        direction=li.PassageDirection.IN
                        if event.direction is p.Direction.IN
                        else li.PassageDirection.OUT,
                        persons=int(event.persons),
                    )
                )
            elif isinstance(event, p.PassageAborted):
                self.post(
                    li.PassageAborted(at=now, door=_DOOR[event.door], reason=_ABORT[event.reason])
                )
            elif isinstance(event, p.Emergency):
                self.post(li.EmergencyInput(at=now, active=bool(event.active)))
            elif isinstance(event, p.ForcedDoor):
                await self._controller_alarm(
                    events.AlarmKind.FORCED_DOOR, True, f"{event.door.name.lower()} door forced"
                )
            elif isinstance(event, p.Tamper):
                await self._controller_alarm(events.AlarmKind.TAMPER, bool(event.active), "")
            elif isinstance(event, p.Fault):
                if event.active:
                    self._device_fault(
                        events.Device.GATE_CONTROLLER, "GATECTL_FAULT", event.code.name
                    )
                else:
                    self._device_recovered(events.Device.GATE_CONTROLLER)
            elif isinstance(event, p.ControllerReset):
                self._beams = [False] * int(event.beam_count)

    async def _chip_watchdog(self, devices: Devices) -> None:
        """A chip reader that can say whether it is attached (PC/SC) is asked periodically."""
        probe = getattr(getattr(devices.chip, "reader", None), "find", None)
        if probe is None:
            return
        while True:
            if lane_state_of(self.lane.state) is not events.LaneState.BUSY:
                try:
                    await self._work(self._chip_pool, probe)
                    self._device_recovered(events.Device.CHIP_READER)
                except (EgateError, OSError) as exc:
                    self._device_fault(events.Device.CHIP_READER, "PCSC_READER_MISSING", str(exc))
            await asyncio.sleep(self.config.daemon.watchdog_seconds)

    async def _controller_alarm(self, kind: events.AlarmKind, active: bool, detail: str) -> None:
        await self.emit(lambda f: events.AlarmEvent(**f, alarm=kind, active=active, detail=detail))

    async def _camera_watchdog(self, devices: Devices) -> None:
        """Probe the camera while no face capture runs; a capture's failure reports itself."""
        period = self.config.daemon.watchdog_seconds
        camera = devices.camera
        opened = False
        while True:
            tx = self.transaction
            capturing = (
                tx is not None
                and not tx.stop_face.is_set()
                and (lane_state_of(self.lane.state) is events.LaneState.BUSY)
            )
            if not capturing:
                try:
                    if not opened:
                        await self._work(self._face_pool, camera.open)
                        opened = True
                    await self._work(self._face_pool, camera.read)
                    self._device_recovered(events.Device.CAMERA)
                except EgateError as exc:
                    opened = False
                    self._device_fault(events.Device.CAMERA, "CAMERA_NO_FRAMES", str(exc))
            await asyncio.sleep(period)

    # ------------------------------------------------------------------ central

    def _on_link(self, up: bool, error: str) -> None:
        if self.central_up is up:
            return
        self.central_up = up
        self.metrics.central_up.set(1 if up else 0)
        self.post(li.CentralLinkChanged(at=self.now(), up=up))
        age = self.lists.oldest_age()
        reason = (
            "central reachable again"
            if up
            else f"central unreachable ({error[:200]}): serving from cached lists"
            + (f" {age / 3600:.1f} h old" if age is not None else " (none cached)")
        )
        state = lane_state_of(self.lane.state)
        self._spawn(
            self.emit(
                lambda f: events.LaneStateEvent(**f, previous=state, state=state, reason=reason)
            ),
            "link-event",
        )

    async def _heartbeats(self) -> None:
        assert self.client is not None
        period = 5.0
        while True:
            try:
                period = await self.client.heartbeat(await self._heartbeat_body())
                self._on_link(True, "")
                if self._credential_refused:
                    self._credential_refused = False
                    await self._central_fault("CENTRAL_CREDENTIAL_REFUSED", "", recovered=True)
            except CentralAuthError as exc:
                self._on_link(False, str(exc))
                if not self._credential_refused:
                    self._credential_refused = True
                    await self._central_fault("CENTRAL_CREDENTIAL_REFUSED", str(exc))
                period = self.config.daemon.credential_retry_seconds
            except CentralError as exc:
                self._on_link(False, str(exc))
            await asyncio.sleep(period)

    async def _central_fault(self, code: str, detail: str, *, recovered: bool = False) -> None:
        """A fault of the link to central: an event for officers; the lane keeps serving."""
        await self.emit(
            lambda f: events.DeviceFaultEvent(
                **f,
                device=events.Device.CENTRAL_LINK,
                code=code,
                detail=detail[:500],
                recovered=recovered,
            )
        )

    async def _heartbeat_body(self) -> dict[str, Any]:
        stats = await self._db(self.outbox.stats) if self.outbox else None
        return {
            "state": lane_state_of(self.lane.state).value,
            "step": self.lane.state.value,
            "devices": self._device_states(),
            "doors": dict(self.doors),
            "outbox_depth": stats.depth if stats else 0,
            "lists": {n: self.lists.version(n) for n in ("watchlist", "registry", "manifests")},
            "trust_store": None,
        }

    async def _commands(self) -> None:
        assert self.client is not None
        wait = self.config.daemon.command_poll_seconds
        backoff = Backoff(base=1.0, cap=30.0)
        while True:
            try:
                commands = await self.client.poll_commands(wait)
            except CentralError as exc:
                log.debug("command poll failed: %s", exc)
                await asyncio.sleep(backoff.next_delay())
                continue
            backoff.reset()
            for command in commands:
                if command.expired(datetime.now(UTC)):
                    self._spawn(
                        self._send_ack(command.command_id, "expired", "expired before delivery"),
                        "ack",
                    )
                    continue
                try:
                    action = events.CommandAction(command.action)
                except ValueError:
                    self._spawn(
                        self._send_ack(
                            command.command_id, "refused", f"unknown action {command.action!r}"
                        ),
                        "ack",
                    )
                    continue
                self._central_commands.add(command.command_id)
                self.post(
                    li.OfficerCommand(
                        at=self.now(),
                        command_id=command.command_id,
                        action=action,
                        args={str(k): str(v) for k, v in command.args.items()},
                    )
                )

    async def _sync_lists(self) -> None:
        assert self.client is not None
        while True:
            for name in LISTS:
                try:
                    answer = await self.client.get_list(name, self.lists.version(name))
                    await self._db(self.lists.apply, name, answer)
                except CentralError as exc:
                    log.debug("list %s not synced: %s", name, exc)
                except EgateError as exc:
                    log.error("list %s from central unusable: %s", name, exc)
            await asyncio.sleep(self.config.daemon.lists_sync_seconds)

    # ------------------------------------------------------------------ health

    async def _loop_lag(self) -> None:
        interval = 0.1
        watchdog = self.notifier.watchdog_interval()
        last_ping = 0.0
        while True:
            before = self.now()
            await asyncio.sleep(interval)
            lag = max(0.0, self.now() - before - interval)
            self.last_loop_lag = lag
            self.metrics.loop_lag.observe(lag)
            if watchdog is not None and self.now() - last_ping >= watchdog:
                self.notifier.notify("WATCHDOG=1")
                last_ping = self.now()

    async def _outbox_monitor(self) -> None:
        assert self.outbox is not None
        while True:
            await self._refresh()
            await asyncio.sleep(1.0)

    async def _refresh(self) -> None:
        if self.outbox is None:
            return
        stats = await self._db(self.outbox.stats)
        self.outbox_stats = stats
        self.metrics.outbox_depth.set(stats.depth)
        self.metrics.outbox_age.set(
            0.0
            if stats.oldest_created_at is None
            else max(0.0, time.time() - stats.oldest_created_at)
        )
        if self.deliverer is not None:
            d = self.deliverer.stats
            for label, value in (
                ("accepted", d.delivered),
                ("duplicate", d.duplicates),
                ("rejected", d.rejected),
            ):
                new = value - self._delivered_reported.get(label, 0)
                if new > 0:
                    self.metrics.outbox_delivered.labels(label).inc(new)
                    self._delivered_reported[label] = value
        for name in ("watchlist", "registry", "manifests"):
            age = self.lists.age(name)
            if age is not None:
                self.metrics.lists_age.labels(name).set(age)
        if stats.high_water != self._high_water:
            self._high_water = stats.high_water
            if stats.high_water:
                log.warning("outbox high water: %d of %d", stats.depth, stats.capacity)
                await self.emit(
                    lambda f: events.DeviceFaultEvent(
                        **f,
                        device=events.Device.CENTRAL_LINK,
                        code="LANE_OUTBOX_HIGH_WATER",
                        detail=f"{stats.depth} of {stats.capacity} events undelivered",
                    )
                )
        await self._check_lists_age()
        if not stats.admitting:
            self._refuse_travellers(stats.reason)
        elif self._outbox_refusing:
            self._outbox_refusing = False
            self._device_recovered(events.Device.OUTBOX)

    async def _check_lists_age(self) -> None:
        """Say once (lane_state event, /status) when the cached lists become too old."""
        age = self.lists.oldest_age()
        stale = age is not None and age > self.config.policy.lists_max_age_hours * 3600
        if stale == self._lists_stale:
            return
        self._lists_stale = stale
        state = lane_state_of(self.lane.state)
        if stale:
            assert age is not None
            then = (
                "every traveller is referred"
                if self.config.policy.stale_lists == "refer"
                else "travellers are served with a warning"
            )
            reason = f"LANE_LISTS_STALE: cached lists are {age / 3600:.1f} h old; {then}"
        else:
            reason = "cached lists are current again"
        log.warning("%s", reason)
        await self.emit(
            lambda f: events.LaneStateEvent(**f, previous=state, state=state, reason=reason)
        )

    def _refuse_travellers(self, reason: str) -> None:
        """The outbox cannot record more travellers: out of service until it can."""
        if self._outbox_refusing:
            return
        self._outbox_refusing = True
        self._device_fault(events.Device.OUTBOX, "LANE_OUTBOX_FULL", reason)

    def _device_states(self) -> dict[str, str]:
        return {
            name: ("fault" if device in self.device_faults else "ok")
            for device, name in DEVICE_NAMES.items()
        }

    def health(self) -> list[str]:
        reasons = []
        state = lane_state_of(self.lane.state)
        if state not in (events.LaneState.IDLE, events.LaneState.BUSY):
            reasons.append(f"lane is {state.value}")
        for device, code in self.device_faults.items():
            reasons.append(f"{device.value}: {code}")
        if self._outbox_refusing:
            reasons.append("outbox cannot record more travellers")
        if not self.started.is_set():
            reasons.append("starting")
        return reasons

    def status(self) -> dict[str, Any]:
        d = self.deliverer.stats if self.deliverer else None
        stats = self.outbox_stats
        age = self.lists.oldest_age()
        max_age = self.config.policy.lists_max_age_hours * 3600
        return {
            "lane_id": self.config.lane.id,
            "state": lane_state_of(self.lane.state).value,
            "step": self.lane.state.value,
            "devices": self._device_states(),
            "doors": dict(self.doors),
            "outbox": {
                "depth": stats.depth if stats else None,
                "oldest_age_seconds": (
                    round(max(0.0, time.time() - stats.oldest_created_at), 3)
                    if stats and stats.oldest_created_at is not None
                    else None
                ),
                "rejected": stats.rejected if stats else None,
                "portraits": stats.portraits if stats else None,
                "high_water": stats.high_water if stats else None,
                "admitting": not self._outbox_refusing,
            },
            "last_delivery": (
                datetime.fromtimestamp(d.last_delivery, UTC).isoformat()
                if d and d.last_delivery
                else None
            ),
            "central": {
                "enabled": self.central_enabled,
                "link": {True: "up", False: "down", None: "unknown"}[self.central_up],
                "last_error": d.last_error if d else "",
            },
            "degraded": self.central_up is False,
            "lists": self.lists.summary(),
            "lists_stale": age is not None and age > max_age,
            "lists_missing": age is None,
            "screen": {"screen": self.screen.screen, "language": self.screen.language},
            "officer_requested": bool(self.officer_requested),
            "transactions": self.transactions,
            "loop_lag_seconds": round(self.last_loop_lag, 4),
        }

    async def maintenance(self, action: str, args: dict[str, Any]) -> tuple[str, str]:
        try:
            officer = events.CommandAction(action)
        except ValueError:
            known = ", ".join(a.value for a in events.CommandAction)
            return "unknown", f"unknown action {action!r}; actions: {known}"
        command_id = f"local-{uuid.uuid4()}"
        future: asyncio.Future[tuple[str, str]] = asyncio.get_running_loop().create_future()
        self._pending_acks[command_id] = future
        self.post(
            li.OfficerCommand(
                at=self.now(),
                command_id=command_id,
                action=officer,
                args={str(k): str(v) for k, v in args.items()},
            )
        )
        try:
            async with asyncio.timeout(5.0):
                return await future
        except TimeoutError:
            self._pending_acks.pop(command_id, None)
            return "failed", "the lane did not acknowledge the command within 5 s"


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
