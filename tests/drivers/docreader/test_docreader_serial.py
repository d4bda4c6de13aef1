"""The asyncio serial shell over loop:// and a pty: placed/removed, garbage, unplug, reconnect."""

from __future__ import annotations

import asyncio
import os
import threading

import numpy as np
import pytest
import serial

from drivers.docreader.framing import DocumentRemoved, FrameDropped, Framing
from drivers.docreader.reader import (
    Connected,
    Disconnected,
    DocumentPlaced,
    Presence,
    ReaderEvent,
    SerialDocReader,
)
from simulator.docreader import DocReaderDevice, serve


class Unpluggable:
    """A loop:// port whose cable can be pulled."""

    def __init__(self) -> None:
        self.port = serial.serial_for_url("loop://", timeout=0.05)
        self.unplugged = False

    @property
    def in_waiting(self) -> int:
        return int(self.port.in_waiting)

    def read(self, size: int = 1) -> bytes:
        if self.unplugged:
            raise serial.SerialException("device disconnected")
        return bytes(self.port.read(size))

    def write(self, data: bytes) -> int | None:
        return int(self.port.write(data))

    def close(self) -> None:
        self.port.close()


async def _collect(reader: SerialDocReader, until: int, timeout: float = 5.0) -> list[ReaderEvent]:
    events: list[ReaderEvent] = []

    async def run() -> None:
        async for event in reader.events():
            if not isinstance(event, FrameDropped):
                events.append(event)
            if len(events) >= until:
                reader.close()
                return

    await asyncio.wait_for(run(), timeout)
    return events


@pytest.mark.parametrize("framing", ["desko", "3m"])
def test_loop_placed_removed_and_reconnect(framing: Framing) -> None:
    device = DocReaderDevice(framing, np.random.default_rng(9))
    lines_a, frame_a = device.place_random("TD3")
    lines_b, frame_b = device.place_random("TD1")
    ports: list[Unpluggable] = []

    def opener(url: str, baudrate: int) -> Unpluggable:
        port = Unpluggable()
        if not ports:
            port.write(device.noise(30) + frame_a + device.truncated(lines_b)[:10])
        else:
            port.write(frame_b + device.remove())
        ports.append(port)
        return port

    reader = SerialDocReader("loop://", framing=framing, reconnect_seconds=0.01, opener=opener)

    async def scenario() -> list[ReaderEvent]:
        task = asyncio.create_task(_collect(reader, until=7))
        while not ports:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        ports[0].unplugged = True
        return await task

    events = asyncio.run(scenario())
    assert events == [
        Connected("loop://"),
        DocumentPlaced(tuple(lines_a)),
        DocumentRemoved(),
        Disconnected("loop://", "read failed: device disconnected"),
        Connected("loop://"),
        DocumentPlaced(tuple(lines_b)),
        DocumentRemoved(),
    ]


def test_open_failure_is_reported_and_retried() -> None:
    calls = []

    def opener(url: str, baudrate: int) -> Unpluggable:
        calls.append(url)
        raise serial.SerialException(f"could not open port {url}")

    reader = SerialDocReader("/dev/nonexistent", reconnect_seconds=0.01, opener=opener)
    events = asyncio.run(_collect(reader, until=3))
    assert all(isinstance(e, Disconnected) and "cannot open" in e.reason for e in events)
    assert len(calls) >= 3


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pty")
def test_pty_reader_with_simulator_and_unplug() -> None:
    master, slave = os.openpty()
    path = os.ttyname(slave)
    device = DocReaderDevice("3m", np.random.default_rng(4))
    lines, frame = device.place_random("TD2")

    class Master:
        def write(self, data: bytes) -> int:
            return os.write(master, data)

        def close(self) -> None:
            os.close(master)

    reader = SerialDocReader(path, framing="3m", reconnect_seconds=0.05)

    def feed() -> None:
        threading.Event().wait(0.3)
        serve(Master(), [device.noise(40), frame[:30], frame[30:], b""], pause=0.05)

    thread = threading.Thread(target=feed)
    thread.start()
    try:
        events = asyncio.run(_collect(reader, until=4))
    finally:
        thread.join()
        os.close(slave)
    assert events[0] == Connected(path)
    assert events[1] == DocumentPlaced(tuple(lines))
    assert events[2] == DocumentRemoved()  # unplugged with the document on the reader
    assert isinstance(events[3], Disconnected)


def test_presence_tracking() -> None:
    from drivers.docreader.framing import DocumentRead

    presence = Presence()
    a, b = ("A" * 44, "B" * 44), ("C" * 44, "D" * 44)
    assert presence.on_frame(DocumentRemoved()) == []
    assert presence.on_frame(DocumentRead(a)) == [DocumentPlaced(a)]
    assert presence.on_frame(DocumentRead(a)) == []  # the same page sent again
    assert presence.on_frame(DocumentRead(b)) == [DocumentRemoved(), DocumentPlaced(b)]
    assert presence.on_disconnect() == [DocumentRemoved()]
    assert presence.on_disconnect() == []
