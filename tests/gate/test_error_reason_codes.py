"""One error hierarchy, one reason-code registry: every error that can reach a traveller decision
carries a registered code."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

from gate import reasons
from gate.errors import EgateError

PACKAGES = ("gate", "drivers")
# Bases whose errors reach a decision or a device status: each must carry a code.
DECISION_RELEVANT = {
    "gate.emrtd.errors.ChipError",
    "gate.emrtd.docauth_errors.SodError",
    "gate.emrtd.docauth_errors.CertificateError",
    "gate.emrtd.docauth_errors.ActiveAuthError",
    "gate.emrtd.docauth_errors.ChipAuthError",
    "gate.emrtd.docauth_errors.DataGroupError",
    "gate.mrz.model.MrzError",
    "gate.face.errors.FaceError",
    "drivers.camera.CameraError",
    "drivers.gatectl.protocol.GateControllerError",
    "drivers.docreader.framing.FramingError",
    "drivers.mrz_ocr.pipeline.ImageError",
}


def _all_errors() -> list[type[EgateError]]:
    for name in PACKAGES:
        package = importlib.import_module(name)
        for info in pkgutil.walk_packages(package.__path__, f"{name}."):
            if info.name.endswith("__main__"):
                continue
            try:
                importlib.import_module(info.name)
            except ImportError as exc:  # an optional dependency (pymodbus, pyscard) missing
                pytest.skip(f"{info.name}: {exc}")
    seen: list[type[EgateError]] = []
    todo: list[type[EgateError]] = [EgateError]
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo.extend(cls.__subclasses__())
    return seen


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def test_every_reason_code_on_an_error_is_registered() -> None:
    unregistered = {
        _name(cls): cls.reason_code
        for cls in _all_errors()
        if cls.reason_code is not None and cls.reason_code not in reasons.REASONS
    }
    assert unregistered == {}


def test_decision_relevant_errors_all_carry_a_code() -> None:
    errors = {_name(cls): cls for cls in _all_errors()}
    assert set(errors) >= DECISION_RELEVANT, DECISION_RELEVANT - set(errors)
    missing = [
        name
        for name, cls in errors.items()
        if any(issubclass(cls, errors[base]) for base in DECISION_RELEVANT)
        and cls.reason_code is None
    ]
    assert missing == []


@pytest.mark.parametrize(
    ("error", "code"),
    [
        ("gate.emrtd.errors.BACError", "CHIP_ACCESS_DENIED"),
        ("gate.emrtd.errors.CardRemovedError", "CHIP_REMOVED"),
        ("gate.emrtd.errors.TLVError", "CHIP_READ_FAILED"),
        ("gate.emrtd.docauth_errors.SodVersionError", "PA_SOD_MALFORMED"),
        ("gate.emrtd.docauth_errors.UnknownCurveError", "PA_ALGORITHM_UNSUPPORTED"),
        ("gate.face.errors.ModelMissingError", "FACE_ENGINE_FAULT"),
        ("drivers.gatectl.session.ControllerTimeout", "GATECTL_NO_ANSWER"),
        ("drivers.gatectl.session.CommandRejected", "GATECTL_FAULT"),
    ],
)
def test_specific_errors_inherit_or_refine_their_family_code(error: str, code: str) -> None:
    module, _, name = error.rpartition(".")
    assert getattr(importlib.import_module(module), name).reason_code == code
