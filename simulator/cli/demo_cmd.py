"""``egate demo``: the main job for a newcomer; a simulated lane with scripted travellers.

It runs every part that exists (MRZ, virtual chip, document authenticity, face verification,
gate controller) on simulator devices and prints each traveller's path and decision; the events
go to a JSON-lines file in the shared schema.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from gate import config, events


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="run a simulated lane with scripted travellers (no hardware needed)"
    )
    parser.add_argument("--config", type=Path, help="lane configuration (default: built in)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="how many times to run the scenarios (default 1)"
    )
    parser.add_argument(
        "--events",
        type=Path,
        default=Path("var/demo-events.jsonl"),
        help="where to write the events (default var/demo-events.jsonl)",
    )
    parser.add_argument(
        "--time-scale", type=float, default=4.0, help="gate physics speed-up (default 4)"
    )
    parser.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    # Imported here: the demo pulls in every subsystem, the other commands should not.
    from simulator.demo import SCENARIOS, DemoLane, FaceSource
    from simulator.testdata import testdata_root

    lane = config.load_lane(args.config)

    def log(line: str) -> None:
        print(line, flush=True)

    faces = FaceSource.find(testdata_root())
    log(f"egate demo: lane {lane.lane.id}, simulator devices, faces from {faces.origin}")
    demo = DemoLane(lane, faces, log, time_scale=args.time_scale)
    scenarios = list(SCENARIOS) * max(1, args.rounds)
    outcomes = asyncio.run(demo.run(scenarios))
    args.events.parent.mkdir(parents=True, exist_ok=True)
    with args.events.open("w", encoding="utf-8") as out:
        for event in demo.events:
            out.write(events.to_json(event) + "\n")
    summary = {
        "travellers": len(outcomes),
        "decisions": {o.scenario.name: o.decision.value for o in outcomes[: len(SCENARIOS)]},
        "mean_seconds": round(sum(o.seconds for o in outcomes) / max(1, len(outcomes)), 2),
        "events_file": str(args.events),
        "events": len(demo.events),
    }
    print(json.dumps(summary, indent=2))
    return 0 if outcomes else 1
