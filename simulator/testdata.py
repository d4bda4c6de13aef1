"""Where the external test data set lives (``EGATE_TESTDATA`` or ``../shared/testdata`` beside
the repository); used by the tests, the benchmarks and the demo, never copied into the repo."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def testdata_root() -> Path | None:
    env = os.environ.get("EGATE_TESTDATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "testdata")
    for path in candidates:
        if path.is_dir():
            return path
    return None
