"""The device side of a serial full-page document reader, for tests, demos and the lane.

    device = DocReaderDevice("desko", rng=np.random.default_rng(1))
    port.write(device.place(lines))     # or device.place_random("TD3")
    port.write(device.remove())

Fault injection: :meth:`DocReaderDevice.noise` (random bytes, never a frame),
:meth:`DocReaderDevice.truncated` (a frame cut short, as when a cable is pulled mid-send),
:meth:`DocReaderDevice.corrupted` (one byte flipped). :func:`serve` plays a scenario onto any
pyserial port (``loop://``, a pty, ``socket://``); "unplug" closes the port.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from drivers.docreader.framing import Framing, encode
from simulator.docpages import (
    Degradation,
    Identity,
    compose_mrz,
    degrade,
    random_degradation,
    random_identity,
    render_page,
)


@dataclass
class DocReaderDevice:
    framing: Framing
    rng: np.random.Generator

    def place(self, lines: list[str] | tuple[str, ...]) -> bytes:
        return encode(self.framing, lines)

    def remove(self) -> bytes:
        return encode(self.framing, None)

    def random_lines(self, doc_format: str = "TD3") -> list[str]:
        return compose_mrz(random_identity(self.rng, doc_format))

    def place_random(self, doc_format: str = "TD3") -> tuple[list[str], bytes]:
        lines = self.random_lines(doc_format)
        return lines, self.place(lines)

    def noise(self, size: int) -> bytes:
        return bytes(int(b) for b in self.rng.integers(0, 256, size=size))

    def truncated(self, lines: list[str] | tuple[str, ...]) -> bytes:
        frame = self.place(lines)
        return frame[: int(self.rng.integers(1, len(frame) - 1))]

    def corrupted(self, lines: list[str] | tuple[str, ...]) -> bytes:
        frame = bytearray(self.place(lines))
        k = int(self.rng.integers(2, len(frame) - 2))
        frame[k] ^= 1 << int(self.rng.integers(0, 8))
        return bytes(frame)


class WritablePort(Protocol):
    def write(self, data: bytes) -> int | None: ...

    def close(self) -> None: ...


def serve(port: WritablePort, chunks: Iterable[bytes], *, pause: float = 0.0) -> None:
    """Write ``chunks`` to ``port`` (anything with ``write``); an empty chunk means unplug
    (close the port) and ends the scenario."""
    for chunk in chunks:
        if not chunk:
            port.close()
            return
        port.write(chunk)
        if pause:
            time.sleep(pause)


@dataclass
class PageScanner:
    """The camera-type document reader: what its camera sees of a synthetic passport's data
    page (rendered with simulator.docpages, degraded like a real capture unless told not to)."""

    rng: np.random.Generator
    dpi: float = 300.0
    degradation: Degradation | None = None

    def scan(self, identity: Identity) -> np.ndarray:
        clean, _ = render_page(identity, dpi=self.dpi, rng=self.rng)
        spec = self.degradation if self.degradation is not None else random_degradation(self.rng)
        return degrade(clean, spec, self.rng)
