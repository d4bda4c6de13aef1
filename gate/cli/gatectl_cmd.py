"""``egate gatectl``: run the simulated gate controller, send commands, watch events.

egate gatectl sim --pty [--link /tmp/gate-tty] [--people-every 6]   # prints the port
egate gatectl sim --tcp 7070
egate gatectl send --port /tmp/gate-tty status | open-exit | release-entry | mode-normal ...
egate gatectl watch --port socket://127.0.0.1:7070 [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from enum import IntEnum
from pathlib import Path
from typing import Any

from drivers.gatectl import protocol as p
from gate.cli import options

ACTIONS: dict[str, tuple[str, p.Message | None]] = {
    "status": ("query the controller's status", None),
    "heartbeat": ("send one heartbeat", p.Heartbeat()),
    "cancel": ("cancel a released passage", p.CancelPassage()),
    "mode-normal": ("set mode NORMAL", p.SetMode(p.Mode.NORMAL)),
    "mode-out-of-service": ("set mode OUT_OF_SERVICE", p.SetMode(p.Mode.OUT_OF_SERVICE)),
    "mode-emergency": ("set mode EMERGENCY_OPEN", p.SetMode(p.Mode.EMERGENCY_OPEN)),
}
for _door in p.Door:
    _name = _door.name.lower()
    for _action in p.DoorAction:
        ACTIONS[f"{_action.name.lower()}-{_name}"] = (
            f"{_action.name.lower()} the {_name} door",
            p.DoorCommand(_door, _action),
        )
    ACTIONS[f"release-{_name}"] = (
        f"release one passage through the {_name} door (direction IN)",
        p.ReleasePassage(_door, p.Direction.IN),
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "gatectl", help="gate controller: simulator, commands and events (docs/gate-protocol.md)"
    )
    sub = parser.add_subparsers(dest="gatectl_command", metavar="ACTION", required=True)

    send = sub.add_parser("send", help="send one command and print the reply as JSON")
    send.add_argument("--port", required=True, help="pyserial URL or device path")
    send.add_argument("--baudrate", type=options.at_least(1), default=115200)
    send.add_argument("--timeout", type=options.number_at_least(0, exclusive=True), default=3.0)
    _add_auth(send)
    send.add_argument("action", choices=sorted(ACTIONS), metavar="ACTION", help=_action_help())
    send.set_defaults(func=_send)

    watch = sub.add_parser("watch", help="print controller events as JSON lines")
    watch.add_argument("--port", required=True)
    watch.add_argument("--baudrate", type=options.at_least(1), default=115200)
    watch.add_argument(
        "--seconds", type=options.number_at_least(0), default=0.0, help="0 = until Ctrl-C"
    )
    _add_auth(watch)
    watch.set_defaults(func=_watch)


def _add_auth(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--auth-key-file",
        type=Path,
        help="the gate key (64 hex digits): authenticated frames (docs/gate-protocol.md §13)",
    )


def _action_help() -> str:
    return "; ".join(f"{name}: {text}" for name, (text, _) in sorted(ACTIONS.items()))


def to_jsonable(obj: Any) -> Any:
    if isinstance(obj, IntEnum):
        return obj.name
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        data = {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        return {"type": type(obj).__name__, **data}
    return obj


async def _connect(port: str, baudrate: int, timeout: float, key_file: Path | None) -> Any:
    from drivers.gatectl.auth import load_key
    from drivers.gatectl.driver import SerialGateController

    key = None if key_file is None else load_key(key_file)
    ctl = SerialGateController(port, baudrate=baudrate, passive=True, auth_key=key)
    try:
        await ctl.start(timeout=timeout)
    except p.GateControllerError:
        await ctl.close()
        raise
    return ctl


def _send(args: argparse.Namespace) -> int:
    async def run() -> int:
        ctl = await _connect(args.port, args.baudrate, args.timeout, args.auth_key_file)
        try:
            _, command = ACTIONS[args.action]
            if command is None:
                status = await ctl.status()
                print(json.dumps({"ok": True, "status": to_jsonable(status)}))
                return 0
            try:
                await ctl.command(command)
            except p.GateControllerError as exc:
                print(json.dumps({"ok": False, "command": to_jsonable(command), "error": str(exc)}))
                return 1
            print(json.dumps({"ok": True, "command": to_jsonable(command)}))
            return 0
        finally:
            await ctl.close()

    return asyncio.run(run())


def _watch(args: argparse.Namespace) -> int:
    async def run() -> int:
        ctl = await _connect(args.port, args.baudrate, 5.0, args.auth_key_file)
        try:
            async with asyncio.timeout(args.seconds or None):
                async for event in ctl.events():
                    print(json.dumps(to_jsonable(event)))
                    sys.stdout.flush()
        except TimeoutError:
            pass
        finally:
            await ctl.close()
        return 0

    try:
        return asyncio.run(run())
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into head(1) and closed
        return 0
