"""I/O shell of the simulated gate controller: a pseudo-terminal or a TCP port, a thread, and
transport fault injection.

    with GateSimulator(link=Path("/tmp/gate-tty")) as sim:
        driver = SerialGateController(str(sim.link)) ...
        sim.inject_noise(64); sim.drop_next(1); sim.unplug(); sim.replug(); sim.power_cycle()

On a pty the host opens ``link`` (a symlink to the current /dev/pts/N, re-pointed after a
replug, like a udev rule's stable name). ``baud`` models the serial line: every byte takes
10 bit times in each direction (8N1), so latency figures resemble a real 115200 baud line.
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import socket
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar, Unpack

from drivers.gatectl import protocol as p
from simulator.gatectl.device import ControllerDevice, DeviceConfig
from simulator.gatectl.model import Arrival

T = TypeVar("T")
Direction = Literal["to_host", "from_host"]


class SimulatorError(p.GateControllerError):
    """The simulator could not start (pty, port) or was used wrongly."""


class GateSimulator:
    def __init__(
        self,
        config: DeviceConfig | None = None,
        *,
        transport: Literal["pty", "tcp"] = "pty",
        link: Path | None = None,
        tcp_port: int = 0,
        baud: float | None = 115200,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
        device: Any = None,
    ):
        """``device``: another device core with the same shell interface (receive, tick,
        frames_to_send, next_deadline, reset_input), e.g. the Modbus I/O module simulator."""
        self.config = config or DeviceConfig()
        self.transport = transport
        self.link = link
        self.tcp_port = tcp_port
        self.baud = baud
        self._clock = clock
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self.device: Any = device or ControllerDevice(self.config, now=clock(), seed=seed)
        self._thread: threading.Thread | None = None
        self._running = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._master: int | None = None
        self._slave: int | None = None
        self.slave_name: str | None = None
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None
        self._plugged = False
        # fault knobs (protected by the lock)
        self._drop_out = 0
        self._drop_match: Callable[[bytes], bool] | None = None
        self._dup_out = 0
        self.extra_delay = 0.0
        self._outbound: list[tuple[float, bytes]] = []
        self._inbound: list[tuple[float, bytes]] = []
        self._out_free = 0.0
        self._in_free = 0.0
        self.bytes_to_host = 0

    # ----------------------------------------------------------------- lifecycle

    def __enter__(self) -> GateSimulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """What to give the driver as its port."""
        if self.transport == "tcp":
            return f"socket://127.0.0.1:{self.tcp_port}"
        if self.link is not None:
            return str(self.link)
        if self.slave_name is None:
            raise SimulatorError("the simulator is not started")
        return self.slave_name

    def start(self) -> None:
        if self._running:
            return
        self._plug()
        self._running = True
        self._thread = threading.Thread(target=self._run, name="gatectl-sim", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        with self._lock:
            self._unplug_locked()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_r = self._wake_w = -1

    # ----------------------------------------------------------------- faults / world

    def locked(self, fn: Callable[[Any, float], T]) -> T:
        """Run ``fn(device, now)`` with the simulation paused."""
        with self._lock:
            result = fn(self.device, self._clock())
        self._wake()
        return result

    def inject_noise(self, count: int = 32, direction: Direction = "to_host") -> bytes:
        noise = bytes(self._rng.randrange(256) for _ in range(count))
        with self._lock:
            now = self._clock()
            if direction == "to_host":
                self._schedule_out(noise, now)
            else:
                self._inbound.append((now, noise))
        self._wake()
        return noise

    def drop_next(
        self,
        count: int = 1,
        direction: Direction = "to_host",
        match: Callable[[bytes], bool] | None = None,
    ) -> None:
        """Lose the next ``count`` frames in ``direction``; towards the host, ``match`` picks
        which frames count (e.g. only the ACK of a door command, never a heartbeat's)."""
        with self._lock:
            if direction == "to_host":
                self._drop_out += count
                self._drop_match = match
            elif match is not None:
                raise SimulatorError("drop_next(match=...) selects frames towards the host only")
            else:
                self.device.drop_inbound += count

    def duplicate_next(self, count: int = 1) -> None:
        with self._lock:
            self._dup_out += count

    def set_delay(self, seconds: float) -> None:
        with self._lock:
            self.extra_delay = seconds

    def unplug(self) -> None:
        """The cable (USB adapter) is pulled: the port disappears; the controller keeps power."""
        with self._lock:
            self._unplug_locked()
        self._wake()

    def replug(self) -> None:
        with self._lock:
            self._plug()
        self._wake()

    @property
    def plugged(self) -> bool:
        return self._plugged

    def power_cycle(self) -> None:
        self.locked(lambda dev, now: dev.power_cycle(now))

    def fire_alarm(self, active: bool) -> None:
        self.locked(lambda dev, now: dev.set_fire_alarm(active, now))

    def tamper(self, active: bool) -> None:
        self.locked(lambda dev, now: dev.set_tamper(active, now))

    def force_door(self, door: p.Door) -> None:
        self.locked(lambda dev, now: dev.force_door(door, now))

    def add_person(self, **arrival: Unpack[Arrival]) -> int:
        """A traveller walking in (:class:`simulator.gatectl.model.Arrival`)."""
        return self.locked(lambda dev, now: dev.add_person(**arrival))

    def someone_in_entry_doorway(self) -> bool:
        """Someone stands in the entry doorway (a walk-back scenario turns them round there)."""
        return self.locked(lambda dev, now: bool(dev.lane.in_doorway(dev.lane.entry)))

    def turn_back(self) -> int:
        """Everyone in the lane turns round towards the entry; returns how many people."""
        return self.locked(lambda dev, now: dev.turn_back())

    # ----------------------------------------------------------------- transport

    def _plug(self) -> None:
        if self._plugged:
            return
        if self.transport == "pty":
            master, slave = os.openpty()
            tty.setraw(slave)  # no echo, no line discipline before the host opens the port
            os.set_blocking(master, False)
            self._master, self._slave = master, slave
            self.slave_name = os.ttyname(slave)
            if self.link is not None:
                tmp = self.link.with_name(self.link.name + ".new")
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                tmp.symlink_to(self.slave_name)
                tmp.replace(self.link)
        else:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                listener.bind(("127.0.0.1", self.tcp_port))
            except OSError as exc:
                listener.close()
                raise SimulatorError(
                    f"cannot listen on 127.0.0.1:{self.tcp_port}: {exc}; choose another port"
                ) from None
            listener.listen(1)
            listener.setblocking(False)
            self.tcp_port = listener.getsockname()[1]
            self._listener = listener
        self._plugged = True
        self._inbound.clear()
        self._outbound.clear()

    def _unplug_locked(self) -> None:
        if not self._plugged:
            return
        self._plugged = False
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None
        if self.link is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()
        for sock in (self._client, self._listener):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        self._client = self._listener = None
        self._inbound.clear()
        self._outbound.clear()
        self.device.reset_input()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def _byte_time(self) -> float:
        return 10.0 / self.baud if self.baud else 0.0

    def _exchange(self, now: float) -> None:
        """One round of the device, under the lock: frames that have arrived by ``now`` go in,
        time advances, the device's frames go out (unless unplugged, dropped or duplicated by
        a fault) and those due by ``now`` are written. Shared by the pty/TCP shell's thread and
        the in-loop simulator."""
        while self._inbound and self._inbound[0][0] <= now:
            self.device.receive(self._inbound.pop(0)[1], now)
        self.device.tick(now)
        for frame in self.device.frames_to_send():
            if not self._plugged:
                continue
            if self._drop_out > 0 and (self._drop_match is None or self._drop_match(frame)):
                self._drop_out -= 1
                continue
            self._schedule_out(frame, now)
            if self._dup_out > 0:
                self._dup_out -= 1
                self._schedule_out(frame, now)
        while self._outbound and self._outbound[0][0] <= now:
            self._write(self._outbound.pop(0)[1])

    def _schedule_out(self, data: bytes, now: float) -> None:
        start = max(now + self.extra_delay, self._out_free)
        done = start + len(data) * self._byte_time()
        self._out_free = done
        self._outbound.append((done, data))

    def _read(self) -> bytes | None:
        """Bytes from the host; None when the host side went away (TCP)."""
        if self._master is not None:
            try:
                return os.read(self._master, 4096)
            except BlockingIOError:
                return b""
            except OSError:
                return b""
        if self._client is not None:
            try:
                data = self._client.recv(4096)
            except BlockingIOError:
                return b""
            except OSError:
                return None
            return data if data else None
        return b""

    def _write(self, data: bytes) -> None:
        self.bytes_to_host += len(data)
        try:
            if self._master is not None:
                os.write(self._master, data)
            elif self._client is not None:
                self._client.sendall(data)
        except (BlockingIOError, OSError):
            pass  # nobody listening: the bytes are lost on the line, as on a real cable

    def _accept(self) -> None:
        if self._listener is None:
            return
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        if self._client is not None:
            self._client.close()
        client.setblocking(False)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._client = client

    def _run(self) -> None:
        while self._running:
            with self._lock:
                now = self._clock()
                deadline = self.device.next_deadline(now)
                for when, _ in self._outbound[:1] + self._inbound[:1]:
                    deadline = min(deadline, when)
                fds = [self._wake_r]
                for fd in (self._master, self._client, self._listener):
                    if fd is not None:
                        fds.append(fd if isinstance(fd, int) else fd.fileno())
            timeout = min(max(0.0, deadline - now), 0.05)
            try:
                ready, _, _ = select.select(fds, [], [], timeout)
            except (OSError, ValueError):
                ready = []  # a descriptor was closed by unplug(); loop again
            if self._wake_r in ready:
                with contextlib.suppress(OSError):
                    os.read(self._wake_r, 4096)
            with self._lock:
                now = self._clock()
                if self._listener is not None and self._listener.fileno() in ready:
                    self._accept()
                data = self._read() if self._plugged else b""
                if data is None:
                    if self._client is not None:
                        self._client.close()
                    self._client = None
                elif data:
                    arrival = max(now, self._in_free) + len(data) * self._byte_time()
                    self._in_free = arrival
                    self._inbound.append((arrival, data))
                self._exchange(now)
