"""Shared fixtures. External test data is found through EGATE_TESTDATA or ../shared/testdata;
it is skipped with a reason when absent, except under CI (CI=true) where absence fails."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from simulator.testdata import REPO, testdata_root

__all__ = ["REPO", "require_testdata", "testdata_root"]


def require_testdata(*parts: str) -> Path:
    """The path below the test data root; skip (or fail under CI) when it is missing."""
    root = testdata_root()
    path = root.joinpath(*parts) if root else None
    if path is None or not path.exists():
        where = "/".join(parts)
        message = (
            f"external test data {where!r} not found: set EGATE_TESTDATA or place "
            "../shared/testdata beside the repository"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def testdata() -> Path:
    return require_testdata()
