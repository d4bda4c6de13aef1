"""``egate events schema`` and ``egate events validate FILE``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gate import events


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("events", help="the lane/central event schema")
    sub = parser.add_subparsers(dest="events_command", metavar="ACTION", required=True)
    schema = sub.add_parser("schema", help="print the JSON Schema of every event")
    schema.set_defaults(func=_schema)
    validate = sub.add_parser("validate", help="check events, one JSON object per line")
    validate.add_argument("file", type=Path, help="JSON-lines file, '-' for standard input")
    validate.set_defaults(func=_validate)


def _schema(args: argparse.Namespace) -> int:
    print(json.dumps(events.json_schema(), indent=2))
    return 0


def _validate(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if str(args.file) == "-" else args.file.read_text(encoding="utf-8")
    bad = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            events.parse_event(line)
        except events.EventSchemaError as exc:
            bad += 1
            print(f"{args.file}:{number}: {exc}", file=sys.stderr)
    return 1 if bad else 0
