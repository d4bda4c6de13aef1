"""``egate config check FILE``: validate a lane or central configuration file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gate import config


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("config", help="validate configuration files")
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = sub.add_parser(
        "check",
        help="print the resolved configuration, or the field, value and reason it is invalid",
    )
    check.add_argument("file", type=Path, help="a lane or central TOML file")
    check.add_argument(
        "--kind",
        choices=["auto", "lane", "central"],
        default="auto",
        help="which configuration the file holds (default: guessed from its sections)",
    )
    check.set_defaults(func=_check)


def _check(args: argparse.Namespace) -> int:
    kind = config.detect_kind(args.file) if args.kind == "auto" else args.kind
    try:
        loaded = config.load_lane(args.file) if kind == "lane" else config.load_central(args.file)
    except config.ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2 if isinstance(exc, config.ConfigFileError) else 1
    if isinstance(loaded, config.LaneConfig):
        for warning in config.insecure_settings(loaded):
            print(f"warning: insecure (allowed): {warning}", file=sys.stderr)
    shown = config.redact(loaded.model_dump(mode="json"))
    print(json.dumps({"kind": kind, "config": shown}, indent=2))
    return 0
