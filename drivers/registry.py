"""Device registry: which factory builds each device (family, kind) named in a configuration.

Drivers never import the simulator. Every device implementation, real or simulated, is a
*factory* registered under a family and a kind:

====================  ===========================================================
family                kinds shipped with egate
====================  ===========================================================
``camera``            ``opencv`` (device index, file, URL), ``simulator`` (scene),
                      ``image-sequence`` (a directory of images)
``gatectl``           ``serial``, ``modbus``, ``simulator`` (in-process, on a pty)
``chipreader``        ``pcsc``, ``simulator`` (a chip image directory, or with
                      ``field=True`` an empty field the lane simulator puts chips in)
``docreader``         ``serial`` (MRZ text over a serial line), ``simulator``
====================  ===========================================================

The factories are declared as entry points in the ``egate.devices`` group (``pyproject.toml``,
name ``FAMILY.KIND``, value ``module:callable``), so they load lazily and a vendor package can
add its own device without touching egate. Code may also call :func:`register` directly (tests,
a plug-in that is not installed as a distribution).

A factory takes the family's configuration section (``gate.config.CameraConfig``,
``GateControllerConfig``, ``ChipReaderConfig``) plus keyword options and returns an unopened
device. Composition roots (the CLI, the lane daemon) build devices with::

    from drivers import registry
    camera = registry.build("camera", registry.camera_kind(lane.camera), lane.camera)
    gate = registry.build("gatectl", lane.gate_controller.kind, lane.gate_controller)
    chip = registry.build("chipreader", lane.chip_reader.kind, lane.chip_reader)

or with the family helpers :func:`drivers.camera.open_camera` and
:func:`drivers.gatectl.driver.open_gate_controller`, which do exactly that.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gate.errors import EgateError

if TYPE_CHECKING:
    from gate.config import CameraConfig

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "egate.devices"
FAMILIES = ("camera", "gatectl", "chipreader", "docreader")

Factory = Callable[..., Any]


class DeviceRegistryError(EgateError):
    """A configuration names a device kind that no installed package provides."""


@dataclass(frozen=True)
class DeviceEntry:
    family: str
    kind: str
    origin: str  # "module:attr" of the factory, or "code" for a direct registration
    _factory: Factory | None = None
    _entry_point: metadata.EntryPoint | None = None

    def factory(self) -> Factory:
        if self._factory is not None:
            return self._factory
        assert self._entry_point is not None
        try:
            loaded: Factory = self._entry_point.load()
        except ImportError as exc:
            raise DeviceRegistryError(
                f"device {self.family}.{self.kind} ({self.origin}) cannot be loaded: {exc}; "
                "install the package that provides it"
            ) from exc
        return loaded


_lock = threading.Lock()
_entries: dict[tuple[str, str], DeviceEntry] = {}
_entry_points_loaded = False


def register(family: str, kind: str, factory: Factory, *, replace: bool = False) -> None:
    """Register ``factory`` for ``family``/``kind``; a second registration of the same kind is
    an error unless ``replace`` is set (so two plug-ins cannot silently shadow each other)."""
    if family not in FAMILIES:
        raise DeviceRegistryError(
            f"unknown device family {family!r}; families are {', '.join(FAMILIES)}"
        )
    origin = f"{getattr(factory, '__module__', '?')}:{getattr(factory, '__qualname__', '?')}"
    with _lock:
        existing = _entries.get((family, kind))
        if existing is not None and not replace and existing._factory is not factory:
            raise DeviceRegistryError(
                f"device {family}.{kind} is already registered by {existing.origin}; "
                "pass replace=True to override it"
            )
        _entries[(family, kind)] = DeviceEntry(family, kind, origin, _factory=factory)


def unregister(family: str, kind: str) -> None:
    with _lock:
        _entries.pop((family, kind), None)


def load_entry_points() -> int:
    """Read the ``egate.devices`` entry points (once); returns how many kinds were added.
    Factories registered in code keep precedence over entry points with the same name."""
    global _entry_points_loaded
    with _lock:
        if _entry_points_loaded:
            return 0
        _entry_points_loaded = True
        added = 0
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            family, _, kind = ep.name.partition(".")
            if family not in FAMILIES or not kind:
                log.warning(
                    "ignoring entry point %s = %s: its name must be FAMILY.KIND with FAMILY in %s",
                    ep.name,
                    ep.value,
                    FAMILIES,
                )
                continue
            if (family, kind) not in _entries:
                _entries[(family, kind)] = DeviceEntry(family, kind, ep.value, _entry_point=ep)
                added += 1
        return added


def kinds(family: str) -> list[str]:
    """The kinds available for ``family`` (entry points included)."""
    load_entry_points()
    with _lock:
        return sorted(kind for fam, kind in _entries if fam == family)


def lookup(family: str, kind: str) -> Factory:
    """The factory for ``family``/``kind``, or :class:`DeviceRegistryError` naming the kinds
    that are available."""
    load_entry_points()
    with _lock:
        entry = _entries.get((family, kind))
    if entry is None:
        available = kinds(family)
        hint = (
            f"available: {', '.join(available)}"
            if available
            else "none is registered: install egate (pip install egate, or pip install -e . "
            "in a checkout) so its device entry points exist"
        )
        raise DeviceRegistryError(f"no {family} device of kind {kind!r} ({hint})")
    return entry.factory()


def build(family: str, kind: str, config: Any, /, **options: Any) -> Any:
    """A new, unopened device of ``family``/``kind`` configured by ``config``."""
    return lookup(family, kind)(config, **options)


def camera_kind(config: CameraConfig) -> str:
    """The camera kind a ``[camera] source`` means: ``simulator``, ``image-sequence`` for a
    directory, otherwise ``opencv`` (a device index, a video file or a stream URL)."""
    if config.source == "simulator":
        return "simulator"
    if Path(config.source).is_dir():
        return "image-sequence"
    return "opencv"
