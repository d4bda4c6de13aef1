"""The simulator's devices, registered in the driver device registry (:mod:`drivers.registry`)
through the ``egate.devices`` entry points in ``pyproject.toml``:

=====================  =====================================================================
``camera.simulator``   :class:`simulator.camera.SceneCamera` (``[camera] source = "simulator"``)
``camera.image-sequence``  :class:`simulator.camera.ImageSequenceCamera` (a directory)
``gatectl.simulator``  :class:`SimulatedGateController`: the serial driver on a pty served by
                       an in-process :class:`simulator.gatectl.server.GateSimulator`
``chipreader.simulator``  :class:`SimulatedChipReader`: a chip image directory behind the
                       in-process virtual chip (option ``image=DIR``)
=====================  =====================================================================

Drivers never import this module; the registry loads it when a configuration asks for a
simulated device.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from drivers.gatectl.driver import SerialGateController, driver_options
from gate.errors import EgateError
from simulator.chip.card import VirtualChip
from simulator.chip.image import load_image
from simulator.chip.transport import InProcessTransport, LinkModel
from simulator.gatectl.device import DeviceConfig
from simulator.gatectl.server import GateSimulator

if TYPE_CHECKING:
    from gate.config import ChipReaderConfig, GateControllerConfig


class SimulatedGateController(SerialGateController):
    """The serial driver connected to an in-process simulated controller on a pty."""

    def __init__(self, simulator: GateSimulator, **kwargs: Any):
        self.simulator = simulator
        super().__init__("simulator (pty assigned at start)", **kwargs)

    async def start(self, timeout: float = 5.0) -> None:
        self.simulator.start()
        self.port = self.simulator.url
        await super().start(timeout)

    async def close(self) -> None:
        await super().close()
        self.simulator.stop()


def gate_controller(config: GateControllerConfig, **options: Any) -> SimulatedGateController:
    """Registry factory ``gatectl.simulator``."""
    settings = {**driver_options(config), **options}
    device = DeviceConfig(auth_key=settings.get("auth_key"))
    return SimulatedGateController(GateSimulator(device, baud=config.baudrate), **settings)


class SimulatedChipTransport(InProcessTransport):
    """:class:`InProcessTransport` with the reader-side surface of a PC/SC connection."""

    def __init__(self, chip: VirtualChip, reader_name: str, link: LinkModel | None = None):
        super().__init__(chip, link)
        self.reader_name = reader_name

    def close(self) -> None:
        """Nothing to release: the virtual chip lives in this process."""


class SimulatedChipReader:
    """A reader with the chip image ``image`` permanently in its field."""

    def __init__(self, image: Path, link: LinkModel | None = None) -> None:
        self.image = Path(image)
        self.link = link
        self.name = f"simulator:{self.image}"

    def connect(
        self, wait: bool = True, transmit_timeout: float | None = None
    ) -> SimulatedChipTransport:
        return SimulatedChipTransport(VirtualChip(load_image(self.image)), self.name, self.link)


def chip_reader(
    config: ChipReaderConfig,
    *,
    image: Path | str | None = None,
    field: bool = False,
    **options: Any,
) -> Any:
    """Registry factory ``chipreader.simulator``: ``image`` is a directory written by
    ``egate chip build-image``; ``field=True`` gives an empty reader field where a simulated
    traveller presents chips (:class:`simulator.lane_devices.ChipField`, the lane daemon's)."""
    if field:
        from simulator.lane_devices import ChipField

        return ChipField()
    if image is None:
        raise EgateError(
            "the simulated chip reader needs a chip image directory "
            "(egate chip read --simulate DIR; build one with egate chip build-image DIR)"
        )
    return SimulatedChipReader(Path(image), **options)
