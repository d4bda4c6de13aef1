"""``egate sim``: simulated lanes at scale (docs/scenarios.md).

- ``egate sim scenarios`` lists the built-in scenarios;
- ``egate sim run`` runs N real lane daemons (``egate lane``'s code) on simulated devices
  through a scenario and prints the report (``--json`` for the machine-readable one);
  ``--fast`` runs them on a virtual-time event loop (:mod:`simulator.vtime`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from gate import config


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("sim", help="simulated lanes, travellers, scenarios and faults")
    sub = parser.add_subparsers(dest="sim_command", metavar="SUBCOMMAND", required=True)

    listing = sub.add_parser("scenarios", help="list the built-in scenarios")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=_scenarios)

    check = sub.add_parser("check", help="validate a scenario file (or built-in name)")
    check.add_argument("scenario", help="built-in scenario name or path of a .toml file")
    check.set_defaults(func=_check)

    run = sub.add_parser("run", help="run simulated lanes through a scenario and report")
    run.add_argument("--lanes", type=positive, default=1, help="number of lanes (default 1)")
    run.add_argument(
        "--travellers", type=positive, default=20, help="travellers in total (default 20)"
    )
    run.add_argument("--scenario", default="mix", help="built-in name or .toml file (default: mix)")
    run.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    run.add_argument(
        "--fast",
        action="store_true",
        help="virtual clock: the lane daemons run as fast as the computing allows "
        "(same outcomes as real time)",
    )
    run.add_argument(
        "--central",
        default="embedded",
        help="embedded (default: the central service in-process on a temporary SQLite file; "
        "events are delivered and counted there), none, or the URL of a central service where "
        "lanes sim-1..N are registered (with --central-tokens)",
    )
    run.add_argument(
        "--central-tokens",
        type=Path,
        help='with --central URL: a JSON file {"sim-1": "TOKEN", ...} of the lanes\' tokens',
    )
    run.add_argument(
        "--core",
        action="store_true",
        help="drive the lane core (gate.lane.Lane) directly with a simulated I/O shell instead "
        "of lane daemons (a cross-check; no outbox, API or device drivers)",
    )
    run.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="set one field of the physical model (door_open_seconds, walking_speed, ...; "
        "docs/scenarios.md), over the scenario's [model] table; repeatable",
    )
    run.add_argument("--daemon", action="store_true", help=argparse.SUPPRESS)  # the default
    run.add_argument("--config", type=Path, help="lane configuration (default: built in)")
    run.add_argument("--json", action="store_true", help="print the report as JSON")
    run.add_argument("--verbose", action="store_true", help="print every traveller's outcome")
    run.set_defaults(func=_run)


def positive(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _scenarios(args: argparse.Namespace) -> int:
    from simulator import scenarios

    items = scenarios.builtins()
    if args.json:
        data = [
            {
                "name": s.name,
                "description": s.description,
                "flow": s.flow,
                "travellers_per_round": s.group_size,
                "groups": len(s.travellers),
                "faults": len(s.faults),
            }
            for s in items
        ]
        print(json.dumps(data, indent=2))
        return 0
    width = max(len(s.name) for s in items)
    for s in items:
        faults = f", {len(s.faults)} fault(s)" if s.faults else ""
        print(f"{s.name:<{width}}  {s.description} ({s.group_size} per round{faults})")
    return 0


def _check(args: argparse.Namespace) -> int:
    from simulator import scenarios

    s = scenarios.load(args.scenario)
    print(
        f"{args.scenario}: scenario {s.name!r} is valid: {len(s.travellers)} group(s), "
        f"{s.group_size} traveller(s) per round, {len(s.faults)} fault(s), flow {s.flow}"
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    from gate.errors import EgateError
    from simulator import scenarios
    from simulator.testdata import testdata_root
    from simulator.travellers import FaceSource

    if args.daemon and args.core:
        raise EgateError("--daemon and --core exclude each other (lane daemons are the default)")
    remote = None
    if args.central not in ("none", "embedded"):
        remote = _remote_central(args)
    scenario = scenarios.load(args.scenario)
    if args.model:
        from simulator.physical import with_overrides

        scenario = scenario.model_copy(update={"model": with_overrides(scenario.model, args.model)})
    lane = config.load_lane(args.config)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    faces = FaceSource.find(testdata_root())
    with tempfile.TemporaryDirectory(prefix="egate-sim-central-") as tmp:
        central: Any = remote
        if args.central == "embedded":
            from simulator.uplink import EmbeddedCentral

            central = EmbeddedCentral(Path(tmp), [f"sim-{i + 1}" for i in range(args.lanes)])
        report = _execute(args, scenario, lane, faces, central, log)
    print(report.to_json() if args.json else report.human())
    return 0 if not report.mismatches else 1


def _remote_central(args: argparse.Namespace) -> Any:
    from gate.errors import EgateError
    from gate.files import InputFileError, read_text_bounded
    from simulator.daemon_lanes import RemoteCentral

    if args.core:
        raise EgateError("--central URL needs lane daemons: leave out --core")
    if not args.central.startswith(("http://", "https://")):
        raise EgateError(f"--central {args.central!r}: use 'embedded', 'none' or an http(s):// URL")
    if args.central_tokens is None:
        raise EgateError(
            "--central URL needs --central-tokens FILE: a JSON object of lane id -> token for "
            f"the lanes sim-1..sim-{args.lanes} registered at {args.central}"
        )
    try:
        tokens = json.loads(read_text_bounded(args.central_tokens, "config"))
    except InputFileError as exc:
        raise EgateError(f"--central-tokens: {exc}") from None
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise EgateError(f"--central-tokens {args.central_tokens}: not JSON: {reason}") from None
    lanes = [f"sim-{i + 1}" for i in range(args.lanes)]
    missing = [lane for lane in lanes if not isinstance(tokens, dict) or lane not in tokens]
    if missing:
        raise EgateError(f"--central-tokens {args.central_tokens}: no token for {missing}")
    return RemoteCentral(args.central, {lane: str(tokens[lane]) for lane in lanes})


def _execute(
    args: argparse.Namespace,
    scenario: Any,
    lane: Any,
    faces: Any,
    central: Any,
    log: Any,
) -> Any:
    from gate.face.pipeline import FaceEngine
    from simulator.simrun import SimRun

    if not args.core:
        from simulator import vtime
        from simulator.daemon_lanes import DaemonRun

        with tempfile.TemporaryDirectory(prefix="egate-sim-lanes-") as workdir:
            daemon_run = DaemonRun(
                scenario,
                lanes=args.lanes,
                travellers=args.travellers,
                seed=args.seed,
                lane_config=lane,
                faces=faces,
                engine=FaceEngine.from_config(lane.face),
                workdir=Path(workdir),
                central=central,
                log=log if args.verbose else None,
                progress=None if args.json else log,
                fast=args.fast,
            )
            if args.fast:
                return vtime.run(daemon_run.run())
            return asyncio.run(daemon_run.run())
    run = SimRun(
        scenario,
        lanes=args.lanes,
        travellers=args.travellers,
        seed=args.seed,
        fast=args.fast,
        lane_config=lane,
        faces=faces,
        engine=FaceEngine.from_config(lane.face),
        log=log if args.verbose else None,
        progress=None if args.json else log,
        central=central,
    )
    return asyncio.run(run.run())
