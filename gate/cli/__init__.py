"""The ``egate`` command line.

Every module in this package whose name ends in ``_cmd`` contributes sub-commands through a
``register(subparsers)`` function; each sub-command sets ``func`` (returning an exit code) on its
parser. New areas add a module here and touch nothing else.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from gate import __version__
from gate.errors import EgateError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="egate",
        description="Open-source automated border control (e-Gate) toolkit.",
    )
    parser.add_argument("--version", action="version", version=f"egate {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.endswith("_cmd"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args))
    except EgateError as exc:
        print(f"egate: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
