"""``egate lane replay FILE [--policy NEW.toml] [--json]`` and ``egate lane states``.

The ``lane`` command itself (``egate lane --config FILE``) belongs to the lane daemon; this
module only adds the ``replay`` sub-command to it, creating the ``lane`` group when the daemon's
module is absent.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from gate.cli import command_group
from gate.config import LaneConfig, load
from gate.files import InputFileError, read_text_bounded
from gate.lane.record import RecordError, decode
from gate.lane.replay import Replay, as_dict, compare, only, replay


def _lane_subcommands(subparsers: Any) -> Any:
    if "lane" not in subparsers.choices:  # the daemon's lane_cmd is absent: make the group
        lane = subparsers.add_parser("lane", help="run or inspect a lane")
        lane.add_subparsers(dest="lane_command", metavar="COMMAND")
        lane.set_defaults(func=lambda args: (lane.print_help(), 2)[1])
    return command_group(subparsers, "lane")


def register(subparsers: Any) -> None:
    subs = _lane_subcommands(subparsers)
    p = subs.add_parser(
        "replay",
        help="replay a transaction record through the lane core, step by step",
        description="Feed a lane's recorded inputs to the lane core again and show every step: "
        "the commands, the rule that ran, and each decision with the policy rules that fired. "
        "With --policy, list the transactions whose decision would differ.",
    )
    p.add_argument("file", type=Path, help="transaction record (JSON Lines, docs/lane.md)")
    p.add_argument("--policy", type=Path, help="a lane configuration whose [policy] to try")
    p.add_argument("--transaction", metavar="ID", help="only the steps of this traveller")
    p.add_argument("--json", action="store_true", help="one JSON object instead of text")
    p.set_defaults(func=run)
    s = subs.add_parser(
        "states",
        help="the lane state diagram and states x inputs table (docs/lane.md)",
    )
    s.set_defaults(func=run_states)


def run_states(args: argparse.Namespace) -> int:
    from gate.lane.describe import markdown

    print(markdown())
    return 0


def _print(result: Replay) -> None:
    for s in result.steps:
        arrow = s.before if s.before == s.after else f"{s.before} -> {s.after}"
        names = ", ".join(c["command"] for c in s.commands)
        print(f"{s.at:10.3f}  {s.input:<20} {arrow:<34} {names}")
        if s.error:
            print(f"{'':12}not accepted: {s.error}")
        elif s.note:
            print(f"{'':12}{s.rule}: {s.note}")
    print()
    for t in result.transactions:
        print(f"transaction {t.transaction}: {t.decision} [{', '.join(t.reasons)}]")
        for line in t.fired:
            print(f"    {line}")


def run(args: argparse.Namespace) -> int:
    try:
        text = read_text_bounded(args.file, "record")
    except InputFileError as exc:
        raise RecordError(str(exc)) from None
    record = decode(text, str(args.file))
    if args.policy is None:
        result = replay(record)
        if args.transaction:
            result = only(result, args.transaction)
            if not result.steps:
                raise RecordError(f"{args.file}: no transaction {args.transaction!r} in the record")
        if args.json:
            print(json.dumps(as_dict(result), indent=2))
        else:
            _print(result)
        return 0
    policy = load(LaneConfig, args.policy).policy  # ConfigError names the field
    old, new, diffs = compare(record, policy)
    if args.json:
        print(
            json.dumps(
                {
                    "transactions": len(old.transactions),
                    "differences": as_dict(diffs),
                    "recorded": as_dict(old.transactions),
                    "new": as_dict(new.transactions),
                },
                indent=2,
            )
        )
        return 0
    print(f"{len(old.transactions)} transactions, {len(diffs)} would differ under {args.policy}")
    for d in diffs:
        was = f"{d.recorded.decision} [{', '.join(d.recorded.reasons)}]" if d.recorded else "-"
        now = f"{d.new.decision} [{', '.join(d.new.reasons)}]" if d.new else "-"
        print(f"  {d.transaction}: {was}  =>  {now}")
        for line in d.new.fired if d.new else ():
            print(f"      {line}")
    return 0
