"""The lane daemon's composition root: the devices a configuration names, real or simulated.

This is the one module of the daemon that knows where device implementations come from. A
caller that already has device objects (the simulator running many lanes in one process, the
tests) passes a :class:`Devices` to :class:`gate.daemon.LaneDaemon` and this module is not
used.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from drivers.camera import CameraBase, open_camera
from drivers.docreader.reader import ReaderEvent
from drivers.docreader.reader import from_config as docreader_from_config
from drivers.gatectl.driver import GateController, open_gate_controller
from gate.config import ConfigError, LaneConfig
from gate.daemon.work import ChipSlot
from gate.emrtd.reader import Transport


class DocumentReader(Protocol):
    def events(self) -> AsyncIterator[ReaderEvent]: ...

    def close(self) -> None: ...


@dataclass
class Devices:
    docreader: DocumentReader
    chip: ChipSlot
    camera: CameraBase
    gatectl: GateController
    simulated: Any = None
    """The simulator's handles when the devices are simulated (tests play travellers with it)."""


class PcscSlot:
    """A PC/SC reader as a :class:`ChipSlot`."""

    def __init__(self, pattern: str, timeout: float) -> None:
        from drivers.pcsc import PcscReader

        self.reader = PcscReader(pattern, timeout)

    def connect(self, timeout: float) -> Transport:
        return self.reader.connect(wait=False, transmit_timeout=timeout)


def build_devices(config: LaneConfig) -> Devices:
    """Devices for ``config`` (not started). Simulated kinds come from ``simulator``."""
    simulated: Any = None
    kinds = (config.docreader.kind, config.chip.kind, config.gatectl.kind, config.camera.source)
    if "simulator" in kinds:
        # the simulator's device sides; the only place the daemon reaches into simulator/
        module = importlib.import_module("simulator.lane_devices")
        simulated = module.SimulatedLane(config)
    if config.docreader.kind == "serial":
        docreader: DocumentReader = docreader_from_config(config.docreader)
    elif config.docreader.kind == "simulator":
        docreader = simulated.docreader
    else:
        raise ConfigError(
            f"[docreader] kind = {config.docreader.kind!r} is not supported by the lane daemon "
            "yet: use 'serial' (a full-page reader sending the MRZ) or 'simulator'"
        )
    chip: ChipSlot
    if config.chip.kind == "pcsc":
        chip = PcscSlot(config.chip.reader_pattern, config.chip.timeout_seconds)
    else:
        chip = simulated.chip
    camera: CameraBase = (
        simulated.camera if config.camera.source == "simulator" else open_camera(config.camera)
    )
    gatectl: GateController = (
        simulated.gatectl
        if config.gatectl.kind == "simulator"
        else open_gate_controller(config.gatectl)
    )
    return Devices(docreader, chip, camera, gatectl, simulated)
