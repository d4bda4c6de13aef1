"""Serial document reader: the asyncio shell around the sans-IO framings.

    reader = SerialDocReader("/dev/ttyUSB0", framing="desko", baudrate=9600)
    async for event in reader.events():
        ...  # Connected, DocumentPlaced(lines), DocumentRemoved, Disconnected, FrameDropped

The port is any pyserial URL (``/dev/ttyUSB0``, ``socket://host:port``, ``rfc2217://...``,
``loop://``). Blocking reads run in a worker thread with a short timeout; a port that fails or
vanishes is closed, reported as :class:`Disconnected` (with a removal if a document was on the
reader) and reopened every ``reconnect_seconds`` until :meth:`SerialDocReader.close`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import serial

from drivers.docreader.framing import (
    DocumentRead,
    DocumentRemoved,
    FrameDropped,
    FrameEvent,
    Framing,
    decoder,
)

log = logging.getLogger(__name__)


class Port(Protocol):
    def read(self, size: int = 1) -> bytes: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Connected:
    port: str


@dataclass(frozen=True)
class Disconnected:
    port: str
    reason: str


@dataclass(frozen=True)
class DocumentPlaced:
    lines: tuple[str, ...]
    doubtful: tuple[tuple[int, int], ...] | None = None
    """1-based (line, position) of characters a page reader flagged doubtful
    (``gate.mrz.doubt_positions``); None from a reader that sends lines only (the serial
    readers: their protocol carries no flags)."""


ReaderEvent = Connected | Disconnected | DocumentPlaced | DocumentRemoved | FrameDropped


class Presence:
    """Sans-IO: turns frame events into placed/removed events. A read while a document is
    already present means a new document (the reader missed or did not send a removal)."""

    def __init__(self) -> None:
        self.present: tuple[str, ...] | None = None

    def on_frame(self, event: FrameEvent) -> list[ReaderEvent]:
        if isinstance(event, DocumentRead):
            out: list[ReaderEvent] = []
            if self.present is not None and self.present != event.lines:
                out.append(DocumentRemoved())
            if self.present != event.lines:
                out.append(DocumentPlaced(event.lines))
            self.present = event.lines
            return out
        if isinstance(event, DocumentRemoved):
            if self.present is None:
                return []
            self.present = None
            return [DocumentRemoved()]
        return [event]

    def on_disconnect(self) -> list[ReaderEvent]:
        if self.present is None:
            return []
        self.present = None
        return [DocumentRemoved()]


def open_serial(url: str, baudrate: int) -> Port:
    port: Port = serial.serial_for_url(url, baudrate=baudrate, timeout=0.1)
    return port


class SerialDocReader:
    def __init__(
        self,
        url: str,
        *,
        framing: Framing = "desko",
        baudrate: int = 9600,
        reconnect_seconds: float = 1.0,
        frame_timeout: float = 1.0,
        opener: Callable[[str, int], Port] = open_serial,
    ) -> None:
        self.url = url
        self.framing = framing
        self.baudrate = baudrate
        self.reconnect_seconds = reconnect_seconds
        self._decoder = decoder(framing, frame_timeout)
        self._presence = Presence()
        self._opener = opener
        self._closed = False
        self._port: Port | None = None

    def close(self) -> None:
        self._closed = True

    async def events(self) -> AsyncIterator[ReaderEvent]:
        loop = asyncio.get_running_loop()
        while not self._closed:
            try:
                port = await loop.run_in_executor(None, self._opener, self.url, self.baudrate)
            except (serial.SerialException, OSError, ValueError) as exc:
                yield Disconnected(self.url, f"cannot open: {exc}")
                await asyncio.sleep(self.reconnect_seconds)
                continue
            self._port = port
            yield Connected(self.url)
            reason = "closed"
            try:
                while not self._closed:
                    try:
                        data = await loop.run_in_executor(None, _read, port)
                    except (serial.SerialException, OSError) as exc:
                        reason = f"read failed: {exc}"
                        break
                    now = loop.time()
                    frames = self._decoder.feed(data, now) if data else self._decoder.tick(now)
                    for frame in frames:
                        for event in self._presence.on_frame(frame):
                            if isinstance(event, FrameDropped):
                                log.debug(
                                    "docreader dropped %d bytes: %s", event.discarded, event.reason
                                )
                            yield event
            finally:
                with contextlib.suppress(serial.SerialException, OSError):
                    port.close()
                self._port = None
            for dropped in self._decoder.reset():
                if isinstance(dropped, FrameDropped):
                    yield dropped
            for event in self._presence.on_disconnect():
                yield event
            yield Disconnected(self.url, reason)
            if not self._closed:
                await asyncio.sleep(self.reconnect_seconds)


def _read(port: Any) -> bytes:
    waiting = getattr(port, "in_waiting", 0) or 1
    data = port.read(min(int(waiting), 4096))
    return bytes(data or b"")


def from_config(cfg: Any) -> SerialDocReader:
    """A reader for a ``[docreader]`` section with ``kind = "serial"`` (gate.config)."""
    return SerialDocReader(cfg.port, framing=cfg.framing, baudrate=cfg.baudrate)
