"""asyncio driver for gate controllers speaking docs/gate-protocol.md over any pyserial URL.

    ctl = SerialGateController("/dev/ttyUSB0")       # or socket://, rfc2217://, loop://
    await ctl.start()                                 # raises a clear error if nothing answers
    await ctl.release_passage(Door.ENTRY)
    async for event in ctl.events(): ...

The protocol rules live in the sans-IO :class:`~drivers.gatectl.session.HostSession`; this
module only moves bytes: a reader thread per open port (pyserial has no asyncio API and many
URL handlers have no file descriptor), writes from the event loop, a timer for the session's
deadlines, and a supervisor that reopens the port after an unplug and re-synchronises the
controller (configuration, indicators, mode) after every (re)connection and controller reboot.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import serial

from drivers import registry
from drivers.gatectl import protocol as p
from drivers.gatectl.auth import load_key
from drivers.gatectl.session import (
    CommandRejected,
    ControllerDisconnected,
    ControllerRebooted,
    ControllerTimeout,
    EventReceived,
    HostSession,
    LinkWarning,
    Reply,
    RequestFailed,
)

__all__ = [
    "CommandRejected",
    "ControllerDisconnected",
    "ControllerTimeout",
    "GateController",
    "SerialGateController",
]

if TYPE_CHECKING:
    from gate.config import GateControllerConfig

log = logging.getLogger(__name__)

EVENT_BACKLOG = 10_000  # events kept for a slow (or absent) reader of events()


# --------------------------------------------------------------------------- driver events


@dataclass(frozen=True)
class LinkUp:
    port: str


@dataclass(frozen=True)
class LinkDown:
    port: str
    error: str


@dataclass(frozen=True)
class RebootDetected:
    boot_id: int
    previous: int | None


@dataclass(frozen=True)
class Resynced:
    reason: str  # "connect", "reboot", "safe-state"
    status: p.Status


@dataclass(frozen=True)
class ControllerUnresponsive:
    error: str


DriverEvent = p.Event | LinkUp | LinkDown | RebootDetected | Resynced | ControllerUnresponsive


# --------------------------------------------------------------------------- interface


class GateController(abc.ABC):
    """What the lane daemon needs from a gate; the serial and Modbus drivers implement it."""

    @abc.abstractmethod
    async def start(self, timeout: float = 5.0) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def status(self) -> p.Status: ...

    @abc.abstractmethod
    async def door(self, door: p.Door, action: p.DoorAction) -> None: ...

    @abc.abstractmethod
    async def release_passage(
        self, door: p.Door, direction: p.Direction = p.Direction.IN, timeout: float = 0.0
    ) -> None: ...

    @abc.abstractmethod
    async def cancel_passage(self) -> None: ...

    @abc.abstractmethod
    async def set_indicators(
        self,
        entry: p.Pictogram = p.Pictogram.OFF,
        exit: p.Pictogram = p.Pictogram.OFF,
        buzzer: p.Buzzer = p.Buzzer.OFF,
        buzzer_seconds: float = 0.0,
    ) -> None: ...

    @abc.abstractmethod
    async def set_mode(self, mode: p.Mode) -> None: ...

    def __init__(self, port: str) -> None:
        """Every driver's events go through one bounded backlog (``_emit``, :meth:`events`)."""
        self.port = port
        self._queue: asyncio.Queue[DriverEvent] = asyncio.Queue(maxsize=EVENT_BACKLOG)
        self.dropped_events = 0

    def _emit(self, event: DriverEvent) -> None:
        """Queue an event for :meth:`events`; when nobody reads them, the oldest are dropped."""
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped_events += 1
            if self.dropped_events in (1, 100, 10_000):
                log.warning("gatectl %s: event backlog full, oldest dropped", self.port)
        self._queue.put_nowait(event)

    async def events(self) -> AsyncIterator[DriverEvent]:
        while True:
            yield await self._queue.get()

    async def next_event(self, timeout: float = 5.0) -> DriverEvent:
        return await asyncio.wait_for(self._queue.get(), timeout)

    async def open_door(self, door: p.Door) -> None:
        await self.door(door, p.DoorAction.OPEN)

    async def close_door(self, door: p.Door) -> None:
        await self.door(door, p.DoorAction.CLOSE)

    async def lock_door(self, door: p.Door) -> None:
        await self.door(door, p.DoorAction.LOCK)


# --------------------------------------------------------------------------- serial driver


class SerialGateController(GateController):
    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 115200,
        heartbeat_interval: float = 1.0,
        heartbeat_timeout: float | None = None,
        safe_state: p.SafeState = p.SafeState.CLOSED,
        passage_timeout: float = 10.0,
        response_timeout: float = 0.1,
        retries: int = 3,
        event_retry: float = 0.1,
        reconnect_interval: float = 0.5,
        mode: p.Mode = p.Mode.NORMAL,
        rearm_after_safe_state: bool = True,
        passive: bool = False,
        serial_factory: Callable[..., Any] = serial.serial_for_url,
        auth_key: bytes | None = None,
    ):
        """``passive``: never configure the controller or change its mode on (re)connection
        (for diagnostic tools that must not disturb a running lane)."""
        super().__init__(port)
        self.baudrate = baudrate
        self.heartbeat_interval = heartbeat_interval
        self.configuration = p.Configure(
            int((heartbeat_timeout or 3 * heartbeat_interval) * 1000),
            safe_state,
            int(passage_timeout * 1000),
            int(event_retry * 1000),
        )
        self.response_timeout = response_timeout
        self.retries = retries
        self.reconnect_interval = reconnect_interval
        self.desired_mode = mode
        self.indicators = p.SetIndicators()
        self.rearm_after_safe_state = rearm_after_safe_state and not passive
        self.passive = passive
        self._serial_factory = serial_factory
        self.auth_key = auth_key
        """Frame authentication key (docs/gate-protocol.md §13), None for a plain link."""
        self.session = self._new_session()
        self.last_status: p.Status | None = None
        self.last_error: str = "not started"
        self._ser: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._futures: dict[int, asyncio.Future[p.Status | None]] = {}
        self._wake = asyncio.Event()
        self._lost = asyncio.Event()
        self._synced = asyncio.Event()
        self._closed = False
        self._tasks: list[asyncio.Task[None]] = []
        self._reader: threading.Thread | None = None
        self._reader_stop = threading.Event()
        self._unresponsive = False
        self._resync_task: asyncio.Task[None] | None = None
        self.connections = 0

    def _new_session(self) -> HostSession:
        previous: HostSession | None = getattr(self, "session", None)
        return HostSession(
            response_timeout=self.response_timeout,
            retries=self.retries,
            heartbeat_interval=self.heartbeat_interval,
            initial_seq=random.randrange(1, 256),
            known_boot_id=previous.boot_id if previous is not None else None,
            auth_key=self.auth_key,
        )

    # ----------------------------------------------------------------- lifecycle

    @property
    def connected(self) -> bool:
        return self._ser is not None

    async def start(self, timeout: float = 5.0) -> None:
        """Open the port and re-synchronise the controller; raise if that fails in time.

        The driver keeps trying in the background afterwards as well (reconnect after unplug).
        """
        self._loop = asyncio.get_running_loop()
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._supervise(), name="gatectl-supervisor"),
                asyncio.create_task(self._timer(), name="gatectl-timer"),
            ]
        try:
            await asyncio.wait_for(self._synced.wait(), timeout)
        except TimeoutError:
            raise ControllerDisconnected(
                f"gate controller on {self.port!r} not ready after {timeout:.1f} s "
                f"(last error: {self.last_error}); check the port name, cabling, baud rate "
                f"({self.baudrate}) and that the controller is powered"
            ) from None

    async def close(self) -> None:
        self._closed = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # asyncio.wait: never swallows a cancellation of the caller
            await asyncio.wait(self._tasks, timeout=2)
        self._tasks = []
        if self._resync_task is not None:
            self._resync_task.cancel()
        self._drop_link("driver closed")

    async def __aenter__(self) -> SerialGateController:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _supervise(self) -> None:
        while not self._closed:
            try:
                ser = await asyncio.to_thread(self._open)
            except (serial.SerialException, OSError, ValueError) as exc:
                self.last_error = f"cannot open {self.port!r}: {exc}"
                await asyncio.sleep(self.reconnect_interval)
                continue
            self._attach(ser)
            await self._lost.wait()
            if not self._closed:
                await asyncio.sleep(self.reconnect_interval)

    def _open(self) -> Any:
        return self._serial_factory(self.port, baudrate=self.baudrate, timeout=0.05)

    def _attach(self, ser: Any) -> None:
        self._ser = ser
        self._lost.clear()
        self.connections += 1
        self.session = self._new_session()
        self._reader_stop = threading.Event()
        self._reader = threading.Thread(
            target=self._read_loop,
            args=(ser, self._reader_stop),
            name="gatectl-reader",
            daemon=True,
        )
        self._reader.start()
        self._emit(LinkUp(self.port))
        self._schedule_resync("connect")

    def _drop_link(self, error: str) -> None:
        ser, self._ser = self._ser, None
        if ser is None:
            return
        self.last_error = error
        self._synced.clear()
        self._reader_stop.set()
        with contextlib.suppress(Exception):
            if hasattr(ser, "cancel_read"):
                ser.cancel_read()
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(timeout=1)
        with contextlib.suppress(Exception):
            ser.close()
        self.session.link_lost(
            ControllerDisconnected(
                f"gate controller link {self.port!r} lost ({error}); the driver reconnects "
                f"every {self.reconnect_interval:.1f} s"
            )
        )
        self._handle_outputs()
        self._lost.set()
        if not self._closed:
            self._emit(LinkDown(self.port, error))

    def _read_loop(self, ser: Any, stop: threading.Event) -> None:
        loop = self._loop
        assert loop is not None
        while not stop.is_set():
            try:
                waiting = ser.in_waiting
                data = ser.read(waiting or 1)
            except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                if not stop.is_set():
                    with contextlib.suppress(RuntimeError):
                        loop.call_soon_threadsafe(self._on_link_error, ser, str(exc))
                return
            if data:
                with contextlib.suppress(RuntimeError):  # loop closed during shutdown
                    loop.call_soon_threadsafe(self._on_data, ser, bytes(data))

    def _on_link_error(self, ser: Any, error: str) -> None:
        if ser is self._ser:
            self._drop_link(error)

    def _on_data(self, ser: Any, data: bytes) -> None:
        if ser is not self._ser:
            return
        self.session.receive(data, self._now())
        self._flush()

    def _now(self) -> float:
        """The session's clock: the event loop's (a virtual-time loop's in the simulator)."""
        return self._loop.time() if self._loop is not None else time.monotonic()

    def _flush(self) -> None:
        out = self.session.data_to_send()
        if out and self._ser is not None:
            try:
                self._ser.write(out)
            except (serial.SerialException, OSError) as exc:
                self._drop_link(f"write failed: {exc}")
        self._handle_outputs()
        self._wake.set()

    async def _timer(self) -> None:
        while not self._closed:
            deadline = self.session.deadline() if self._ser is not None else None
            wait = 0.5 if deadline is None else max(0.0, deadline - self._now())
            self._wake.clear()
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()
            if self._ser is not None:
                self.session.poll(self._now())
                self._flush()

    # ----------------------------------------------------------------- outputs

    def _handle_outputs(self) -> None:
        for out in self.session.outputs():
            if isinstance(out, Reply):
                if out.status is not None:
                    self.last_status = out.status
                if self._unresponsive:
                    self._unresponsive = False
                fut = self._futures.pop(out.request_id, None)
                if fut is not None and not fut.done():
                    fut.set_result(out.status)
            elif isinstance(out, RequestFailed):
                fut = self._futures.pop(out.request_id, None)
                if fut is not None and not fut.done():
                    fut.set_exception(out.error)
                if (
                    out.request_id == 0
                    and isinstance(out.error, ControllerTimeout)
                    and not self._unresponsive
                ):
                    self._unresponsive = True
                    self._emit(ControllerUnresponsive(str(out.error)))
            elif isinstance(out, EventReceived):
                event = out.event
                self._emit(event)
                if (
                    isinstance(event, p.ModeChanged)
                    and event.mode == p.Mode.SAFE
                    and event.reason == p.ModeReason.HEARTBEAT_LOST
                    and self.rearm_after_safe_state
                ):
                    self._schedule_resync("safe-state")
            elif isinstance(out, ControllerRebooted):
                self._emit(RebootDetected(out.boot_id, out.previous))
                self._schedule_resync("reboot")
            elif isinstance(out, LinkWarning):
                log.warning("gatectl %s: %s", self.port, out.message)

    def _schedule_resync(self, reason: str) -> None:
        running = self._resync_task is not None and not self._resync_task.done()
        if running and reason != "reboot":
            return  # the running re-synchronisation restores the mode as well
        if self._resync_task is not None and running:
            self._resync_task.cancel()
        self._resync_task = asyncio.get_running_loop().create_task(self._resync(reason))

    async def _resync(self, reason: str) -> None:
        """Bring a (re)connected or rebooted controller to the state the host wants."""
        for _attempt in range(1000):
            if self._ser is None:
                return
            try:
                if not self.passive:
                    await self._request(self.configuration)
                    await self._request(self.indicators)
                    try:
                        await self._request(p.SetMode(self.desired_mode))
                    except CommandRejected as exc:  # fire alarm active: stays in emergency
                        log.warning("gatectl %s: mode not restored: %s", self.port, exc)
                status = await self.status()
            except (ControllerTimeout, p.ProtocolError) as exc:
                self.last_error = str(exc)
                await asyncio.sleep(self.reconnect_interval)
                continue
            except ControllerDisconnected:
                return
            except CommandRejected as exc:  # retrying the same settings cannot help
                self.last_error = (
                    f"the controller refused the lane's settings: {exc}; correct the [gatectl] "
                    "section of the lane configuration"
                )
                log.error("gatectl %s: %s", self.port, self.last_error)
                return
            self._synced.set()
            self._emit(Resynced(reason, status))
            return

    # ----------------------------------------------------------------- requests

    async def _request(self, command: p.Message) -> p.Status | None:
        if self._ser is None:
            raise ControllerDisconnected(
                f"gate controller on {self.port!r} is not connected ({self.last_error}); "
                f"the driver retries every {self.reconnect_interval:.1f} s"
            )
        loop = asyncio.get_running_loop()
        request_id = self.session.submit(command, self._now())
        fut: asyncio.Future[p.Status | None] = loop.create_future()
        self._futures[request_id] = fut
        self._flush()
        try:
            return await fut
        except asyncio.CancelledError:
            # The caller gave up (asyncio.timeout, task cancelled): a command still queued
            # behind another must not reach the controller later, e.g. a door OPEN the lane
            # already treated as failed. One already on the wire cannot be recalled.
            self._futures.pop(request_id, None)
            if not self.session.withdraw(request_id):
                log.warning(
                    "gatectl %s: %s cancelled after it was sent; the controller may still "
                    "execute it",
                    self.port,
                    type(command).__name__,
                )
            raise

    async def command(self, command: p.Message) -> p.Status | None:
        """Send any host command; returns the Status for HEARTBEAT/GET_STATUS, else None."""
        return await self._request(command)

    async def status(self) -> p.Status:
        status = await self._request(p.GetStatus())
        assert status is not None
        return status

    async def door(self, door: p.Door, action: p.DoorAction) -> None:
        await self._request(p.DoorCommand(door, action))

    async def release_passage(
        self, door: p.Door, direction: p.Direction = p.Direction.IN, timeout: float = 0.0
    ) -> None:
        if not 0.0 <= timeout <= 65.535:  # also refuses NaN
            raise p.ProtocolError(
                f"passage timeout {timeout} s is outside 0..65.535 s (0: the configured one)"
            )
        await self._request(p.ReleasePassage(door, direction, round(timeout * 1000)))

    async def cancel_passage(self) -> None:
        await self._request(p.CancelPassage())

    async def set_indicators(
        self,
        entry: p.Pictogram = p.Pictogram.OFF,
        exit: p.Pictogram = p.Pictogram.OFF,
        buzzer: p.Buzzer = p.Buzzer.OFF,
        buzzer_seconds: float = 0.0,
    ) -> None:
        if not buzzer_seconds >= 0.0:  # also refuses NaN
            raise p.ProtocolError(f"buzzer duration {buzzer_seconds} s is negative or NaN")
        cmd = p.SetIndicators(entry, exit, buzzer, min(255, round(buzzer_seconds * 10)))
        await self._request(cmd)
        self.indicators = cmd

    async def set_mode(self, mode: p.Mode) -> None:
        await self._request(p.SetMode(mode))
        self.desired_mode = mode

    async def wait_for(
        self, predicate: Callable[[DriverEvent], bool], timeout: float = 5.0
    ) -> DriverEvent:
        """Consume events until one satisfies ``predicate``; raise TimeoutError otherwise."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self._queue.get()
                if predicate(event):
                    return event


# --------------------------------------------------------------------------- factory


def driver_options(config: GateControllerConfig) -> dict[str, Any]:
    """The :class:`SerialGateController` keyword arguments a ``[gate_controller]`` section
    means (shared by every serial-protocol implementation, simulated ones included)."""
    return {
        "baudrate": config.baudrate,
        "heartbeat_interval": config.heartbeat_seconds,
        "safe_state": p.SafeState[config.safe_state.upper()],
        "passage_timeout": config.passage_timeout_seconds,
        "response_timeout": config.response_timeout_seconds,
        "retries": config.retries,
        "reconnect_interval": config.reconnect_seconds,
        "auth_key": None if config.auth_key_file is None else load_key(config.auth_key_file),
    }


def serial_from_config(config: GateControllerConfig, **options: Any) -> SerialGateController:
    """Device-registry factory ``gatectl.serial``."""
    return SerialGateController(config.port, **{**driver_options(config), **options})


def open_gate_controller(config: GateControllerConfig, **options: Any) -> GateController:
    """The gate controller driver a lane configuration asks for (not started yet), from the
    device registry (:mod:`drivers.registry`): ``serial``, ``modbus`` or ``simulator``."""
    controller: GateController = registry.build("gatectl", config.kind, config, **options)
    return controller
