"""The simulator's commands, added to the ``egate`` command line through the
``egate.commands`` entry point (``pyproject.toml``; ``gate.cli`` loads it after its own
command modules):

- ``egate demo``: a simulated lane with scripted travellers (the main job of ``./dev start``);
- ``egate chip build-image`` / ``egate chip serve-vpcd``: virtual chip images and vpcd;
- ``egate doc make-passport``: a signed synthetic passport (test PKI);
- ``egate gatectl sim``: the simulated gate controller on a pty or TCP port.

The lane's own code (``gate``, ``drivers``) never imports the simulator.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from drivers.gatectl import protocol as p
from gate import config, events
from gate.cli import command_group


def register(subparsers: Any) -> None:
    _register_demo(subparsers)
    _register_chip(command_group(subparsers, "chip"))
    _register_doc(command_group(subparsers, "doc"))
    _register_gatectl(command_group(subparsers, "gatectl"))


# --------------------------------------------------------------------------- egate demo


def _register_demo(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="run a simulated lane with scripted travellers (no hardware needed)"
    )
    parser.add_argument("--config", type=Path, help="lane configuration (default: built in)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="how many times to run the scenarios (default 1)"
    )
    parser.add_argument(
        "--events",
        type=Path,
        default=Path("var/demo-events.jsonl"),
        help="where to write the events (default var/demo-events.jsonl)",
    )
    parser.add_argument(
        "--time-scale", type=float, default=4.0, help="gate physics speed-up (default 4)"
    )
    parser.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    # Imported here: the demo pulls in every subsystem, the other commands should not.
    from simulator.demo import SCENARIOS, DemoLane, FaceSource
    from simulator.testdata import testdata_root

    lane = config.load_lane(args.config)

    def log(line: str) -> None:
        print(line, flush=True)

    faces = FaceSource.find(testdata_root())
    log(f"egate demo: lane {lane.lane.id}, simulator devices, faces from {faces.origin}")
    demo = DemoLane(lane, faces, log, time_scale=args.time_scale)
    scenarios = list(SCENARIOS) * max(1, args.rounds)
    outcomes = asyncio.run(demo.run(scenarios))
    args.events.parent.mkdir(parents=True, exist_ok=True)
    with args.events.open("w", encoding="utf-8") as out:
        for event in demo.events:
            out.write(events.to_json(event) + "\n")
    summary = {
        "travellers": len(outcomes),
        "decisions": {o.scenario.name: o.decision.value for o in outcomes[: len(SCENARIOS)]},
        "mean_seconds": round(sum(o.seconds for o in outcomes) / max(1, len(outcomes)), 2),
        "events_file": str(args.events),
        "events": len(demo.events),
    }
    print(json.dumps(summary, indent=2))
    return 0 if outcomes else 1


# --------------------------------------------------------------------------- egate chip ...


def _register_chip(sub: Any) -> None:
    build = sub.add_parser("build-image", help="write a test chip image directory")
    build.add_argument("out", type=Path)
    build.add_argument("--mrz", help="MRZ lines (default: the ICAO specimen)")
    build.add_argument("--can", default="123456")
    build.add_argument(
        "--pace",
        default="GM:AES-128:13",
        help="comma list of MAPPING:CIPHER:PARAM_ID, or 'none' for BAC only",
    )
    build.add_argument("--aa", choices=["RSA", "EC", "none"], default="RSA")
    build.add_argument("--dg2-size", type=int, default=20000)
    build.set_defaults(func=_build)

    serve = sub.add_parser("serve-vpcd", help="serve a chip image to pcscd through vpcd")
    serve.add_argument("image", type=Path)
    serve.add_argument("--port", type=int, default=35963)
    serve.add_argument("--short", action="store_true", help="no extended-length support")
    serve.set_defaults(func=_serve)


def _build(args: argparse.Namespace) -> int:
    from simulator.chip.builder import SPECIMEN_MRZ, ImageSpec, build_image

    pace: list[tuple[str, str, int]] = []
    if args.pace != "none":
        for item in args.pace.split(","):
            mapping, cipher, pid = item.split(":")
            pace.append((mapping, cipher, int(pid)))
    spec = ImageSpec(
        mrz=args.mrz or SPECIMEN_MRZ,
        can=args.can,
        pace=pace,
        aa=None if args.aa == "none" else args.aa,
        dg2_size=args.dg2_size,
    )
    image = build_image(spec)
    image.save(args.out)
    print(json.dumps({"out": str(args.out), "files": {k: len(v) for k, v in image.files.items()}}))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from simulator.chip.card import ChipConfig, VirtualChip
    from simulator.chip.image import load_image
    from simulator.chip.transport import VpcdCard

    config = ChipConfig(extended_length=not args.short, max_response=256 if args.short else 65536)
    card = VpcdCard(VirtualChip(load_image(args.image), config), port=args.port)
    card.start()
    print(f"serving {args.image} on vpcd port {args.port}; Ctrl-C to stop", file=sys.stderr)
    try:
        while card.connected:
            time.sleep(0.5)
    finally:
        card.stop()
    return 0


# --------------------------------------------------------------------------- egate doc ...


def _register_doc(sub: Any) -> None:
    make = sub.add_parser(
        "make-passport",
        help="write a signed synthetic chip image (test PKI) for egate chip serve-vpcd",
    )
    make.add_argument("out", type=Path, help="directory for the chip image and its CSCA")
    make.add_argument("--mrz", default=SPECIMEN_MRZ, help="MRZ lines (default: a specimen)")
    make.add_argument("--signer", choices=sorted(SIGNERS), default="p256")
    make.add_argument("--portrait", choices=["jpeg", "jp2"], default="jpeg")
    make.add_argument("--aa", choices=["rsa2048", "p256", "none"], default="rsa2048")
    make.add_argument("--no-ca", action="store_true", help="no chip authentication key")
    make.add_argument(
        "--variant",
        choices=["genuine", "altered", "wrong-signer", "expired", "revoked", "clone"],
        default="genuine",
    )
    make.set_defaults(func=_make_passport)


SPECIMEN_MRZ = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F3401159ZE184226B<<<<<10"
)
# --signer -> (CSCA key, CSCA explicit, DSC key, DSC scheme, DSC explicit)
SIGNERS: dict[str, tuple[Any, bool, Any, Any, bool]] = {
    "rsa2048": ("rsa3072", False, "rsa2048", None, False),
    "rsa3072": ("rsa3072", False, "rsa3072", None, False),
    "rsa-pss": ("rsa3072", False, "rsa2048", "pss", False),
    "p256": ("rsa3072", False, "p256", None, False),
    "brainpool-explicit": ("brainpoolP256r1", True, "brainpoolP256r1", None, True),
}


def _make_passport(args: argparse.Namespace) -> int:
    from simulator import passports, pki

    now = datetime.now(UTC)
    csca_kind, csca_explicit, dsc_kind, scheme, dsc_explicit = SIGNERS[args.signer]
    csca = pki.make_csca(csca_kind, country="UT", now=now, explicit=csca_explicit)
    dsc = pki.make_dsc(
        csca,
        dsc_kind,
        now=now,
        serial=0x100,
        scheme=scheme,
        explicit=dsc_explicit,
    )
    image = passports.build_passport(
        args.mrz,
        dsc,
        portrait=args.portrait,
        aa_kind=None if args.aa == "none" else args.aa,
        chip_auth=not args.no_ca,
    )
    extra: dict[str, bytes] = {"csca.der": csca.der}
    if args.variant == "altered":
        image = passports.altered_dg(image, 2)
    elif args.variant == "wrong-signer":
        image = passports.wrong_signer(image, now)
    elif args.variant == "expired":
        image = passports.resign(image, passports.expired_dsc(csca, now))
    elif args.variant == "revoked":
        extra["crl.der"] = pki.make_crl(
            csca, [dsc.cert.serial_number], this_update=now, next_update=now + timedelta(days=30)
        )
    elif args.variant == "clone":
        image = passports.cloned(image)
    image.save(args.out)
    for name, data in extra.items():
        (args.out / name).write_bytes(data)
    print(
        json.dumps(
            {
                "image": str(args.out),
                "variant": args.variant,
                "signer": args.signer,
                "files": sorted(image.files),
                "trust": sorted(str(args.out / n) for n in extra),
            },
            indent=2,
        )
    )
    return 0


# --------------------------------------------------------------------------- egate gatectl sim


def _register_gatectl(sub: Any) -> None:
    sim = sub.add_parser("sim", help="run the simulated controller on a pty or TCP port")
    where = sim.add_mutually_exclusive_group()
    where.add_argument("--pty", action="store_true", help="a pseudo-terminal (default)")
    where.add_argument("--tcp", type=int, metavar="PORT", help="listen on 127.0.0.1:PORT")
    sim.add_argument("--link", type=Path, help="symlink to the pty (stable across replugs)")
    sim.add_argument("--baud", type=float, default=115200, help="line model speed (0: none)")
    sim.add_argument("--time-scale", type=float, default=1.0, help="physics speed-up")
    sim.add_argument("--safe-state", choices=["closed", "open"], default="closed")
    sim.add_argument(
        "--people-every",
        type=float,
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
    sim.add_argument("--seconds", type=float, default=0.0, help="stop after this long")
    sim.add_argument("--seed", type=int, default=0)
    sim.set_defaults(func=_sim)


def _sim(args: argparse.Namespace) -> int:
    from simulator.gatectl.device import DeviceConfig
    from simulator.gatectl.server import GateSimulator

    config = DeviceConfig(
        time_scale=args.time_scale, safe_state=p.SafeState[args.safe_state.upper()]
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
