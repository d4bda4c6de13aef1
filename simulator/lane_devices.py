"""The simulated devices of one lane, as the lane daemon uses them, with handles to play a
traveller: place a document (MRZ lines sent by the simulated reader, a virtual chip in the
field), stand in front of the camera, walk through the gate, unplug things.

- document reader: the real serial driver (``drivers.docreader``) reading the simulated
  reader's frames (``simulator.docreader``) from an in-memory serial port (registry kind
  ``docreader.simulator``);
- chip reader: a field holding a :class:`~simulator.chip.card.VirtualChip` or nothing
  (``chipreader.simulator`` with ``field=True``);
- camera: :class:`TravellerCamera`, the scene camera's standing traveller (head moving a
  little, so liveness sees a live face) or an empty gate; can be unplugged;
- gate controller: the real serial driver talking to :class:`GateSimulator` on a pty.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import serial

from drivers.camera import CameraBase, CameraUnavailable, Frame
from drivers.docreader.reader import SerialDocReader
from drivers.gatectl.driver import GateController, driver_options
from gate.config import DocReaderConfig, LaneConfig
from gate.daemon.devices import Devices, ReaderSlot
from gate.emrtd.errors import ChipError
from simulator.camera import SceneCamera
from simulator.chip.card import VirtualChip
from simulator.chip.transport import InProcessTransport
from simulator.devices import SimulatedGateController
from simulator.docreader import DocReaderDevice
from simulator.gatectl.device import DeviceConfig
from simulator.gatectl.server import GateSimulator


class NoChip(ChipError):
    """No chip is in the field of the simulated reader."""


class ChipField:
    """The simulated contactless reader: at most one chip in the field."""

    def __init__(self) -> None:
        self._chip: VirtualChip | None = None
        self._real_time = False
        self._lock = threading.Lock()

    def present(self, chip: VirtualChip | None, *, real_time: bool = False) -> None:
        """``real_time``: exchanges take the modelled link time (plus ``faults.slow_seconds``
        per APDU) instead of returning at once."""
        with self._lock:
            self._chip = chip
            self._real_time = real_time

    def connect(
        self, wait: bool = False, transmit_timeout: float | None = None
    ) -> InProcessTransport:
        """Same call as :meth:`drivers.pcsc.PcscReader.connect`; raises when the field is
        empty."""
        with self._lock:
            chip, real_time = self._chip, self._real_time
        if chip is None:
            raise NoChip("no chip in the field of the simulated reader: present the passport")
        return InProcessTransport(chip, real_time=real_time)


class _Port:
    """An in-memory serial port: the simulated reader writes, the driver reads."""

    def __init__(self) -> None:
        self.port = serial.serial_for_url("loop://", timeout=0.05)

    def read(self, size: int = 1) -> bytes:
        return bytes(self.port.read(size))

    @property
    def in_waiting(self) -> int:
        return int(self.port.in_waiting)

    def close(self) -> None:
        """The driver closes the port on shutdown; the simulator keeps it."""


class TravellerCamera(CameraBase):
    """Frames of the gate: the current traveller standing at the camera, or nobody."""

    def __init__(self, width: int = 640, height: int = 480, fps: float = 15.0) -> None:
        self.width, self.height, self.fps = width, height, fps
        self._scene: SceneCamera | None = None
        self._face: np.ndarray | None = None
        self._plugged = True
        self._index = 0
        self._t = 0.0
        self._lock = threading.Lock()
        self._pace = threading.Event()
        self.source = "simulator"

    def show(self, face: np.ndarray | None, *, companions: int = 0) -> None:
        """``face``: the BGR face image of the traveller at the camera (None: nobody);
        ``companions``: more people close behind (tailgating)."""
        import tempfile
        from pathlib import Path

        import cv2

        with self._lock:
            self._face = face
            if face is None:
                self._scene = None
                return
            with tempfile.TemporaryDirectory() as tmp:
                cv2.imwrite(str(Path(tmp) / "face.png"), face)
                self._scene = SceneCamera(
                    faces_dir=Path(tmp),
                    width=self.width,
                    height=self.height,
                    tailgate_every=1 if companions else 0,
                    realtime=False,
                    head_motion=True,
                )
            self._t = 0.0

    def unplug(self) -> None:
        self._plugged = False

    def replug(self) -> None:
        self._plugged = True

    def open(self) -> None:
        if not self._plugged:
            raise CameraUnavailable("simulated camera unplugged")

    def close(self) -> None:
        pass

    def read(self) -> Frame:
        # paced like a real camera, without sleeping the caller's loop
        self._pace.wait(1.0 / self.fps)
        if not self._plugged:
            raise CameraUnavailable("simulated camera unplugged: no frames")
        with self._lock:
            self._index += 1
            scene = self._scene
            if scene is None:
                image = np.full((self.height, self.width, 3), 96, np.uint8)
            else:
                # the standing phase of the scene cycle (55 % .. 85 %), back and forth
                phase = 0.58 + 0.25 * abs(((self._t / 4.0) % 2.0) - 1.0)
                self._t += 1.0 / self.fps
                image, _ = scene.render(scene.cycle * phase)
        return Frame(image, float(self._index), float(self._index), self._index, "simulator")


class SimulatedDocReader(SerialDocReader):
    """The serial document-reader driver fed by a simulated reader through memory."""

    def __init__(self, config: DocReaderConfig, seed: int = 0) -> None:
        self.device = DocReaderDevice(config.framing, np.random.default_rng(seed))
        self._memory = _Port()
        super().__init__("simulator", framing=config.framing, opener=lambda _u, _b: self._memory)

    def place(self, lines: list[str] | tuple[str, ...]) -> None:
        self._memory.port.write(self.device.place(list(lines)))

    def remove(self) -> None:
        self._memory.port.write(self.device.remove())

    def send(self, data: bytes) -> None:
        """Raw bytes from the reader (noise, truncated frames)."""
        self._memory.port.write(data)


def document_reader(config: DocReaderConfig, **options: Any) -> SimulatedDocReader:
    """Registry factory ``docreader.simulator``."""
    return SimulatedDocReader(config, **options)


class SimulatedLane:
    """Every simulated device of one lane and the handles to play travellers with;
    :meth:`devices` hands them to :class:`gate.daemon.LaneDaemon`."""

    def __init__(self, config: LaneConfig, *, time_scale: float = 4.0, seed: int = 0) -> None:
        self.docreader = SimulatedDocReader(config.docreader, seed)
        self.chip = ChipField()
        self.camera = TravellerCamera(config.camera.width, config.camera.height, config.camera.fps)
        settings = driver_options(config.gatectl)
        device = DeviceConfig(time_scale=time_scale, auth_key=settings["auth_key"])
        self.gate = GateSimulator(device, baud=None)
        self.gatectl: GateController = SimulatedGateController(self.gate, **settings)

    def devices(self) -> Devices:
        return Devices(self.docreader, ReaderSlot(self.chip), self.camera, self.gatectl)

    # ------------------------------------------------------------------ a traveller

    def place_document(
        self,
        lines: list[str] | tuple[str, ...],
        chip: VirtualChip | None,
        *,
        real_time: bool = False,
    ) -> None:
        self.chip.present(chip, real_time=real_time)
        self.docreader.place(lines)

    def remove_document(self) -> None:
        self.chip.present(None)
        self.docreader.remove()

    def walk_in(self, *, tailgater: bool = False) -> None:
        self.gate.add_person(speed=1.1)
        if tailgater:
            self.gate.add_person(speed=1.1, x=-1.8, gap=0.35)

    def turn_back(self) -> None:
        self.gate.turn_back()

    def noise(self, count: int = 32) -> None:
        """Garbage bytes on the controller line (EMI, a loose connector)."""
        self.gate.inject_noise(count)

    def handles(self) -> dict[str, Any]:
        return {"chip": self.chip, "camera": self.camera, "gate": self.gate}
