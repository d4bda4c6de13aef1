"""The chip-reader interface shared by the PC/SC driver and the simulator's virtual chip.

A chip reader is built from a ``[chip_reader]`` section by the device registry
(:mod:`drivers.registry`, family ``chipreader``); :meth:`ChipReader.connect` waits for a card
and returns a :class:`ReaderTransport`, the link :mod:`drivers.chiplink` drives the sans-IO
reader over.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class ReaderTransport(Protocol):
    """An open connection to the card in one reader."""

    reader_name: str

    @property
    def atr(self) -> bytes: ...

    def transmit(self, apdu: bytes) -> bytes: ...

    def close(self) -> None: ...


@runtime_checkable
class ChipReader(Protocol):
    def connect(self, wait: bool = True, transmit_timeout: float | None = None) -> ReaderTransport:
        """Wait for a card (when ``wait``) and connect to it."""
        ...
