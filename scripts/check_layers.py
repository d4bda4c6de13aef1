"""Check the import-layer contracts of ``[tool.importlinter]`` in pyproject.toml.

import-linter accepts optional layers written ``(module)`` but not optional modules in
``forbidden`` contracts. The contracts here name packages that parallel work is still adding
(``gate.lane``, ``gate.policy``, ``gate.daemon``, ``gate.outbox``), so this wrapper drops a
``(module)`` that does not exist yet from forbidden contracts (and keeps it verbatim in layers,
where import-linter understands it), writes the resulting configuration to a temporary file
and runs ``lint-imports`` on it. Exit status: lint-imports'.

    python scripts/check_layers.py
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _resolve(names: list[str]) -> list[str]:
    out = []
    for name in names:
        if name.startswith("(") and name.endswith(")"):
            name = name[1:-1]
            if not _exists(name):
                continue
        out.append(name)
    return out


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"unsupported value in [tool.importlinter]: {value!r}")


def render(config: dict[str, Any]) -> str:
    lines = ["[tool.importlinter]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in config.items() if k != "contracts"]
    for contract in config.get("contracts", []):
        contract = dict(contract)
        if contract.get("type") == "forbidden":
            for key in ("source_modules", "forbidden_modules"):
                contract[key] = _resolve(contract[key])
        lines.append("")
        lines.append("[[tool.importlinter.contracts]]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in contract.items()]
    return "\n".join(lines) + "\n"


def main() -> int:
    sys.path.insert(0, str(ROOT))
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as tmp:
        tmp.write(render(config))
    try:
        lint = Path(sys.executable).with_name("lint-imports")
        cmd = [str(lint) if lint.exists() else "lint-imports", tmp.name]
        return subprocess.call(cmd, cwd=ROOT)
    finally:
        Path(tmp.name).unlink()


if __name__ == "__main__":
    raise SystemExit(main())
