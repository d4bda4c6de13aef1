"""Fixtures of the simulation tests (simulated lanes, the demo)."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from gate.config import FaceConfig, LaneConfig, load_lane
from gate.face import models
from gate.face.pipeline import FaceEngine


def _require_face_models() -> str:
    directory = str(FaceConfig().models_dir)
    problems = {k: v for k, v in models.status(directory).items() if v != "ok"}
    if problems:
        message = "face models not available (run `egate models fetch` or `./dev setup`): "
        message += "; ".join(problems.values())
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return str(models.resolve_models_dir(directory))


@pytest.fixture(scope="session")
def sim_face_models() -> Callable[[], str]:
    """``sim_face_models()``: the verified face models directory, or the test is skipped
    (failed under CI=true) with the reason."""
    return _require_face_models


@pytest.fixture(scope="module")
def lane() -> LaneConfig:
    """The built-in lane configuration (no file, no environment)."""
    return load_lane(None, env={})


@pytest.fixture(scope="module")
def engine(lane: LaneConfig, sim_face_models: Callable[[], str]) -> FaceEngine:
    """The face engine of that configuration (skipped without the face models)."""
    sim_face_models()
    return FaceEngine.from_config(lane.face)
