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
- gate controller: the real serial driver talking to the simulated controller through an
  in-memory line (:class:`simulator.gatectl.inloop.LoopGateSimulator`, stepped on the event
  loop's clock).

Every device times itself on the event loop's clock, so the same lane runs in real time or, on
a virtual-time loop (:mod:`simulator.vtime`, ``egate sim run --fast``), faster.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import serial

from drivers.camera import CameraBase, CameraUnavailable, Frame
from drivers.docreader.reader import SerialDocReader
from drivers.gatectl.driver import GateController, driver_options
from gate.config import DocReaderConfig, LaneConfig
from gate.daemon.devices import Devices, ReaderSlot
from gate.emrtd.errors import CardRemovedError, ChipError
from simulator import vtime
from simulator.camera import SceneCamera
from simulator.chip.card import VirtualChip
from simulator.chip.transport import InProcessTransport
from simulator.devices import SimulatedGateController
from simulator.docreader import DocReaderDevice
from simulator.gatectl.device import DeviceConfig
from simulator.gatectl.inloop import LoopGateSimulator
from simulator.physical import PhysicalModel


class NoChip(ChipError):
    """No chip is in the field of the simulated reader."""


class ReaderGone(ChipError):
    """The simulated contactless reader is unplugged."""


class ChipField:
    """The simulated contactless reader: at most one chip in the field."""

    def __init__(self) -> None:
        self._chip: VirtualChip | None = None
        self._real_time = False
        self.plugged = True
        self.extra_seconds = 0.0
        """Added to every exchange (a weak field, retransmissions)."""
        self.last: InProcessTransport | None = None
        """The latest connection (its ``modelled_seconds``: the link time of the read)."""
        self.on_removed: Callable[[], None] | None = None
        """Called when the chip leaves the field mid-exchange (the traveller took it)."""
        self._lock = threading.Lock()

    def unplug(self) -> None:
        self.plugged = False

    def replug(self) -> None:
        self.plugged = True

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
        if not self.plugged:
            raise ReaderGone("simulated chip reader unplugged")
        if chip is None:
            raise NoChip("no chip in the field of the simulated reader: present the passport")
        self.last = PacedTransport(
            chip, real_time=real_time, on_removed=self.on_removed, field=self
        )
        return self.last


class PacedTransport(InProcessTransport):
    """The virtual chip behind the modelled contactless link; ``real_time``: every exchange
    takes its link time, on the event loop's clock (virtual under ``--fast``,
    :func:`simulator.vtime.thread_sleep`)."""

    def __init__(
        self,
        chip: VirtualChip,
        *,
        real_time: bool,
        on_removed: Callable[[], None] | None = None,
        field: ChipField | None = None,
    ) -> None:
        super().__init__(chip)
        self.field = field
        self.paced = real_time
        self.on_removed = on_removed

    def transmit(self, apdu: bytes) -> bytes:
        before = self.modelled_seconds
        try:
            with vtime.not_charged():  # the card's own computing: the link model times it
                out = super().transmit(apdu)
        except CardRemovedError:
            if self.on_removed is not None:
                self.on_removed()  # the passport leaves the document reader too
            raise
        if self.field is not None and not self.field.plugged:
            raise CardRemovedError("simulated chip reader unplugged")
        extra = self.field.extra_seconds if self.field is not None else 0.0
        self.modelled_seconds += extra
        if self.paced:
            vtime.thread_sleep(self.modelled_seconds - before)
        return out


class MemoryPort:
    """An in-memory serial line between a simulated device and a driver: the device
    :meth:`feed` s bytes, the driver reads them (in a thread) and :meth:`write` s to the device.

    Under a virtual-time loop (:mod:`simulator.vtime`) bytes fed to a waiting reader hold the
    clock until the reader has passed them on (a worker job's own result holds it after that);
    a reader blocked in :meth:`read` does not hold it."""

    def __init__(
        self, on_write: Callable[[bytes], None] | None = None, timeout: float = 0.05
    ) -> None:
        self.timeout = timeout
        self._on_write = on_write
        self._buf = bytearray()
        self._cond = threading.Condition()
        self._holds = 0
        self._waiting = False
        self._failed: str | None = None
        self._loop = vtime.current_loop()

    def feed(self, data: bytes) -> None:
        with self._cond:
            if self._failed is not None:
                return  # nobody on the line: the bytes are lost, as on a pulled cable
            self._buf += data
            if self._waiting:  # a reader is about to take them: keep the clock still
                self._hold()
            self._cond.notify_all()

    def _hold(self) -> None:
        if self._loop is not None and self._holds == 0:
            self._loop.hold()
            self._holds = 1

    def _release(self) -> None:
        if self._loop is not None and self._holds:
            self._loop.release()
        self._holds = 0

    def read(self, size: int = 1) -> bytes:
        with self._cond:
            # a reader thread that comes back for more has handed over what it read before
            self._release()
            if not self._buf and self._failed is None:
                self._waiting = True
                with vtime.idle():
                    self._cond.wait(self.timeout)
                self._waiting = False
            if self._failed is not None:
                self._release()
                raise serial.SerialException(self._failed)
            data = bytes(self._buf[:size])
            del self._buf[:size]
            if data and not vtime.in_job():
                self._hold()  # until this thread has passed the bytes on (its next read)
            else:  # a worker job: its own result holds the clock until the loop has it
                self._release()
            return data

    @property
    def in_waiting(self) -> int:
        return len(self._buf)

    def write(self, data: bytes) -> int:
        if self._failed is not None:
            raise serial.SerialException(self._failed)
        if self._on_write is not None:
            self._on_write(bytes(data))
        return len(data)

    def fail(self, reason: str) -> None:
        """The line is gone (cable pulled): reads and writes raise from now on."""
        with self._cond:
            self._failed = reason
            self._buf.clear()
            self._release()
            self._cond.notify_all()

    def cancel_read(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def close(self) -> None:
        """The driver closes the port on shutdown; the simulator keeps it."""
        with self._cond:
            self._release()


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
        self._due = 0.0
        self._noise = False
        self._slow = False
        self._shown_at: float | None = None
        self.source = "simulator"

    def show(self, face: np.ndarray | None, *, companions: int = 0) -> None:
        """``face``: the BGR face image of the traveller at the camera (None: nobody);
        ``companions``: more people close behind (tailgating)."""
        import tempfile
        from pathlib import Path

        import cv2

        loop = vtime.current_loop()
        with self._lock:
            self._face = face
            # on the loop's clock a frame shows the traveller only if its exposure (the frame
            # period before its delivery) began after the traveller turned to the camera
            self._shown_at = loop.time() if loop is not None else None
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

    def degrade(self, *, noise: bool = False, slow: bool = False) -> None:
        """``noise``: grainy frames (a failing sensor or cable); ``slow``: a third of the
        frame rate. No arguments: back to normal."""
        self._noise, self._slow = noise, slow

    def open(self) -> None:
        if not self._plugged:
            raise CameraUnavailable("simulated camera unplugged")

    def close(self) -> None:
        pass

    def read(self) -> Frame:
        # paced like a real camera, on the event loop's clock (virtual under --fast)
        loop = vtime.current_loop()
        exposed_from: float | None = None
        if loop is None:
            self._pace.wait(1.0 / self.fps)
        else:
            period = (3.0 if self._slow else 1.0) / self.fps
            self._due = max(self._due + period, loop.time())
            exposed_from = self._due - period
            vtime.thread_sleep(0.0, until=self._due)
        if not self._plugged:
            raise CameraUnavailable("simulated camera unplugged: no frames")
        with self._lock:
            self._index += 1
            scene = self._scene
            shown_at = self._shown_at
            if exposed_from is not None and shown_at is not None and exposed_from < shown_at:
                scene = None  # exposed before the traveller faced the camera
            if scene is None:
                image = np.full((self.height, self.width, 3), 96, np.uint8)
            else:
                # the standing phase of the scene cycle (55 % .. 85 %), back and forth
                phase = 0.58 + 0.25 * abs(((self._t / 4.0) % 2.0) - 1.0)
                self._t += 1.0 / self.fps
                image, _ = scene.render(scene.cycle * phase)
            if self._noise:
                grain = np.random.default_rng(self._index).normal(0.0, 40.0, image.shape)
                image = np.clip(image.astype(np.float32) + grain, 0, 255).astype(np.uint8)
        return Frame(image, float(self._index), float(self._index), self._index, "simulator")


class SimulatedDocReader(SerialDocReader):
    """The serial document-reader driver fed by a simulated reader through memory."""

    def __init__(self, config: DocReaderConfig, seed: int = 0) -> None:
        self.device = DocReaderDevice(config.framing, np.random.default_rng(seed))
        self._memory: MemoryPort | None = None
        self._plugged = True
        super().__init__("simulator", framing=config.framing, opener=self._open)

    def _open(self, _url: str, _baudrate: int) -> MemoryPort:
        if not self._plugged:
            raise serial.SerialException("simulated document reader unplugged")
        if self._memory is None:
            self._memory = MemoryPort()
        return self._memory

    def _send(self, data: bytes) -> None:
        if self._memory is not None:
            self._memory.feed(data)

    def place(self, lines: list[str] | tuple[str, ...]) -> None:
        self._send(self.device.place(list(lines)))

    def remove(self) -> None:
        self._send(self.device.remove())

    def send(self, data: bytes) -> None:
        """Raw bytes from the reader (noise, truncated frames)."""
        self._send(data)

    def unplug(self) -> None:
        self._plugged = False
        if self._memory is not None:
            self._memory.fail("simulated document reader unplugged")
            self._memory = None

    def replug(self) -> None:
        self._plugged = True


def document_reader(config: DocReaderConfig, **options: Any) -> SimulatedDocReader:
    """Registry factory ``docreader.simulator``."""
    return SimulatedDocReader(config, **options)


class SimulatedLane:
    """Every simulated device of one lane and the handles to play travellers with;
    :meth:`devices` hands them to :class:`gate.daemon.LaneDaemon`."""

    def __init__(
        self,
        config: LaneConfig,
        *,
        time_scale: float = 4.0,
        seed: int = 0,
        model: PhysicalModel | None = None,
    ) -> None:
        """``model``: the physical model (simulator/physical.py, the issue #12 defaults when
        None) that sets the lane geometry, door time, walking speed and reader position."""
        self.model = model or PhysicalModel()
        self.walking_speed = self.model.walking_speed
        self.docreader = SimulatedDocReader(config.docreader, seed)
        self.chip = ChipField()
        self.chip.on_removed = self.remove_document
        self.camera = TravellerCamera(config.camera.width, config.camera.height, config.camera.fps)
        settings = driver_options(config.gatectl)
        device = DeviceConfig(
            geometry=self.model.geometry, time_scale=time_scale, auth_key=settings["auth_key"]
        )
        self.gate = LoopGateSimulator(device, seed=seed)
        self.gatectl: GateController = SimulatedGateController(
            self.gate, serial_factory=self.gate.open_port, **settings
        )

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

    def walk_in(
        self, *, tailgater: bool = False, slow_factor: float = 1.0, one_step: bool = False
    ) -> None:
        """The traveller walks in from the reader (a tailgater 0.4 m behind). One-step: the
        single barrier is the exit door (the simulated entry door is not in the way: the
        traveller starts the same distance before the exit door)."""
        g = self.gate.config.geometry
        x = self.model.reader_spot
        if one_step:
            x += g.exit_door - g.entry_door
        speed = self.walking_speed / slow_factor
        self.gate.add_person(speed=speed, x=x)
        if tailgater:
            self.gate.add_person(speed=speed, x=x - 0.4, gap=0.35)

    def turn_back(self) -> None:
        self.gate.turn_back()

    def noise(self, count: int = 32) -> None:
        """Garbage bytes on the controller line (EMI, a loose connector)."""
        self.gate.inject_noise(count)

    def handles(self) -> dict[str, Any]:
        return {"chip": self.chip, "camera": self.camera, "gate": self.gate}
