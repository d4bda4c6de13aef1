"""Options that several commands share, defined once so that they read and behave the same."""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path


def add_json(parser: argparse.ArgumentParser, help: str = "print one JSON object") -> None:
    parser.add_argument("--json", action="store_true", help=help)


def add_today(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--today",
        type=datetime.date.fromisoformat,
        default=None,
        help="reference date for centuries and expiry (YYYY-MM-DD; default: today)",
    )


def add_lane_config(parser: argparse.ArgumentParser, help: str = "lane configuration file") -> None:
    parser.add_argument("--config", type=Path, default=None, help=help)
