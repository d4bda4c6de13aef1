"""``egate chip build-image`` and ``egate chip serve-vpcd``: virtual chip images and vpcd."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from gate.cli import command_group, options


def register(subparsers: Any) -> None:
    _extend(command_group(subparsers, "chip"))


def _extend(sub: Any) -> None:
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
    build.add_argument(
        "--quirks",
        default="",
        help="comma list of chip quirk profiles the virtual chip adopts (egate chip quirks)",
    )
    build.set_defaults(func=_build)

    quirks = sub.add_parser("quirks", help="list the virtual chip's quirk profiles")
    options.add_json(quirks, "print the profiles as JSON")
    quirks.set_defaults(func=_quirks)

    serve = sub.add_parser("serve-vpcd", help="serve a chip image to pcscd through vpcd")
    serve.add_argument("image", type=Path)
    serve.add_argument("--port", type=int, default=35963)
    serve.add_argument("--short", action="store_true", help="no extended-length support")
    serve.set_defaults(func=_serve)


def _quirks(args: argparse.Namespace) -> int:
    from simulator.chip.quirks import QUIRKS

    if args.json:
        rows = [
            {"name": q.name, "description": q.description, "source": q.source,
             "completes": q.completes}
            for q in QUIRKS.values()
        ]  # fmt: skip
        print(json.dumps(rows, indent=2))
        return 0
    for q in QUIRKS.values():
        print(q.name)
        print(f"    {q.description}")
        print(f"    source: {q.source}")
    return 0


def _build(args: argparse.Namespace) -> int:
    from simulator.chip.builder import SPECIMEN_MRZ, ImageSpec, build_image
    from simulator.chip.quirks import parse_quirks

    quirk_names = parse_quirks(args.quirks)
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
    image.quirks = quirk_names
    image.save(args.out)
    files = {k: len(v) for k, v in image.files.items()}
    print(json.dumps({"out": str(args.out), "files": files, "quirks": quirk_names}))
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
