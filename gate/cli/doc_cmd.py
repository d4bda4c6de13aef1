"""``egate doc verify``: passive authentication of chip files against a trust store."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from gate import config, files
from gate.cli import options
from gate.emrtd.auth.passive import PaPolicy, passive_authenticate
from gate.emrtd.auth.verdict import AuthenticityVerdict
from gate.emrtd.docauth_errors import DocAuthError
from gate.emrtd.document import Document
from gate.emrtd.pki.trust import TrustStore
from gate.errors import EgateError
from gate.truststore import load_store, read_index_key


class DocCommandError(EgateError):
    """Bad arguments to ``egate doc``."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("doc", help="verify travel-document chip data")
    sub = parser.add_subparsers(dest="doc_command", metavar="ACTION", required=True)
    verify = sub.add_parser(
        "verify",
        help="passive authentication: DG hashes, SOD signature, DSC->CSCA chain, MRZ, expiry",
    )
    verify.add_argument("--sod", type=Path, required=True, help="EF.SOD file")
    verify.add_argument(
        "--dg",
        action="append",
        default=[],
        metavar="N=FILE",
        help="a data group file, e.g. --dg 1=DG1.bin (repeatable)",
    )
    verify.add_argument(
        "--trust",
        type=Path,
        action="append",
        required=True,
        metavar="PATH",
        help="trust store directory, or a CSCA/link certificate file taken as trusted (repeatable)",
    )
    verify.add_argument("--mrz", help="the MRZ read from the data page (lines may be joined)")
    verify.add_argument("--at", help="verification date YYYY-MM-DD (default: today)")
    verify.add_argument(
        "--config", type=Path, help="lane configuration whose [trust] policy to apply"
    )
    verify.add_argument(
        "--validity-model",
        choices=["shell", "chain"],
        help="certificate validity model (default: from --config, else shell)",
    )
    verify.add_argument(
        "--index-key",
        type=Path,
        metavar="FILE",
        help="key sealing the trust stores' index (default: [trust] index_key_file of --config)",
    )
    verify.add_argument("--require-crl", action="store_true", help="fail without a CRL")
    verify.add_argument("--strict", action="store_true", help="strict EF.SOD parsing")
    verify.add_argument(
        "--signature-only",
        action="store_true",
        help="pass on the SOD signature and chain alone (data groups not supplied stay unchecked)",
    )
    options.add_json(verify, "print the verdict as JSON")
    verify.set_defaults(func=_verify)


def _dg_args(values: list[str]) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    for value in values:
        number, sep, file = value.partition("=")
        if not sep or not number.strip().upper().removeprefix("DG").isdigit():
            raise DocCommandError(f"--dg {value!r}: expected N=FILE, e.g. --dg 1=DG1.bin")
        n = int(number.strip().upper().removeprefix("DG"))
        if not 1 <= n <= 16:
            raise DocCommandError(f"--dg {value!r}: data group numbers run from 1 to 16")
        out[n] = _read(Path(file))
    return out


def _read(path: Path) -> bytes:
    try:
        return files.read_bounded(path, "chip_file")
    except files.InputFileError as exc:
        raise DocCommandError(str(exc)) from None


def _store(paths: list[Path], index_key: bytes | None = None) -> TrustStore:
    store = TrustStore()
    now = datetime.now(UTC)
    for path in paths:
        if path.is_dir():
            store.merge(load_store(path, index_key=index_key))
        else:
            report = store.import_bytes(_read(path), source=path.name, now=now, anchor=True)
            for reason in report.rejected:
                raise DocCommandError(f"--trust {path}: {reason}")
    return store


def _policy(args: argparse.Namespace) -> PaPolicy:
    base = PaPolicy.from_config(config.load_lane(args.config).trust) if args.config else PaPolicy()
    return replace(
        base,
        validity_model=args.validity_model or base.validity_model,
        require_crl=args.require_crl or base.require_crl,
        strict_sod=args.strict or base.strict_sod,
    )


SIGNATURE_PROBLEMS = frozenset(
    {"PA_SOD_MALFORMED", "PA_DSC_MISSING", "PA_SIGNATURE_INVALID", "PA_ALGORITHM_UNSUPPORTED"}
)
EAC_PROTECTED = frozenset({3, 4})


@dataclass(frozen=True)
class Coverage:
    """What was actually verified, not what the SOD lists."""

    signature_valid: bool
    verified: int
    listed: int
    unchecked: tuple[int, ...]
    """Data groups listed in EF.SOD (DG3/DG4 aside: EAC) whose file was not supplied."""

    def summary(self) -> str:
        signature = "signature valid" if self.signature_valid else "signature NOT valid"
        return f"{signature}; {self.verified} of {self.listed} data groups verified"


def coverage(verdict: AuthenticityVerdict) -> Coverage:
    listed = [d for d in verdict.data_groups if d.status != "not_in_sod"]
    return Coverage(
        signature_valid=bool(verdict.chain) and not SIGNATURE_PROBLEMS & set(verdict.codes),
        verified=sum(d.status == "match" for d in listed),
        listed=len(listed),
        unchecked=tuple(
            d.number for d in listed if d.status == "not_read" and d.number not in EAC_PROTECTED
        ),
    )


def status(verdict: AuthenticityVerdict, cover: Coverage, signature_only: bool) -> str:
    """passed / failed / not_verified for the command: data groups that were not supplied make
    the document not verified unless ``--signature-only`` asked for exactly that."""
    if verdict.status == "failed" or not verdict.passive_ok:
        return "failed" if verdict.status == "failed" else "not_verified"
    if cover.unchecked and not signature_only:
        return "not_verified"
    return verdict.status


def _verify(args: argparse.Namespace) -> int:
    try:
        at = date.fromisoformat(args.at) if args.at else datetime.now(UTC).date()
    except ValueError as exc:
        raise DocCommandError(f"--at {args.at!r}: expected YYYY-MM-DD") from exc
    try:
        key_file = args.index_key
        if key_file is None and args.config:
            key_file = config.load_lane(args.config).trust.index_key_file
        store = _store(args.trust, read_index_key(key_file))
    except DocAuthError as exc:
        raise DocCommandError(f"trust store: {exc}") from exc
    verdict = passive_authenticate(
        Document.from_data_groups(_read(args.sod), _dg_args(args.dg)),
        store,
        at=at,
        mrz=args.mrz,
        policy=_policy(args),
    )
    cover = coverage(verdict)
    outcome = status(verdict, cover, args.signature_only)
    findings = verdict.findings
    if outcome != "passed":
        # PA_OK says the core checks of what was supplied passed; beside NOT VERIFIED (data
        # groups unchecked) it would read as a pass: the summary line says what was verified
        findings = [f for f in findings if f.code != "PA_OK"]
    if args.json:
        out = verdict.to_dict()
        out["findings"] = [f.to_dict() for f in findings]
        out["codes"] = [f.code for f in findings]
        out.update(
            status=outcome,
            signature_valid=cover.signature_valid,
            data_groups_verified=cover.verified,
            data_groups_listed=cover.listed,
            data_groups_unchecked=list(cover.unchecked),
            signature_only=args.signature_only,
        )
        print(json.dumps(out, indent=2))
    else:
        headline = {"passed": "PASSED", "failed": "FAILED", "not_verified": "NOT VERIFIED"}
        print(headline[outcome], "passive authentication:", cover.summary())
        if outcome == "not_verified" and cover.unchecked:
            unchecked = ", ".join(f"DG{n}" for n in cover.unchecked)
            print(
                f"  not checked: {unchecked} (supply them with --dg N=FILE, or pass "
                "--signature-only to verify the signature and chain alone)"
            )
        for f in findings:
            print(f"  {f.severity:4} {f.code}: {f.detail}")
        for i, c in enumerate(verdict.chain):
            print(f"  chain[{i}] {c.subject} serial {c.serial} {c.not_before}..{c.not_after}")
        for d in verdict.data_groups:
            print(f"  DG{d.number}: {d.status}")
    return 0 if outcome == "passed" else 1
