"""``egate doc make-passport``: a signed synthetic passport (test PKI) for the virtual chip."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gate.cli import command_group


def register(subparsers: Any) -> None:
    _extend(command_group(subparsers, "doc"))


def _extend(sub: Any) -> None:
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
