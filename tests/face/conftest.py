"""Fixtures of the face tests: verified model files and the face test data (skipped with the
reason when absent, failing under CI=true)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gate.config import FaceConfig
from gate.face import models
from simulator.testdata import testdata_root


def _missing(message: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def face_models_dir() -> Path:
    """The verified models directory (every model of gate.face.models.MODELS)."""
    directory = FaceConfig().models_dir
    problems = [v for v in models.status(directory).values() if v != "ok"]
    if problems:
        _missing("face models not available (run `egate models fetch`): " + "; ".join(problems))
    return models.resolve_models_dir(directory)


@pytest.fixture(scope="session")
def faces_data() -> Path:
    """testdata/faces with lfw_dev."""
    root = testdata_root()
    path = root / "faces" if root else None
    if path is None or not (path / "lfw_dev" / "labels.csv").is_file():
        _missing("external test data 'faces/lfw_dev' not found: set EGATE_TESTDATA")
    assert path is not None
    return path
