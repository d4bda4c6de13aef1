"""``egate demo``: the main job (what ``./dev start`` runs): the central service with the officer
dashboard and several simulated lanes with a continuous traveller mix, on embedded defaults
(SQLite, simulator devices). Prints the dashboard URL and a demo officer login; runs until
interrupted (docs/scenarios.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gate import config
from simulator.cli.sim_cmd import positive


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="central service, officer dashboard and simulated lanes with travellers "
        "(no hardware needed)",
    )
    parser.add_argument("--lanes", type=positive, default=4, help="simulated lanes (default 4)")
    parser.add_argument(
        "--scenario", default="mix", help="built-in scenario or .toml file (default: mix)"
    )
    parser.add_argument(
        "--travellers",
        type=positive,
        help="stop after this many travellers (default: run until interrupted)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--host", default="127.0.0.1", help="central service address")
    parser.add_argument("--port", type=int, default=8600, help="central service port (8600)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path("var/demo"),
        help="where the demo's central database lives (emptied at every start; var/demo)",
    )
    parser.add_argument(
        "--events",
        type=Path,
        default=Path("var/demo-events.jsonl"),
        help="also write every event here (default var/demo-events.jsonl)",
    )
    parser.add_argument("--config", type=Path, help="lane configuration (default: built in)")
    parser.add_argument(
        "--fast", action="store_true", help="simulated clock: no waiting for the physical world"
    )
    parser.add_argument("--no-central", action="store_true", help="run the lanes only")
    parser.add_argument(
        "--core",
        action="store_true",
        help="drive the lane core directly instead of running a lane daemon per lane",
    )
    parser.add_argument("--daemon", action="store_true", help=argparse.SUPPRESS)  # the default
    parser.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    # Imported here: the demo pulls in every subsystem, the other commands should not.
    from gate.face.pipeline import FaceEngine
    from simulator import scenarios
    from simulator.demo import DemoOptions, run_demo
    from simulator.testdata import testdata_root
    from simulator.travellers import FaceSource

    scenario = scenarios.load(args.scenario)
    lane = config.load_lane(args.config)

    def say(line: str) -> None:
        print(line, flush=True)

    options = DemoOptions(
        lanes=args.lanes,
        travellers=args.travellers,
        seed=args.seed,
        fast=args.fast,
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        events_file=args.events,
        central=not args.no_central,
        daemon=not args.core,
    )
    faces = FaceSource.find(testdata_root())
    report = run_demo(scenario, lane, faces, FaceEngine.from_config(lane.face), options, say)
    summary = report.to_dict()
    print(
        json.dumps(
            {
                key: summary[key]
                for key in ("travellers", "outcomes", "mismatches", "passage_seconds", "events")
            }
            | {"events_file": str(args.events)},
            indent=2,
        ),
        file=sys.stdout,
    )
    return 0
