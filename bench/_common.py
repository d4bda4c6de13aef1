"""Helpers shared by the bench scripts (not part of the egate package)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def faces_root(explicit: str | None) -> Path:
    """testdata/faces: --data, else $EGATE_TESTDATA/faces, else ../shared/testdata/faces."""
    candidates = [Path(explicit)] if explicit else []
    if os.environ.get("EGATE_TESTDATA"):
        candidates.append(Path(os.environ["EGATE_TESTDATA"]) / "faces")
    candidates.append(REPO.parent / "shared" / "testdata" / "faces")
    for path in candidates:
        if path.is_dir():
            return path
    sys.exit(
        "face test data not found: pass --data DIR (testdata/faces) or set EGATE_TESTDATA "
        "to the testdata folder"
    )
