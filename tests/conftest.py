"""Shared fixtures. External test data is found through EGATE_TESTDATA or ../shared/testdata;
it is skipped with a reason when absent, except under CI (CI=true) where absence fails.

Tests use these fixtures; they never import from this module (pytest may import it under
another name, and a helper imported from here would be a second copy).

- ``testdata``: the test data root; ``testdata_dir(*parts)``: a path below it;
- ``face_models(directory=None)``: the verified face models directory;
- ``repo_root``: the checkout the tests run from.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from gate.config import FaceConfig
from gate.face import models
from simulator.testdata import REPO, testdata_root


def _missing(message: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def _require_testdata(*parts: str) -> Path:
    """The path below the test data root; skip (or fail under CI) when it is missing."""
    root = testdata_root()
    path = root.joinpath(*parts) if root else None
    if path is None or not path.exists():
        where = "/".join(parts)
        _missing(
            f"external test data {where!r} not found: set EGATE_TESTDATA or place "
            "../shared/testdata beside the repository"
        )
    assert path is not None
    return path


def _require_models(directory: str | None = None) -> str:
    """The models directory; skip (fail under CI=true) when the models are not fetched."""
    directory = directory or str(FaceConfig().models_dir)
    problems = {k: v for k, v in models.status(directory).items() if v != "ok"}
    if problems:
        _missing(
            "face models not available (run `egate models fetch` or `./dev setup`): "
            + "; ".join(problems.values())
        )
    return str(models.resolve_models_dir(directory))


@pytest.fixture(scope="session")
def testdata_dir() -> Callable[..., Path]:
    """``testdata_dir("faces", "deepface")``: that path, or the test is skipped (failed under
    CI=true) with the reason."""
    return _require_testdata


@pytest.fixture
def testdata() -> Path:
    return _require_testdata()


@pytest.fixture(scope="session")
def face_models() -> Callable[..., str]:
    """``face_models()``: the verified face models directory (``face_models(DIR)`` checks
    another one), or the test is skipped (failed under CI=true) with the reason."""
    return _require_models


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO
