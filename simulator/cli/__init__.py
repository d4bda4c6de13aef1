"""The simulator's commands, added to the ``egate`` command line through the
``egate.commands`` entry point (``pyproject.toml``), which ``gate.cli`` loads after its own
command modules. As in ``gate/cli``, every module here whose name ends in ``_cmd`` contributes
sub-commands through ``register(subparsers)``; a module may extend an existing command group
with :func:`gate.cli.command_group`. New simulator commands add a module here and touch nothing
else. The lane's own code (``gate``, ``drivers``) never imports the simulator.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any


def register(subparsers: Any) -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.endswith("_cmd"):
            importlib.import_module(f"{__name__}.{info.name}").register(subparsers)
