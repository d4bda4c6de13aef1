"""ASGI entry point for ``uvicorn central.asgi:app`` (several workers, or a process manager):
the configuration file comes from ``EGATE_CENTRAL_CONFIG`` (else defaults) and the
``EGATE_CENTRAL__...`` environment overrides."""

from __future__ import annotations

import os
from pathlib import Path

from central.app import create_app
from gate.config import load_central

_path = os.environ.get("EGATE_CENTRAL_CONFIG")
app = create_app(load_central(Path(_path) if _path else None))
