"""``egate demo``: the main job for a newcomer; runs whatever parts of the system exist."""

from __future__ import annotations

import argparse
from typing import Any

from gate import config


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="run the simulated lanes and central service")
    parser.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    lane = config.load_lane(None)
    print(f"egate demo: lane {lane.lane.id} with simulator devices (more parts arrive per issue)")
    return 0
