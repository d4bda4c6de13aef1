"""Gate controller driver for dry-contact gates behind a Modbus RTU digital I/O module.

Same interface (:class:`drivers.gatectl.driver.GateController`) and the same event classes as
the serial protocol driver, but the gate logic runs here, in the host: the driver polls the
module's discrete inputs (door-closed contacts, beams, fire alarm, tamper) every
``poll_interval`` seconds, derives DoorChanged / BeamChanged / ForcedDoor / Emergency /
Tamper / PassageCompleted / PassageAborted / ModeChanged events, and drives the coils (door
"open" and "lock" relays, pictograms, buzzer). Wiring is described by :class:`IoMap`.

Limits of dry contacts: door states are only "closed" (LOCKED when the lock relay is on) or
"open"; tailgating is counted from the rising edges of the beam just past the door; the host
cannot be supervised by the gate, so the **safe state on host loss must come from the I/O
module's own communication watchdog** (most modules can set outputs to a safe value after a
configurable silence; set the lock relays accordingly). The polling keeps that watchdog fed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from drivers.gatectl import protocol as p
from drivers.gatectl.driver import (
    EVENT_BACKLOG,
    DriverEvent,
    GateController,
    LinkDown,
    LinkUp,
    Resynced,
)
from drivers.gatectl.session import CommandRejected, ControllerDisconnected

if TYPE_CHECKING:
    from gate.config import GateControllerConfig

log = logging.getLogger(__name__)


def _link_errors() -> tuple[type[BaseException], ...]:
    try:
        from pymodbus.exceptions import ModbusException
    except ImportError:  # pragma: no cover - pymodbus is a dependency
        return (OSError, TimeoutError, p.GateControllerError)
    return (ModbusException, OSError, TimeoutError, p.GateControllerError)


_LINK_ERRORS = _link_errors()


def modbus_crc(data: bytes) -> int:
    """CRC-16/MODBUS (reflected 0xA001, init 0xFFFF); ``modbus_crc(b"123456789") == 0x4B37``."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


@dataclass(frozen=True)
class IoMap:
    """Coil and discrete-input addresses (0-based) of the module's wiring."""

    entry_open: int = 0
    entry_lock: int = 1
    exit_open: int = 2
    exit_lock: int = 3
    entry_green: int = 4
    entry_red: int = 5
    exit_green: int = 6
    exit_red: int = 7
    buzzer: int = 8
    coil_count: int = 9
    entry_closed: int = 0
    exit_closed: int = 1
    fire_alarm: int = 2
    tamper: int = 3
    first_beam: int = 8
    beam_count: int = 5

    @property
    def input_count(self) -> int:
        return max(self.entry_closed, self.exit_closed, self.fire_alarm, self.tamper,
                   self.first_beam + self.beam_count - 1) + 1  # fmt: skip


@dataclass
class _Passage:
    door: p.Door
    direction: p.Direction
    deadline: float
    approach: int
    crossing: int
    count: int = 0
    approached: bool = False
    clear_since: float | None = None
    crossing_was: bool = False


class ModbusGateController(GateController):
    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 19200,
        unit: int = 1,
        io_map: IoMap | None = None,
        poll_interval: float = 0.05,
        passage_timeout: float = 10.0,
        settle: float = 0.5,
        timeout: float = 0.5,
        reconnect_interval: float = 0.5,
        client_factory: Callable[..., Any] | None = None,
    ):
        self.port = port
        self.baudrate = baudrate
        self.unit = unit
        self.map = io_map or IoMap()
        self.poll_interval = poll_interval
        self.passage_timeout = passage_timeout
        self.settle = settle
        self.timeout = timeout
        self.reconnect_interval = reconnect_interval
        self._factory = client_factory or self._default_client
        self._client: Any = None
        self._coils = [False] * self.map.coil_count
        self._coils[self.map.entry_lock] = self._coils[self.map.exit_lock] = True  # NORMAL
        self.mode = p.Mode.NORMAL
        self._inputs: list[bool] | None = None
        self._passage: _Passage | None = None
        # bounded like the serial driver's: a lane that stops reading must not grow memory
        self._queue: asyncio.Queue[DriverEvent] = asyncio.Queue(maxsize=EVENT_BACKLOG)
        self.dropped_events = 0
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._lock = asyncio.Lock()
        self._t0 = time.monotonic()
        self.last_error = "not started"
        self.fire_alarm = False
        self._closing = False

    def _default_client(self) -> Any:
        from pymodbus.client import AsyncModbusSerialClient

        return AsyncModbusSerialClient(
            self.port, baudrate=self.baudrate, timeout=self.timeout, retries=1, reconnect_delay=0
        )

    # ----------------------------------------------------------------- lifecycle

    async def start(self, timeout: float = 5.0) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="gatectl-modbus")
        try:
            async with asyncio.timeout(timeout):
                await self._ready.wait()
        except TimeoutError:
            raise ControllerDisconnected(
                f"Modbus I/O module {self.unit} on {self.port!r} not ready after {timeout:.1f} s "
                f"(last error: {self.last_error}); check the port, baud rate ({self.baudrate}), "
                "slave address and wiring"
            ) from None

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            # asyncio.wait: never swallows a cancellation of the caller
            await asyncio.wait([self._task], timeout=2)
            self._task = None
        self._disconnect()

    def _disconnect(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None
        self._ready.clear()

    async def _run(self) -> None:
        while not self._closing:
            try:
                client = self._factory()
                connected = await client.connect()
                if not connected:
                    raise OSError(f"cannot open {self.port!r}")
                self._client = client
                # Doors go back to what the mode prescribes: a door that was open when the
                # link dropped is not reopened by the reconnection (no command asked for it).
                for address, value in self._door_coils(self.mode).items():
                    self._coils[address] = value
                await self._write_all_coils()
                await self._poll_once()
                self._ready.set()
                self._emit(LinkUp(self.port))
                self._emit(Resynced("connect", self._status()))
                while not self._closing:
                    await asyncio.sleep(self.poll_interval)
                    await self._poll_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # pymodbus raises several unrelated types; report all
                if self._closing:
                    return
                self.last_error = f"{type(exc).__name__}: {exc}"
                if not isinstance(exc, _LINK_ERRORS):  # a bug here, not a cable: keep the trace
                    log.error(
                        "gatectl modbus %s: unexpected error, reconnecting",
                        self.port,
                        exc_info=True,
                    )
                if self._client is not None:
                    self._emit(LinkDown(self.port, self.last_error))
                self._disconnect()
                await asyncio.sleep(self.reconnect_interval)

    # ----------------------------------------------------------------- Modbus I/O

    def _check(self, response: Any, what: str) -> Any:
        if response is None or response.isError():
            raise ControllerDisconnected(f"Modbus {what} failed: {response}")
        return response

    async def _write_all_coils(self) -> None:
        async with self._lock:
            resp = await self._client.write_coils(0, list(self._coils), device_id=self.unit)
            self._check(resp, "write coils")

    async def _set_coils(self, changes: dict[int, bool]) -> None:
        if self._client is None:
            raise ControllerDisconnected(
                f"Modbus I/O module on {self.port!r} is not connected ({self.last_error})"
            )
        previous = list(self._coils)
        for address, value in changes.items():
            self._coils[address] = value
        try:
            await self._write_all_coils()
        except BaseException:
            # A failed (or cancelled) write must not stay in memory: every later write sends
            # all coils, so a door OPEN the caller saw fail would be executed by, say, the
            # next pictogram change.
            self._coils = previous
            raise

    async def _poll_once(self) -> None:
        async with self._lock:
            resp = await self._client.read_discrete_inputs(
                0, count=self.map.input_count, device_id=self.unit
            )
        bits = list(self._check(resp, "read discrete inputs").bits[: self.map.input_count])
        if len(bits) < self.map.input_count:
            raise ControllerDisconnected(
                f"Modbus read discrete inputs returned {len(bits)} inputs, "
                f"{self.map.input_count} expected: check the slave address and the IoMap"
            )
        await self._on_inputs(bits)

    # ----------------------------------------------------------------- input logic

    def _ms(self) -> int:
        return int((time.monotonic() - self._t0) * 1000) & 0xFFFFFFFF

    def _door_state(self, door: p.Door, bits: list[bool]) -> p.DoorState:
        closed = bits[self.map.entry_closed if door == p.Door.ENTRY else self.map.exit_closed]
        lock = self._coils[self.map.entry_lock if door == p.Door.ENTRY else self.map.exit_lock]
        if closed:
            return p.DoorState.LOCKED if lock else p.DoorState.CLOSED
        return p.DoorState.OPEN

    def _open_coil(self, door: p.Door) -> int:
        return self.map.entry_open if door == p.Door.ENTRY else self.map.exit_open

    async def _on_inputs(self, bits: list[bool]) -> None:
        old, self._inputs = self._inputs, bits
        m, ms = self.map, self._ms()
        if old is not None:
            for i in range(m.beam_count):
                if bits[m.first_beam + i] != old[m.first_beam + i]:
                    self._emit(p.BeamChanged(ms, i, bits[m.first_beam + i]))
            for door in p.Door:
                before, now = self._door_state(door, old), self._door_state(door, bits)
                if before != now:
                    self._emit(p.DoorChanged(ms, door, now))
                    if now == p.DoorState.OPEN and not self._coils[self._open_coil(door)]:
                        self._emit(p.ForcedDoor(ms, door))
            if bits[m.tamper] != old[m.tamper]:
                self._emit(p.Tamper(ms, bits[m.tamper]))
        if bits[m.fire_alarm] != self.fire_alarm:
            self.fire_alarm = bits[m.fire_alarm]
            self._emit(p.Emergency(ms, self.fire_alarm))
            if self.fire_alarm:
                await self._apply_mode(p.Mode.EMERGENCY_OPEN, p.ModeReason.FIRE_ALARM)
        await self._track_passage(bits)

    async def _track_passage(self, bits: list[bool]) -> None:
        passage = self._passage
        if passage is None:
            return
        now = time.monotonic()
        beam = self.map.first_beam
        approach, crossing = bits[beam + passage.approach], bits[beam + passage.crossing]
        if crossing and not passage.crossing_was:
            passage.count += 1
        passage.crossing_was = crossing
        passage.approached |= approach
        if approach or crossing:
            passage.clear_since = None
        elif passage.clear_since is None:
            passage.clear_since = now
        settled = passage.clear_since is not None and now - passage.clear_since >= self.settle
        if passage.count and settled:
            await self._end_passage(
                p.PassageCompleted(self._ms(), passage.door, passage.direction, passage.count)
            )
        elif now >= passage.deadline and not approach and not crossing:
            reason = p.AbortReason.TURNED_BACK if passage.approached else p.AbortReason.TIMEOUT
            await self._end_passage(p.PassageAborted(self._ms(), passage.door, reason))

    async def _end_passage(self, event: p.Event) -> None:
        passage = self._passage
        assert passage is not None
        self._passage = None
        self._emit(event)
        if not isinstance(event, p.PassageAborted) or event.reason != p.AbortReason.MODE_CHANGE:
            await self.door(passage.door, p.DoorAction.LOCK, _internal=True)

    # ----------------------------------------------------------------- commands

    def _status(self) -> p.Status:
        bits = self._inputs or [False] * self.map.input_count
        m = self.map
        beams = sum(1 << i for i in range(m.beam_count) if bits[m.first_beam + i])
        flags = (p.StatusFlag.FIRE_ALARM if bits[m.fire_alarm] else 0) | (
            p.StatusFlag.TAMPER if bits[m.tamper] else 0
        )
        if self._passage is not None:
            flags |= p.StatusFlag.PASSAGE_ACTIVE
        return p.Status(
            0,
            self._ms(),
            self.mode,
            self._door_state(p.Door.ENTRY, bits),
            self._door_state(p.Door.EXIT, bits),
            m.beam_count,
            beams,
            flags,
        )

    async def status(self) -> p.Status:
        if self._client is None:
            raise ControllerDisconnected(f"Modbus I/O module on {self.port!r} is not connected")
        await self._poll_once()
        return self._status()

    async def door(self, door: p.Door, action: p.DoorAction, *, _internal: bool = False) -> None:
        if not _internal:
            if self.mode == p.Mode.EMERGENCY_OPEN:
                raise CommandRejected(
                    "door commands are refused in EMERGENCY_OPEN", p.NakReason.NOT_ALLOWED
                )
            if self._passage is not None and self._passage.door == door:
                raise CommandRejected("a passage is released through that door", p.NakReason.BUSY)
        m = self.map
        open_coil = self._open_coil(door)
        lock_coil = m.entry_lock if door == p.Door.ENTRY else m.exit_lock
        changes = {
            p.DoorAction.OPEN: {open_coil: True, lock_coil: False},
            p.DoorAction.CLOSE: {open_coil: False, lock_coil: False},
            p.DoorAction.LOCK: {open_coil: False, lock_coil: True},
            p.DoorAction.UNLOCK: {lock_coil: False},
        }[action]
        await self._set_coils(changes)

    async def release_passage(
        self, door: p.Door, direction: p.Direction = p.Direction.IN, timeout: float = 0.0
    ) -> None:
        if self.mode != p.Mode.NORMAL:
            raise CommandRejected(
                f"passages are refused in mode {self.mode.name}", p.NakReason.NOT_ALLOWED
            )
        if self._passage is not None:
            raise CommandRejected("another passage is released", p.NakReason.BUSY)
        last = self.map.beam_count - 1
        before, after = (0, 1) if door == p.Door.ENTRY else (last - 1, last)
        approach, crossing = (before, after) if direction == p.Direction.IN else (after, before)
        bits = self._inputs or []
        self._passage = _Passage(
            door,
            direction,
            time.monotonic() + (timeout or self.passage_timeout),
            approach,
            crossing,
            crossing_was=bool(bits and bits[self.map.first_beam + crossing]),
        )
        await self.door(door, p.DoorAction.OPEN, _internal=True)

    async def cancel_passage(self) -> None:
        if self._passage is not None:
            await self._end_passage(
                p.PassageAborted(self._ms(), self._passage.door, p.AbortReason.CANCELLED)
            )

    async def set_indicators(
        self,
        entry: p.Pictogram = p.Pictogram.OFF,
        exit: p.Pictogram = p.Pictogram.OFF,
        buzzer: p.Buzzer = p.Buzzer.OFF,
        buzzer_seconds: float = 0.0,
    ) -> None:
        m = self.map
        await self._set_coils(
            {
                m.entry_green: entry == p.Pictogram.GREEN_ARROW,
                m.entry_red: entry in (p.Pictogram.RED_CROSS, p.Pictogram.AMBER_WAIT),
                m.exit_green: exit == p.Pictogram.GREEN_ARROW,
                m.exit_red: exit in (p.Pictogram.RED_CROSS, p.Pictogram.AMBER_WAIT),
                m.buzzer: buzzer != p.Buzzer.OFF,
            }
        )

    async def set_mode(self, mode: p.Mode) -> None:
        if mode == p.Mode.SAFE:
            raise CommandRejected("SAFE is entered by the gate only", p.NakReason.BAD_PARAMETER)
        if self.fire_alarm and mode != p.Mode.EMERGENCY_OPEN:
            raise CommandRejected("the fire alarm is active", p.NakReason.NOT_ALLOWED)
        await self._apply_mode(mode, p.ModeReason.HOST_COMMAND)

    async def _apply_mode(self, mode: p.Mode, reason: p.ModeReason) -> None:
        if self._passage is not None and mode != p.Mode.NORMAL:
            await self._end_passage(
                p.PassageAborted(self._ms(), self._passage.door, p.AbortReason.MODE_CHANGE)
            )
        self.mode = mode
        await self._set_coils(self._door_coils(mode))
        self._emit(p.ModeChanged(self._ms(), mode, reason))

    def _door_coils(self, mode: p.Mode) -> dict[int, bool]:
        """Door coils a mode prescribes: all open in EMERGENCY_OPEN, closed and locked else."""
        m = self.map
        opened = mode == p.Mode.EMERGENCY_OPEN
        return {
            m.entry_open: opened,
            m.exit_open: opened,
            m.entry_lock: not opened,
            m.exit_lock: not opened,
        }


def modbus_from_config(config: GateControllerConfig, **options: Any) -> ModbusGateController:
    """Device-registry factory ``gatectl.modbus``."""
    settings: dict[str, Any] = {
        "baudrate": config.baudrate,
        "passage_timeout": config.passage_timeout_seconds,
        "timeout": max(0.1, config.response_timeout_seconds * (config.retries + 1)),
        "reconnect_interval": config.reconnect_seconds,
    }
    return ModbusGateController(config.port, **{**settings, **options})
