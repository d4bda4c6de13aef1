"""The lane daemon's composition root: the devices a configuration names, real or simulated.

Every device comes from the device registry (:mod:`drivers.registry`, docs/architecture.md):
the daemon never imports a device implementation's package, so a simulated lane and a real one
differ only in their configuration's ``kind``. A caller that already has device objects (the
simulator running many lanes in one process, the tests) passes a :class:`Devices` to
:class:`gate.daemon.LaneDaemon` instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from drivers import registry
from drivers.camera import CameraBase
from drivers.chiplink import Transport
from drivers.docreader.reader import ReaderEvent
from drivers.gatectl.driver import GateController
from gate.config import ConfigError, LaneConfig
from gate.daemon.work import ChipSlot


class DocumentReader(Protocol):
    def events(self) -> AsyncIterator[ReaderEvent]: ...

    def close(self) -> None: ...


class ChipReader(Protocol):
    """What the registry's chip readers offer (``drivers.pcsc.PcscReader`` and the simulator's)."""

    def connect(self, wait: bool = ..., transmit_timeout: float | None = ...) -> Any: ...


@dataclass
class Devices:
    docreader: DocumentReader
    chip: ChipSlot
    camera: CameraBase
    gatectl: GateController


class ReaderSlot:
    """A chip reader as the daemon's :class:`~gate.daemon.work.ChipSlot`: connect to the card
    on the reader now (no waiting: the document reader already saw the document)."""

    def __init__(self, reader: ChipReader) -> None:
        self.reader = reader

    def connect(self, timeout: float) -> Transport:
        transport: Transport = self.reader.connect(wait=False, transmit_timeout=timeout)
        return transport


def build_devices(config: LaneConfig) -> Devices:
    """Unopened devices for ``config``, each from the registry by its family and kind."""
    if config.docreader.kind == "image":
        raise ConfigError(
            "[docreader] kind = 'image' (page OCR) is not supported by the lane daemon yet: "
            "use 'serial' (a full-page reader sending the MRZ) or 'simulator'"
        )
    chip_options = {"field": True} if config.chip.kind == "simulator" else {}
    return Devices(
        docreader=registry.build("docreader", config.docreader.kind, config.docreader),
        chip=ReaderSlot(
            registry.build("chipreader", config.chip.kind, config.chip, **chip_options)
        ),
        camera=registry.build("camera", registry.camera_kind(config.camera), config.camera),
        gatectl=registry.build("gatectl", config.gatectl.kind, config.gatectl),
    )
