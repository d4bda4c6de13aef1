"""``egate events schema`` and ``egate events validate FILE``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gate import events
from gate.files import LIMITS, InputFileError, read_text_bounded


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
    if str(args.file) == "-":
        data = sys.stdin.buffer.read(LIMITS["events"] + 1)
        if len(data) > LIMITS["events"]:
            raise InputFileError(f"standard input: more than {LIMITS['events']:,} bytes")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputFileError(
                f"standard input: not UTF-8 (invalid byte at offset {exc.start})"
            ) from None
    else:
        text = read_text_bounded(args.file, "events")
    bad = 0
    # JSON lines end at "\n" only: str.splitlines() would also split at U+2028 and other
    # separators that JSON allows unescaped inside strings
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            events.parse_event(line)
        except events.EventSchemaError as exc:
            bad += 1
            print(f"{args.file}:{number}: {exc}", file=sys.stderr)
    return 1 if bad else 0
