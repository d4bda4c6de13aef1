"""``egate chip ...``: read a passport chip (PC/SC or a simulated chip image), build test chip
images, and serve a chip image to pcscd through vpcd."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from drivers.chiplink import ChipLink
from drivers.chipreader import ReaderTransport
from gate.cli import options
from gate.emrtd.errors import AccessControlError, ChipError, TransportError
from gate.emrtd.reader import AccessResult, FileRead, Reader, ReadPolicy
from gate.mrz import bac_keys, repair


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("chip", help="read ePassport chips; virtual chip tools")
    sub = parser.add_subparsers(dest="chip_command", metavar="ACTION", required=True)

    read = sub.add_parser(
        "read",
        help="open a chip (PACE or BAC) and read its files",
        description="Open a chip (PACE, BAC fallback reported as CHIP_PACE_FAILED) and read "
        "EF.COM (or, without it, the list in EF.SOD), the data groups and EF.SOD. Exit 0: "
        "complete; 1: DG1, EF.SOD or a listed file could not be read whole; 2: error (no chip, "
        "access refused, PACE required but not used).",
    )
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
        "--require-pace",
        action="store_true",
        help="refuse a BAC fallback on a chip that has EF.CardAccess (exit 2)",
    )
    read.add_argument(
        "--extended",
        choices=["auto", "on", "off"],
        default="auto",
        help="extended-length APDUs (default: from the ATR)",
    )
    read.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a card")
    options.add_json(read, "print the result as JSON")
    read.set_defaults(func=_read)


REQUIRED_FILES = ("DG1", "EF.SOD")
"""Files without which a read is incomplete (exit 1): the MRZ data and its signature."""


def mrz_keys(text: str) -> list[str | None]:
    """The MRZ information of every repair candidate of ``text`` (the MRZ lines separated by
    newlines or spaces, or run together), best first: a failed BAC/PACE is retried with the
    next one, as the lane does (gate.mrz.repair)."""
    lines = text.split()
    if len(lines) == 1 and len(lines[0]) in LINE_LENGTHS:
        size = LINE_LENGTHS[len(lines[0])]
        lines = [lines[0][i : i + size] for i in range(0, len(lines[0]), size)]
    keys = bac_keys(repair(lines))
    if not keys:
        raise ChipError(
            "--mrz: not a readable MRZ (give the 2 or 3 lines, quoted: '<' is special to the "
            "shell); check it with egate mrz parse"
        )
    return [key.mrz_information() for key in keys]


LINE_LENGTHS = {90: 30, 72: 36, 88: 44}  # one string of TD1, TD2, TD3 -> line length


def _open(
    transport: ReaderTransport, policy: ReadPolicy, keys: list[str | None], can: str | None
) -> tuple[ChipLink, Reader, AccessResult, int]:
    """Open the chip with the first MRZ candidate it accepts (a fresh session each time)."""
    for tried, key in enumerate(keys, 1):
        link = ChipLink(transport)
        reader = link.reader(policy)
        try:
            return link, reader, link.run(reader.open(key, can)), tried
        except AccessControlError:
            if tried == len(keys) or can is not None:
                raise
    raise AssertionError("unreachable: keys is never empty")


def _read(args: argparse.Namespace) -> int:
    from drivers import registry
    from gate.config import ChipReaderConfig

    if args.simulate is not None:
        chip_reader = registry.build(
            "chipreader", "simulator", ChipReaderConfig(kind="simulator"), image=args.simulate
        )
    else:
        chip_reader = registry.build(
            "chipreader",
            "pcsc",
            ChipReaderConfig(kind="pcsc", reader_pattern=args.reader),
            timeout=args.timeout,
        )
    transport: ReaderTransport = chip_reader.connect()
    closer, reader_name = transport.close, transport.reader_name
    try:
        keys: list[str | None] = mrz_keys(args.mrz) if args.mrz else [None]
        policy = ReadPolicy(
            extended_length=args.extended,
            prefer_pace=not args.no_pace,
            require_pace=args.require_pace,
        )
        start = time.perf_counter()
        link, reader, access, tried = _open(transport, policy, keys, args.can)
        files: list[dict[str, Any]] = []
        contents: dict[str, bytes] = {}
        done: dict[str, FileRead] = {}
        if args.files:
            names = args.files.split(",")
        else:
            names, done = link.run(reader.data_groups())
        for name in names:
            try:
                read = done[name] if name in done else link.run(reader.read_files([name]))[name]
            except TransportError:
                raise
            except ChipError as exc:  # absent, refused or truncated: the others still count
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
    if "DG14" in contents:
        reader.check_downgrade(contents["DG14"])  # DG14 lists PACE: BAC was a downgrade
    failed = [f["name"] for f in files if "error" in f]
    missing = [n for n in REQUIRED_FILES if n not in contents and (not args.files or n in names)]
    reasons = ["CHIP_PACE_FAILED"] if access.downgraded else []
    if failed or missing:
        reasons.append("CHIP_READ_FAILED")
    result = {
        "reader": reader_name,
        "complete": not failed and not missing,
        "reasons": reasons,
        "access": {
            "protocol": access.protocol,
            "mapping": access.mapping,
            "cipher": access.cipher,
            "cam_verified": access.cam_verified,
            "pace_error": access.pace_error,
        },
        "mrz_candidates_tried": tried if args.mrz else 0,
        "files_missing": missing,
        "extended_length": reader.extended,
        "files": files,
        "apdus": link.session.stats.apdus,
        "bytes_sent": link.session.stats.bytes_sent,
        "bytes_received": link.session.stats.bytes_received,
        "link_seconds": round(link.session.stats.seconds, 4),
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
        if access.downgraded:
            print(f"  CHIP_PACE_FAILED: BAC used, {access.pace_error}")
        if missing:
            print(f"  incomplete: {', '.join(missing)} not read")
        print(f"  {link.session.stats.apdus} APDUs, {elapsed:.3f} s")
    return 0 if result["complete"] else 1
