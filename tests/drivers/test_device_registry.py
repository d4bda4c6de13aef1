"""The device registry: configuration kinds -> factories, simulator devices via entry points."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers import registry
from drivers.camera import OpenCVCamera, open_camera
from drivers.gatectl.driver import SerialGateController, open_gate_controller
from gate.config import CameraConfig, ChipReaderConfig, GateControllerConfig
from gate.errors import EgateError


@pytest.fixture
def scratch_kind() -> Iterator[str]:
    kind = "test-scratch"
    yield kind
    registry.unregister("camera", kind)


def test_every_shipped_kind_is_declared_as_an_entry_point() -> None:
    assert registry.kinds("camera") >= ["image-sequence", "opencv", "simulator"]
    assert {"serial", "modbus", "simulator"} <= set(registry.kinds("gatectl"))
    assert {"pcsc", "simulator"} <= set(registry.kinds("chipreader"))


def test_unknown_kind_names_the_available_ones() -> None:
    with pytest.raises(registry.DeviceRegistryError, match=r"kind 'laser'.*available: .*serial"):
        registry.build("gatectl", "laser", GateControllerConfig())


def test_unknown_family_is_refused() -> None:
    with pytest.raises(registry.DeviceRegistryError, match="unknown device family 'printer'"):
        registry.register("printer", "x", lambda config: None)


def test_registered_factory_gets_config_and_options(scratch_kind: str) -> None:
    seen: list[tuple[Any, dict[str, Any]]] = []

    def factory(config: Any, **options: Any) -> str:
        seen.append((config, options))
        return "device"

    registry.register("camera", scratch_kind, factory)
    config = CameraConfig()
    assert registry.build("camera", scratch_kind, config, clock=1) == "device"
    assert seen == [(config, {"clock": 1})]


def test_second_registration_must_say_replace(scratch_kind: str) -> None:
    registry.register("camera", scratch_kind, lambda c: 1)
    with pytest.raises(registry.DeviceRegistryError, match="already registered"):
        registry.register("camera", scratch_kind, lambda c: 2)
    registry.register("camera", scratch_kind, lambda c: 3, replace=True)
    assert registry.build("camera", scratch_kind, CameraConfig()) == 3


def test_camera_kind_follows_the_source(tmp_path: Path) -> None:
    assert registry.camera_kind(CameraConfig(source="simulator")) == "simulator"
    assert registry.camera_kind(CameraConfig(source=str(tmp_path))) == "image-sequence"
    assert registry.camera_kind(CameraConfig(source="rtsp://cam/1")) == "opencv"
    assert registry.camera_kind(CameraConfig(source="0")) == "opencv"
    assert isinstance(open_camera(CameraConfig(source="rtsp://cam/1")), OpenCVCamera)


def test_gate_controller_options_come_from_the_config() -> None:
    ctl = open_gate_controller(
        GateControllerConfig(kind="serial", port="socket://127.0.0.1:1", heartbeat_seconds=2.5)
    )
    assert isinstance(ctl, SerialGateController)
    assert ctl.port == "socket://127.0.0.1:1"
    assert ctl.configuration.heartbeat_timeout_ms == 7500


def test_simulated_chip_reader_needs_an_image() -> None:
    with pytest.raises(EgateError, match="chip image directory"):
        registry.build("chipreader", "simulator", ChipReaderConfig(kind="simulator"))
