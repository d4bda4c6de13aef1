"""``egate mrz read IMAGE [--json]``: read the MRZ of a page image (drivers.mrz_ocr)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gate.cli import options
from gate.cli.mrz_cmd import mrz_group


def register(subparsers: Any) -> None:
    read = mrz_group(subparsers).add_parser(
        "read",
        help="read the MRZ of a page image (JPEG/PNG, any orientation); exit 0 when valid",
        description="Locate and read the MRZ of a document page image, then parse and repair "
        "it with the MRZ layer. Exit 0 when the MRZ is valid, 1 when read but not valid or "
        "not found, 2 when the file is not an image.",
    )
    read.add_argument("image", type=Path, help="page image file")
    options.add_json(read, "print JSON")
    options.add_today(read)
    read.add_argument(
        "--candidates", type=options.at_least(0), default=5, metavar="N", help="repair candidates"
    )
    read.set_defaults(func=_read)


def _read(args: argparse.Namespace) -> int:
    from drivers.mrz_ocr.pipeline import read_image

    result = read_image(args.image, today=args.today, max_candidates=args.candidates)
    data = result.to_dict()
    if args.json:
        print(json.dumps(data, indent=2))
    elif not result.found:
        print(f"{args.image}: {result.message}", file=sys.stderr)
    else:
        for line in result.lines:
            print(line)
        fields = data["fields"]
        print(
            f"format {data['format']}  valid {data['valid']}  document "
            f"{fields.get('document_number_masked', '?')}  birth {fields.get('date_of_birth')}  "
            f"expiry {fields.get('date_of_expiry')}  ({data['seconds']:.3f} s)"
        )
        print(result.message)
        for doubt in result.doubtful[:10]:
            alternatives = ", ".join(f"{c} {p:.2f}" for c, p in doubt.alternatives)
            print(
                f"doubtful: line {doubt.line} pos {doubt.position} ({doubt.field}) "
                f"{doubt.read} {doubt.confidence:.2f}"
                + (f"; or {alternatives}" if alternatives else "")
            )
        for reading in result.readings:
            key = reading.bac_key
            masked = key.__repr__() if key is not None else "no BAC key"
            print(f"reading (cost {reading.cost:.2f}): {' / '.join(reading.lines)}  {masked}")
    return 0 if result.valid else 1
