"""gate.emrtd stays sans-IO (docs/architecture.md, GUIDE.md section 1): no clock, link, thread
or file in the core. import-linter's ``emrtd-sans-io`` contract checks the imports in CI; this
test checks them too under pytest, and the calls import-linter cannot see: nothing transmits
except by yielding, nothing holds a transport, nothing opens a file."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[3] / "gate" / "emrtd"
FORBIDDEN_IMPORTS = frozenset(
    {"time", "socket", "select", "selectors", "threading", "asyncio", "subprocess",
     "multiprocessing", "serial", "smartcard", "drivers", "simulator"}
)  # fmt: skip
EXCHANGES = frozenset({"transmit", "transmit_raw", "open"})
"""Calls that must be ``yield from``-ed (ChipSession.transmit, Reader.open); a blocking
``transport.transmit(...)`` or ``path.open()`` is not."""
FILE_CALLS = frozenset({"read_bytes", "read_text", "write_bytes", "write_text"})


def problems(source: str, name: str) -> list[str]:
    """What in ``source`` breaks the sans-IO rule (empty when nothing)."""
    tree = ast.parse(source, name)
    yielded = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.YieldFrom)}
    out = []
    for node in ast.walk(tree):
        where = f"{name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [
                node.module or ""]  # fmt: skip
            out += [f"{where} imports {n}" for n in names
                    if n.split(".")[0] in FORBIDDEN_IMPORTS]  # fmt: skip
        elif isinstance(node, ast.Attribute | ast.Name | ast.arg):
            ident = {ast.Attribute: "attr", ast.Name: "id", ast.arg: "arg"}[type(node)]
            if getattr(node, ident) == "transport":
                out.append(f"{where} uses a transport")
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "open":
                out.append(f"{where} opens a file")
            if isinstance(func, ast.Attribute):
                if func.attr in EXCHANGES and id(node) not in yielded:
                    out.append(f"{where} calls .{func.attr}() without yield from")
                if func.attr in FILE_CALLS:
                    out.append(f"{where} touches a file (.{func.attr})")
    return out


def test_the_emrtd_core_does_no_io() -> None:
    found = []
    for path in sorted(CORE.rglob("*.py")):
        found += problems(path.read_text(), str(path.relative_to(CORE)))
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "planted",
    [
        "import time\n",
        "from threading import Lock\n",
        "def f(link):\n    return link.transport.transmit(b'')\n",
        "def f(session):\n    return session.transmit(b'')\n",
        "def f(p):\n    return open(p).read()\n",
        "def f(p):\n    return p.read_bytes()\n",
    ],
)
def test_the_check_sees_a_planted_violation(planted: str) -> None:
    assert problems(planted, "planted.py")


def test_yielding_is_allowed() -> None:
    ok = "def f(s, r):\n    resp = yield from s.transmit(b'')\n    return (yield from r.open())\n"
    assert problems(ok, "ok.py") == []
