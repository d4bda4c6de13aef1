"""Options that several commands share, defined once so that they read and behave the same."""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Callable
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


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer not below ``minimum`` (``--candidates -5`` is refused with
    a usage error, exit 2, instead of being taken for 0 or a slice from the end)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is less than {minimum}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def number_at_least(minimum: float, *, exclusive: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number not below ``minimum`` (above it with ``exclusive``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if value < minimum or (exclusive and value == minimum):
            relation = "more than" if exclusive else "at least"
            raise argparse.ArgumentTypeError(f"{text} must be {relation} {minimum:g}")
        return value

    parse.__name__ = f"number >= {minimum:g}"
    return parse
