"""Simulated Modbus RTU digital I/O module wired to the lane model (sans-IO).

Some gates expose only dry contacts: door motor "open" and lock relays, door-closed contacts,
beam outputs, a fire-alarm and a tamper contact. They are read and driven through a Modbus RTU
I/O module. This module simulates one (slave address ``unit``), wired as
:class:`drivers.gatectl.modbus.IoMap` describes, to the same physical model as the serial
controller simulator. Function codes: 0x01 read coils, 0x02 read discrete inputs, 0x05 write
single coil, 0x0F write multiple coils; others answer exception 0x01 (illegal function).

RTU framing: address, function, data, CRC-16/MODBUS (polynomial 0xA001 reflected, initial
0xFFFF, low byte first; check value 0x4B37 for "123456789", Modbus over Serial Line v1.02).
Requests are delimited by their length (known per function code) and validated by CRC.
Use it with :class:`simulator.gatectl.server.GateSimulator` (``device=``).
"""

from __future__ import annotations

import struct

from drivers.gatectl.modbus import IoMap, modbus_crc
from simulator.gatectl.model import LaneGeometry, LaneModel, LaneWorld


class ModbusIoDevice(LaneWorld):
    def __init__(
        self,
        *,
        now: float,
        unit: int = 1,
        io_map: IoMap | None = None,
        geometry: LaneGeometry | None = None,
        time_scale: float = 1.0,
        coils: int = 16,
        inputs: int = 16,
    ):
        self.unit = unit
        self.map = io_map or IoMap()
        self.lane = LaneModel(geometry or LaneGeometry())
        self.time_scale = time_scale
        self.coils = [False] * coils
        self.n_inputs = inputs
        self.fire_alarm = False
        self.tamper = False
        self.requests = 0
        self._buf = bytearray()
        self._out: list[bytes] = []
        self._last = now
        self._apply_coils()

    # ----------------------------------------------------------------- shell interface

    def receive(self, data: bytes, now: float) -> None:
        self._buf += data
        while len(self._buf) >= 4:
            need = self._request_length()
            if need is None:  # unknown function: resynchronise byte by byte
                del self._buf[0]
                continue
            if len(self._buf) < need:
                break
            frame = bytes(self._buf[:need])
            if modbus_crc(frame[:-2]) != int.from_bytes(frame[-2:], "little"):
                del self._buf[0]
                continue
            del self._buf[:need]
            if frame[0] == self.unit:
                self.requests += 1
                reply = self._handle(frame[1], frame[2:-2])
                self._out.append(reply + modbus_crc(reply).to_bytes(2, "little"))

    def tick(self, now: float) -> None:
        dt = max(0.0, now - self._last) * self.time_scale
        self._last = now
        steps = max(1, int(dt / 0.02) + 1)
        for _ in range(steps):
            self.lane.step(dt / steps)

    def frames_to_send(self) -> list[bytes]:
        out, self._out = self._out, []
        return out

    def next_deadline(self, now: float) -> float:
        return now + 0.01

    def reset_input(self) -> None:
        self._buf.clear()

    # ----------------------------------------------------------------- world

    def inputs(self) -> list[bool]:
        m = self.map
        values = [False] * self.n_inputs
        values[m.entry_closed] = self.lane.entry.opening <= 0.0
        values[m.exit_closed] = self.lane.exit.opening <= 0.0
        values[m.fire_alarm] = self.fire_alarm
        values[m.tamper] = self.tamper
        for i, state in enumerate(self.lane.beam_states()):
            values[m.first_beam + i] = state
        return values

    # ----------------------------------------------------------------- internals

    def _request_length(self) -> int | None:
        function = self._buf[1]
        if function in (0x01, 0x02, 0x05):
            return 8
        if function == 0x0F:
            if len(self._buf) < 7:
                return 7 + 2  # at least; re-evaluated when more bytes arrive
            return 7 + self._buf[6] + 2
        return None

    def _handle(self, function: int, data: bytes) -> bytes:
        head = bytes((self.unit, function))
        if function in (0x01, 0x02):
            start, count = struct.unpack(">HH", data)
            source = self.coils if function == 0x01 else self.inputs()
            if not 1 <= count <= 2000 or start + count > len(source):
                return bytes((self.unit, function | 0x80, 0x02))  # illegal data address
            bits = source[start : start + count]
            packed = bytearray((count + 7) // 8)
            for i, bit in enumerate(bits):
                if bit:
                    packed[i // 8] |= 1 << (i % 8)
            return head + bytes((len(packed),)) + bytes(packed)
        if function == 0x05:
            address, value = struct.unpack(">HH", data)
            if address >= len(self.coils) or value not in (0x0000, 0xFF00):
                return bytes((self.unit, function | 0x80, 0x03))
            self.coils[address] = value == 0xFF00
            self._apply_coils()
            return head + data
        if function == 0x0F:
            start, count, nbytes = struct.unpack(">HHB", data[:5])
            if start + count > len(self.coils) or nbytes != (count + 7) // 8:
                return bytes((self.unit, function | 0x80, 0x02))
            for i in range(count):
                self.coils[start + i] = bool(data[5 + i // 8] >> (i % 8) & 1)
            self._apply_coils()
            return head + data[:4]
        return bytes((self.unit, function | 0x80, 0x01))

    def _apply_coils(self) -> None:
        m = self.map
        for door, open_coil, lock_coil in (
            (self.lane.entry, m.entry_open, m.entry_lock),
            (self.lane.exit, m.exit_open, m.exit_lock),
        ):
            if self.coils[open_coil]:
                door.open()
            else:
                door.close(lock=self.coils[lock_coil])
