"""``egate chip ...``: read a passport chip (PC/SC or a simulated chip image), build test chip
images, and serve a chip image to pcscd through vpcd."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from gate.emrtd import lds
from gate.emrtd.access import mrz_information
from gate.emrtd.errors import ChipError, StatusWordError
from gate.emrtd.reader import ChipSession, FileRead, Reader, ReadPolicy, Transport


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("chip", help="read ePassport chips; virtual chip tools")
    sub = parser.add_subparsers(dest="chip_command", metavar="ACTION", required=True)

    read = sub.add_parser("read", help="open a chip (PACE or BAC) and read its files")
    src = read.add_mutually_exclusive_group(required=True)
    src.add_argument("--reader", metavar="PATTERN", help="PC/SC reader name substring")
    src.add_argument(
        "--simulate",
        metavar="IMAGE_DIR",
        type=Path,
        help="read a chip image through the in-process virtual chip",
    )
    key = read.add_mutually_exclusive_group(required=True)
    key.add_argument("--mrz", help="the MRZ lines (newlines or spaces between lines)")
    key.add_argument("--can", help="card access number (PACE only)")
    read.add_argument("--out", type=Path, help="write each file as NAME.bin into this directory")
    read.add_argument("--files", help="comma-separated files (default: EF.COM, its DGs, EF.SOD)")
    read.add_argument("--no-pace", action="store_true", help="use BAC even if PACE is offered")
    read.add_argument(
        "--extended",
        choices=["auto", "on", "off"],
        default="auto",
        help="extended-length APDUs (default: from the ATR)",
    )
    read.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a card")
    read.add_argument("--json", action="store_true", help="print the result as JSON")
    read.set_defaults(func=_read)

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


def _default_files(reader: Reader) -> tuple[list[str], FileRead]:
    com = reader.read_files(["EF.COM"])["EF.COM"]
    groups = lds.parse_ef_com(com.data).data_groups
    return ["EF.COM", *[f"DG{n}" for n in groups if n not in (3, 4)], "EF.SOD"], com


def _read(args: argparse.Namespace) -> int:
    transport: Transport
    closer = None
    if args.simulate is not None:
        from simulator.chip.card import VirtualChip
        from simulator.chip.image import load_image
        from simulator.chip.transport import InProcessTransport

        transport = InProcessTransport(VirtualChip(load_image(args.simulate)))
        reader_name = f"simulator:{args.simulate}"
    else:
        from drivers.pcsc import PcscReader

        pcsc = PcscReader(args.reader, timeout=args.timeout)
        pcsc_transport = pcsc.connect()
        transport, closer, reader_name = (
            pcsc_transport,
            pcsc_transport.close,
            pcsc_transport.reader_name,
        )
    try:
        info = None
        if args.mrz:
            try:
                info = mrz_information(args.mrz)
            except ValueError as exc:
                raise ChipError(f"--mrz: {exc}") from exc
        policy = ReadPolicy(extended_length=args.extended, prefer_pace=not args.no_pace)
        session = ChipSession(transport)
        reader = Reader(session, policy)
        start = time.perf_counter()
        access = reader.open(info, args.can)
        files: list[dict[str, Any]] = []
        contents: dict[str, bytes] = {}
        done: dict[str, FileRead] = {}
        if args.files:
            names = args.files.split(",")
        else:
            names, done["EF.COM"] = _default_files(reader)
        for name in names:
            try:
                read = done[name] if name in done else reader.read_files([name])[name]
            except StatusWordError as exc:
                files.append({"name": name, "error": str(exc)})
                continue
            contents[name] = read.data
            files.append(
                {
                    "name": name,
                    "size": len(read.data),
                    "apdus": read.apdus,
                    "seconds": round(read.seconds, 4),
                }
            )
        elapsed = time.perf_counter() - start
    finally:
        if closer is not None:
            closer()
    if access.card_access:
        contents["EF.CardAccess"] = access.card_access
    if access.card_security:
        contents["EF.CardSecurity"] = access.card_security
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, data in contents.items():
            (args.out / f"{name.replace('/', '_')}.bin").write_bytes(data)
    result = {
        "reader": reader_name,
        "access": {
            "protocol": access.protocol,
            "mapping": access.mapping,
            "cipher": access.cipher,
            "cam_verified": access.cam_verified,
            "pace_error": access.pace_error,
        },
        "extended_length": reader.extended,
        "files": files,
        "apdus": session.stats.apdus,
        "bytes_sent": session.stats.bytes_sent,
        "bytes_received": session.stats.bytes_received,
        "link_seconds": round(session.stats.seconds, 4),
        "total_seconds": round(elapsed, 4),
        "out": str(args.out) if args.out else None,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{reader_name}: {access.protocol}"
            + (f" ({access.mapping}, {access.cipher})" if access.mapping else "")
        )
        for f in files:
            print(
                f"  {f['name']:<16} "
                + (f"{f['size']:>7} bytes  {f['apdus']:>4} APDUs" if "size" in f else f["error"])
            )
        print(f"  {session.stats.apdus} APDUs, {elapsed:.3f} s")
    return 0


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
