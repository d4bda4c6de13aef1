"""``egate lane --config FILE``: run one e-Gate lane (the lane daemon, gate/daemon).

``egate lane replay`` (gate/cli/lane_replay_cmd.py) adds itself to the same group.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path
from typing import Any

from gate import config


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "lane",
        help="run one e-Gate lane (devices, lane core, outbox, local API, traveller screen)",
        description="Run the lane daemon: doors to the safe state, then the devices, the lane "
        "core, the durable outbox towards central, the local API (/health, /status, /metrics) "
        "and the traveller screen (/screen). SIGTERM lets the current traveller out and stops.",
    )
    parser.add_argument("--config", type=Path, help="lane configuration (config/lane.toml)")
    parser.add_argument(
        "--no-central", action="store_true", help="run without a central service (events wait)"
    )
    parser.add_subparsers(dest="lane_command", metavar="COMMAND")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    # BLAS threads fight the lane's own worker threads on a 2-4 core gate PC
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from gate.daemon import LaneDaemon
    from gate.daemon.logs import configure

    lane = config.load_lane(args.config)
    configure(lane.logging, lane.lane.id)
    config.warn_insecure(lane)

    async def main() -> None:
        daemon = LaneDaemon(lane, central=not args.no_central)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, daemon.request_stop, "SIGTERM")
        loop.add_signal_handler(signal.SIGINT, daemon.request_stop, "SIGINT")
        await daemon.run()

    asyncio.run(main())
    return 0
