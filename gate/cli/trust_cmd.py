"""``egate trust import/list/expire/remove``: manage the CSCA trust store."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gate import config
from gate.cli import options
from gate.emrtd.crypto import certs
from gate.emrtd.docauth_errors import DocAuthError
from gate.files import InputFileError, read_bounded
from gate.truststore import load_store, read_index_key, save_store


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("trust", help="manage CSCA certificates, master lists, CRLs")
    parser.add_argument("--config", type=Path, help="lane configuration ([trust] section)")
    parser.add_argument("--store", type=Path, help="trust store directory (default from config)")
    parser.add_argument(
        "--index-key",
        type=Path,
        metavar="FILE",
        help="key sealing the store index (default [trust] index_key_file; import creates it)",
    )
    sub = parser.add_subparsers(dest="trust_command", metavar="ACTION", required=True)

    imp = sub.add_parser(
        "import", help="import master lists, certificates (DER/PEM), CRLs and ICAO PKD LDIF files"
    )
    imp.add_argument("files", nargs="+", type=Path, metavar="FILE")
    imp.add_argument(
        "--ml-root",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="certificate allowed to sign master lists (repeatable; adds to the config's)",
    )
    imp.add_argument(
        "--anchor",
        action="store_true",
        help="accept link certificates whose issuer is not in the store (each needs --confirm)",
    )
    imp.add_argument(
        "--confirm",
        action="append",
        default=[],
        metavar="SHA256",
        help="fingerprint of a self-signed CSCA (or anchored link certificate) you checked out "
        "of band with its issuing state (repeatable); the import prints the ones it needs",
    )
    options.add_json(imp, "print the import report as JSON")
    imp.set_defaults(func=_import)

    lst = sub.add_parser("list", help="list entries and warn about those expiring soon")
    options.add_json(lst)
    lst.add_argument("--country", help="only entries of this alpha-2 country")
    lst.add_argument(
        "--summary",
        action="store_true",
        help="only the counts per country and kind and the newest CRL per CSCA (shown after "
        "the entries otherwise)",
    )
    lst.set_defaults(func=_list)

    exp = sub.add_parser("expire", help="stop trusting an entry (kept for audit)")
    exp.add_argument("id", help="entry id or a unique prefix of it")
    exp.set_defaults(func=_expire)

    rem = sub.add_parser("remove", help="delete an entry")
    rem.add_argument("id", help="entry id or a unique prefix of it")
    rem.set_defaults(func=_remove)


def _settings(args: argparse.Namespace) -> config.TrustConfig:
    return config.load_lane(args.config).trust if args.config else config.TrustConfig()


def _store_path(args: argparse.Namespace) -> Path:
    return Path(args.store) if args.store else _settings(args).store_path


def _index_key(args: argparse.Namespace, *, create: bool = False) -> bytes | None:
    file = args.index_key or _settings(args).index_key_file
    return read_index_key(file, create=create)


def _import(args: argparse.Namespace) -> int:
    settings = _settings(args)
    path = _store_path(args)
    key = _index_key(args, create=True)
    store = load_store(path, index_key=key)
    roots = []
    for file in [*settings.master_list_roots, *args.ml_root]:
        roots.extend(certs.load_certificates(read_bounded(file, "certificate"), source=str(file)))
    now = datetime.now(UTC)
    reports = []
    failed = unreadable = False
    for file in args.files:
        try:
            kind = "pkd_ldif" if file.suffix.lower() == ".ldif" else "master_list"
            data = read_bounded(file, kind)
        except InputFileError as exc:
            unreadable = True
            print(f"egate: {exc}", file=sys.stderr)
            continue
        try:
            report = store.import_bytes(
                data,
                source=file.name,
                now=now,
                master_list_roots=roots,
                anchor=args.anchor,
                confirm=args.confirm,
            )
        except (DocAuthError, InputFileError, OSError) as exc:
            failed = True
            print(f"egate: {exc}", file=sys.stderr)
            continue
        failed = failed or bool(report.rejected and not report.added)
        reports.append(report)
    save_store(store, path, index_key=key)
    if args.json:
        print(json.dumps([r.to_dict() for r in reports], indent=2))
    else:
        for r in reports:
            print(
                f"{r.source}: {r.kind}, {len(r.added)} added, {r.duplicates} already present, "
                f"{len(r.rejected)} rejected"
            )
            for reason in r.rejected:
                print(f"  rejected: {reason}")
            for warning in r.warnings:
                print(f"  warning: {warning}")
    for warning in store.expiry_warnings(now, settings.expiry_warning_days):
        print(f"warning: {warning}", file=sys.stderr)
    return 2 if unreadable else 1 if failed else 0


def _list(args: argparse.Namespace) -> int:
    settings = _settings(args)
    store = load_store(_store_path(args), index_key=_index_key(args))
    now = datetime.now(UTC)
    if args.summary:
        return _print_summary(store.summary(now), args.json)
    entries = [
        e for e in store.list_entries() if not args.country or e.country == args.country.upper()
    ]
    warnings = store.expiry_warnings(now, settings.expiry_warning_days)
    summary = store.summary(now)
    if args.json:
        listed = [e.to_dict() for e in entries]
        print(json.dumps({"entries": listed, "warnings": warnings, **summary}, indent=2))
        return 0
    for e in entries:
        flag = " EXPIRED-BY-OPERATOR" if e.expired else ""
        print(f"{e.id[:16]}  {e.kind:4}  {e.country:2}  {e.not_after[:10]}  {e.subject}{flag}")
    print()
    _print_summary(summary, False)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _print_summary(summary: dict[str, Any], as_json: bool) -> int:
    if as_json:
        print(json.dumps(summary, indent=2))
        return 0
    kinds = ("csca", "link", "dsc", "crl")
    print("country  " + "  ".join(f"{k:>5}" for k in kinds))
    for country, counts in summary["counts"].items():
        print(f"{country:7}  " + "  ".join(f"{counts.get(k, 0):5d}" for k in kinds))
    for c in summary["newest_crls"]:
        flag = "  STALE (past nextUpdate)" if c["stale"] else ""
        print(
            f"CRL {c['country']:2}  {c['age_days']:7.1f} days old, next update "
            f"{c['next_update'][:10]}  {c['issuer']}{flag}"
        )
    return 0


def _expire(args: argparse.Namespace) -> int:
    path = _store_path(args)
    key = _index_key(args)
    store = load_store(path, index_key=key)
    entry = store.expire(args.id)
    save_store(store, path, index_key=key)
    print(f"{entry.id[:16]} ({entry.subject}) is no longer trusted")
    return 0


def _remove(args: argparse.Namespace) -> int:
    path = _store_path(args)
    key = _index_key(args)
    store = load_store(path, index_key=key)
    entry = store.remove(args.id)
    save_store(store, path, index_key=key)
    print(f"{entry.id[:16]} ({entry.subject}) removed")
    return 0
