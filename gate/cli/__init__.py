"""The ``egate`` command line.

Every module in this package whose name ends in ``_cmd`` contributes sub-commands through a
``register(subparsers)`` function; each sub-command sets ``func`` (returning an exit code) on its
parser. New areas add a module here and touch nothing else.

Other packages add commands through the ``egate.commands`` entry point group (a module with the
same ``register(subparsers)``), loaded after this package's modules: the simulator's commands
(``egate demo``, ``egate chip build-image``...) live in ``simulator/commands.py`` that way, so
the lane's code never imports the simulator. A module extends an existing command group with
:func:`command_group`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence
from importlib import metadata
from typing import Any

from gate import __version__
from gate.cli.output import escaping_streams
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
    for entry in sorted(metadata.entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        entry.load().register(subparsers)
    return parser


COMMANDS_GROUP = "egate.commands"


def command_group(subparsers: Any, name: str) -> Any:
    """The sub-command action of the existing command group ``name`` (e.g. ``chip``), to add
    actions to it from another module."""
    parser = subparsers.choices.get(name)
    if parser is None:
        raise RuntimeError(f"command group {name!r} is not registered")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise RuntimeError(f"command {name!r} has no sub-commands to extend")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    with escaping_streams():
        try:
            return int(func(args))
        except EgateError as exc:
            print(f"egate: error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            return 130
        except BrokenPipeError:
            # the reader went away (``egate reasons | head``): stop quietly as a pipe's writer
            # should; stdout goes to /dev/null so the interpreter's last flush cannot fail again
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.close(devnull)
            return 141  # 128 + SIGPIPE, what a shell reports for a writer killed by the pipe
