"""Shared helpers of the face tests: model availability and a loaded engine."""

from __future__ import annotations

import os

import pytest

from gate.config import FaceConfig
from gate.face import models


def require_models(directory: str | None = None) -> str:
    """The models directory; skip (fail under CI=true) when the models are not fetched."""
    directory = directory or str(FaceConfig().models_dir)
    problems = {k: v for k, v in models.status(directory).items() if v != "ok"}
    if problems:
        message = (
            "face models not available (run `egate models fetch` or `./dev setup`): "
            + "; ".join(problems.values())
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return str(models.resolve_models_dir(directory))
