"""``egate mrz ...``: the MRZ text layer on the command line.

``egate mrz parse LINE1 LINE2 [LINE3] [--json] [--today YYYY-MM-DD] [--candidates N]`` parses
and validates an MRZ, prints the fields, every check, every error (line and column) and the
ranked repair candidates, and exits 0 when the MRZ is valid, 1 when not.

Other modules add sub-commands to the same ``mrz`` group (the OCR ``read`` command does)::

    from gate.cli.mrz_cmd import mrz_group

    def register(subparsers):
        read = mrz_group(subparsers).add_parser("read", help="...")
        read.set_defaults(func=...)

:func:`mrz_group` creates the ``mrz`` command and its sub-parser group once, caches it on the
top-level ``subparsers`` object, and returns the same group to every caller, whichever module
the CLI discovery loads first.
"""

from __future__ import annotations

import argparse
import datetime
import json
from typing import Any

from gate.cli import options
from gate.mrz import Candidate, MrzResult, parse, repair

_GROUP_ATTR = "_egate_mrz_group"


def mrz_group(subparsers: Any) -> Any:
    """The ``mrz`` sub-command group (an argparse sub-parsers action), created once."""
    group = getattr(subparsers, _GROUP_ATTR, None)
    if group is None:
        parser = subparsers.add_parser("mrz", help="parse, validate, repair and read MRZs")
        group = parser.add_subparsers(dest="mrz_command", metavar="ACTION", required=True)
        setattr(subparsers, _GROUP_ATTR, group)
    return group


def register(subparsers: Any) -> None:
    parse_cmd = mrz_group(subparsers).add_parser(
        "parse",
        help="parse and validate MRZ lines; exit 0 when valid, 1 when not",
        description="Parse and validate a TD1 (3 lines), TD2, TD3, MRV-A or MRV-B (2 lines) "
        "MRZ. Quote each line: the filler '<' is special to the shell.",
    )
    parse_cmd.add_argument("lines", nargs="+", metavar="LINE", help="MRZ lines (2 or 3)")
    options.add_json(parse_cmd, "print JSON")
    options.add_today(parse_cmd)
    parse_cmd.add_argument(
        "--candidates",
        type=options.at_least(0),
        default=5,
        metavar="N",
        help="how many repair candidates to show (default 5; 0 for none)",
    )
    parse_cmd.set_defaults(func=_parse)


def _parse(args: argparse.Namespace) -> int:
    today = args.today or datetime.date.today()
    result = parse(args.lines, today=today)
    candidates = repair(args.lines, today=today, max_candidates=args.candidates)
    if args.json:
        print(json.dumps(_as_json(result, candidates), indent=2))
    else:
        print(_as_text(result, candidates))
    return 0 if result.valid else 1


def _as_json(result: MrzResult, candidates: list[Candidate]) -> dict[str, Any]:
    data = result.to_dict()
    return {
        "format": data["format"],
        "valid": data["valid"],
        "fields": data["fields"],
        "checks": data["checks"],
        "errors": data["errors"],
        "candidates": [c.to_dict() for c in candidates],
        "bac_key": data["bac_key"],
        "expired": data["expired"],
    }


def _as_text(result: MrzResult, candidates: list[Candidate]) -> str:
    out = [f"format: {result.format}    valid: {'yes' if result.valid else 'NO'}", ""]
    fields = result.fields.to_dict()
    width = max(len(k) for k in fields)
    out.extend(
        f"  {name:<{width}}  {value if value not in (None, '') else '-'}"
        for name, value in fields.items()
    )
    out += ["", "checks:"]
    width = max((len(k) for k in result.checks), default=0)
    for name, check in result.checks.items():
        out.append(f"  {'ok ' if check.ok else 'BAD'} {name:<{width}}  {check.message}")
    if result.errors:
        out += ["", "errors:"]
        out.extend(f"  {issue}" for issue in result.errors)
    if candidates:
        out += ["", "candidates (score: lower is better):"]
        for i, cand in enumerate(candidates, 1):
            changes = ", ".join(
                f"{ln}:{pos} {a or '∅'}->{b or '∅'}" for ln, pos, a, b in cand.changes
            )
            out.append(
                f"  {i}. score {cand.score:g}  {'valid' if cand.result.valid else 'invalid'}"
            )
            out.extend(f"       {line}" for line in cand.lines)
            out.append(f"       changes: {changes or 'none'}")
    return "\n".join(out)
