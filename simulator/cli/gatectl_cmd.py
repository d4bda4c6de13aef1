"""``egate gatectl sim``: the simulated gate controller on a pty or TCP port."""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

from drivers.gatectl import protocol as p
from drivers.gatectl.auth import load_key
from gate.cli import command_group, options


def register(subparsers: Any) -> None:
    _extend(command_group(subparsers, "gatectl"))


def _extend(sub: Any) -> None:
    sim = sub.add_parser("sim", help="run the simulated controller on a pty or TCP port")
    where = sim.add_mutually_exclusive_group()
    where.add_argument("--pty", action="store_true", help="a pseudo-terminal (default)")
    where.add_argument(
        "--tcp", type=options.at_least(0), metavar="PORT", help="listen on 127.0.0.1:PORT"
    )
    sim.add_argument("--link", type=Path, help="symlink to the pty (stable across replugs)")
    sim.add_argument(
        "--baud", type=options.number_at_least(0), default=115200, help="line model speed (0: none)"
    )
    sim.add_argument(
        "--time-scale",
        type=options.number_at_least(0, exclusive=True),
        default=1.0,
        help="physics speed-up",
    )
    sim.add_argument("--safe-state", choices=["closed", "open"], default="closed")
    sim.add_argument(
        "--barrier",
        choices=["doors", "speedgate", "tripod"],
        default="doors",
        help="swing/sliding doors, speed-gate wings or a tripod turnstile (gate-protocol.md 5.3)",
    )
    sim.add_argument(
        "--people-every",
        type=options.number_at_least(0),
        default=0.0,
        metavar="SECONDS",
        help="a traveller walks up every SECONDS (every 5th with a tailgater, every 7th "
        "turns back); 0 = nobody",
    )
    sim.add_argument(
        "--device",
        choices=["controller", "modbus-io"],
        default="controller",
        help="controller: docs/gate-protocol.md; modbus-io: a Modbus RTU I/O module (slave 1) "
        "wired to dry contacts (drivers/gatectl/modbus.py IoMap)",
    )
    sim.add_argument(
        "--seconds", type=options.number_at_least(0), default=0.0, help="stop after this long"
    )
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument(
        "--auth-key-file",
        type=Path,
        help="the gate key (64 hex digits): only authenticated frames (gate-protocol.md §13)",
    )
    sim.set_defaults(func=_sim)


def _sim(args: argparse.Namespace) -> int:
    from simulator.gatectl.device import DeviceConfig
    from simulator.gatectl.model import LaneGeometry
    from simulator.gatectl.server import GateSimulator

    config = DeviceConfig(
        geometry=LaneGeometry(barrier=args.barrier),
        time_scale=args.time_scale,
        safe_state=p.SafeState[args.safe_state.upper()],
        auth_key=None if args.auth_key_file is None else load_key(args.auth_key_file),
    )
    device = None
    if args.device == "modbus-io":
        from simulator.gatectl.modbus_io import ModbusIoDevice

        device = ModbusIoDevice(now=time.monotonic(), time_scale=args.time_scale)
    sim = GateSimulator(
        config,
        device=device,
        transport="tcp" if args.tcp is not None else "pty",
        tcp_port=args.tcp or 0,
        link=args.link,
        baud=args.baud or None,
        seed=args.seed,
    )
    rng = random.Random(args.seed)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # leave the with block: the pty closes and --link is removed

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    with sim:
        info = {"port": sim.url, "pty": sim.slave_name, "device": args.device}
        print(json.dumps(info))
        sys.stdout.flush()
        started = time.monotonic()
        next_person = started + args.people_every if args.people_every else float("inf")
        count = 0
        try:
            while not args.seconds or time.monotonic() - started < args.seconds:
                time.sleep(0.05)
                if time.monotonic() >= next_person:
                    count += 1
                    speed = rng.uniform(0.9, 1.4)
                    turn = -0.05 if count % 7 == 0 else None
                    sim.add_person(speed=speed, turn_back_at=turn)
                    if count % 5 == 0:
                        sim.add_person(speed=speed, x=-1.4 - 0.45, gap=0.35)
                    next_person += args.people_every
        except KeyboardInterrupt:
            pass
    return 0
