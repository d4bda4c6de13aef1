"""The simulated gate controller on the event loop: the same device core and fault knobs as
:class:`~simulator.gatectl.server.GateSimulator`, without a pty or a thread.

The serial driver reads it through an in-memory line (:class:`simulator.lane_devices.MemoryPort`,
its ``serial_factory``); the device is stepped by loop timers on ``loop.time()``, so under a
virtual-time loop (:mod:`simulator.vtime`) doors move and people walk in simulated seconds.
Used by the simulated lanes (``egate sim run``, ``egate demo``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import Any

import serial

from simulator.gatectl.device import DeviceConfig
from simulator.gatectl.server import GateSimulator


class LoopGateSimulator(GateSimulator):
    def __init__(self, config: DeviceConfig | None = None, *, seed: int = 0) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        with contextlib.suppress(RuntimeError):
            self._loop = asyncio.get_running_loop()
        super().__init__(config, baud=None, seed=seed, clock=self._now)
        self._timer: asyncio.TimerHandle | None = None
        self._port: Any = None
        self._plugged = True

    def _now(self) -> float:
        return self._loop.time() if self._loop is not None else time.monotonic()

    @property
    def url(self) -> str:
        return "memory://gate-controller"

    def open_port(self, _url: str, baudrate: int = 0, timeout: float = 0.05) -> Any:
        """The driver's ``serial_factory``."""
        from simulator.lane_devices import MemoryPort

        if not self._plugged:
            raise serial.SerialException("simulated gate controller unplugged")
        if self._port is not None:
            self._port.fail("reopened")
        self._port = MemoryPort(self._from_host, timeout)
        return self._port

    def clear_people(self) -> None:
        """Everyone has left the lane (the simulator's bookkeeping between travellers: a
        companion who walked back out is not left standing in the model)."""
        self.locked(lambda dev, now: dev.lane.people.clear())

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self._running:
            return
        self._loop = asyncio.get_running_loop()
        self._running = True
        self._wake()

    def stop(self) -> None:
        self._running = False
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            self._unplug_locked()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_r = self._wake_w = -1

    # ------------------------------------------------------------------ transport

    def _plug(self) -> None:
        self._plugged = True
        self._inbound.clear()
        self._outbound.clear()

    def _unplug_locked(self) -> None:
        if not self._plugged:
            return
        self._plugged = False
        if self._port is not None:
            self._port.fail("simulated gate controller unplugged")
            self._port = None
        self._inbound.clear()
        self._outbound.clear()
        self.device.reset_input()

    def _wake(self) -> None:
        if self._loop is not None and self._running and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._step)

    def _write(self, data: bytes) -> None:
        self.bytes_to_host += len(data)
        if self._port is not None:
            self._port.feed(data)

    def _from_host(self, data: bytes) -> None:
        with self._lock:
            if self._plugged:
                self._inbound.append((self._now(), data))
        self._wake()

    def _step(self) -> None:
        """What the pty shell's thread does each round, then a timer for the next one."""
        if not self._running or self._loop is None:
            return
        with self._lock:
            now = self._now()
            self._exchange(now)
            deadline = self.device.next_deadline(now)
            for when, _ in self._outbound[:1] + self._inbound[:1]:
                deadline = min(deadline, when)
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(max(deadline, now), self._step)
