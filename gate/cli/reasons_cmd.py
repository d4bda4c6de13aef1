"""``egate reasons``: the reason-code catalogue (the same one the dashboard and docs use)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from gate import reasons


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("reasons", help="list every reason code with its meaning")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON object: code -> details")
    fmt.add_argument("--markdown", action="store_true", help="as docs/reason-codes.md")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.json:
        print(
            json.dumps(
                {
                    r.code: {
                        "family": r.family,
                        "severity": r.severity,
                        "explanation": r.explanation,
                    }
                    for r in reasons.REASONS.values()
                },
                indent=2,
            )
        )
    elif args.markdown:
        print(reasons.markdown(), end="")
    else:
        for r in reasons.REASONS.values():
            print(f"{r.code:<28} {r.severity:<6} {r.explanation}")
    return 0
