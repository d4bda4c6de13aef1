"""The trust store on disk: the I/O shell around :class:`gate.emrtd.pki.trust.TrustStore`.

A store directory holds ``index.json`` (one record per entry) and the DER of every
certificate (``certs/ID.der``) and CRL (``crls/ID.der``), ID being the object's SHA-256.

Integrity (checked on every load, issue 17):
- every file's SHA-256 must equal its name, every indexed entry must have its file and every
  file must be indexed; otherwise the store is refused, naming the file;
- the index carries a seal over its entries: an HMAC-SHA256 with the key in ``index_key_file``
  (``[trust] index_key_file``) when one is configured, else a plain SHA-256 (which catches
  edits by hand and damage, not an attacker who recomputes it). A store sealed with a key is
  refused without that key, and a store without an HMAC is refused when a key is configured.

The index is replaced atomically (written to ``index.json.tmp``, then renamed), so a crash
never leaves a half-written index.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

from gate.emrtd.docauth_errors import DocAuthError, TrustStoreError
from gate.emrtd.pki.trust import StoreSnapshot, TrustStore
from gate.files import InputFileError, read_bounded

_KEY_BYTES = 32


def _canonical(entries: list[Any]) -> bytes:
    return json.dumps(entries, sort_keys=True, separators=(",", ":")).encode()


def _seal(entries: list[Any], key: bytes | None) -> dict[str, str]:
    data = _canonical(entries)
    if key is None:
        return {"sha256": hashlib.sha256(data).hexdigest()}
    return {"hmac_sha256": hmac.new(key, data, hashlib.sha256).hexdigest()}


def _read(file: Path, kind: str) -> bytes:
    """A store file, bounded like every input (``gate.files``): a certificate replaced by a
    huge or special file is refused by name instead of read into memory."""
    try:
        return read_bounded(file, kind)
    except InputFileError as exc:
        raise TrustStoreError(f"trust store file {exc}") from exc


def read_index_key(path: Path | None, *, create: bool = False) -> bytes | None:
    """The index key in file ``path`` (hex); with ``create``, a new random key is written
    (mode 0600) when the file does not exist yet."""
    if path is None:
        return None
    path = Path(path)
    if not path.exists() and create:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(_KEY_BYTES) + "\n")
    try:
        key = bytes.fromhex(read_bounded(path, "key").decode("ascii").strip())
    except InputFileError as exc:
        raise TrustStoreError(f"trust store index key cannot be read ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise TrustStoreError(f"trust store index key {path} is not hex ({exc})") from exc
    except ValueError as exc:
        raise TrustStoreError(f"trust store index key {path} is not hex ({exc})") from exc
    if len(key) < 16:
        raise TrustStoreError(f"trust store index key {path} is shorter than 16 bytes")
    return key


def _check_seal(path: Path, raw: dict[str, Any], entries: list[Any], key: bytes | None) -> None:
    seal = raw.get("seal")
    where = f"trust store {path}: index.json"
    if not isinstance(seal, dict):
        raise TrustStoreError(
            f"{where} has no seal: it was edited, or written by an egate from before sealed "
            "indexes (then remove the store and import its files again)"
        )
    data = _canonical(entries)
    if "hmac_sha256" in seal:
        if key is None:
            raise TrustStoreError(
                f"{where} is sealed with an index key; configure it ([trust] index_key_file "
                "or --index-key)"
            )
        expected = hmac.new(key, data, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, str(seal["hmac_sha256"])):
            raise TrustStoreError(
                f"{where} was changed outside egate (its HMAC does not match the index key); "
                "restore the store from a backup or import again"
            )
        return
    if key is not None:
        raise TrustStoreError(
            f"{where} is not sealed with the configured index key: it was replaced or written "
            "without the key; import again with the key configured"
        )
    if seal.get("sha256") != hashlib.sha256(data).hexdigest():
        raise TrustStoreError(
            f"{where} was changed outside egate (its SHA-256 seal does not match)"
        )


def load_store(path: Path, *, index_key: bytes | None = None) -> TrustStore:
    """The store kept in directory ``path``; an empty store when there is none yet.
    :class:`TrustStoreError` when any file disagrees with the index or its own name."""
    path = Path(path)
    index = path / "index.json"
    if not index.exists():
        if path.exists() and not path.is_dir():
            raise TrustStoreError(f"trust store {path} is a file, expected a directory")
        stray = [f for d in ("certs", "crls") for f in sorted((path / d).glob("*.der"))]
        if stray:
            raise TrustStoreError(f"trust store {path} has {stray[0]} but no index.json")
        return TrustStore()
    try:
        raw = json.loads(_read(index, "trust_index"))
        entries = raw["entries"] if isinstance(raw, dict) else None
        if not isinstance(entries, list):
            raise TrustStoreError(f"trust store {path}: index.json has no entries list")
        _check_seal(path, raw, entries, index_key)
        objects: dict[str, bytes] = {}
        names: dict[str, str] = {}
        listed: set[Path] = set()
        for item in entries:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                folder = "crls" if item.get("kind") == "crl" else "certs"
                file = path / folder / f"{item['id']}.der"
                names[item["id"]] = str(file)
                listed.add(file)
                if file.is_file():
                    kind = "master_list" if folder == "crls" else "certificate"
                    objects[item["id"]] = _read(file, kind)
        for folder in ("certs", "crls"):
            for file in sorted((path / folder).glob("*")):
                if file not in listed:
                    raise TrustStoreError(
                        f"trust store {path}: {file} is not listed in index.json (added by "
                        "hand, or left by an interrupted import); remove it or import again"
                    )
    except (OSError, ValueError) as exc:
        raise TrustStoreError(
            f"trust store {path} is damaged ({exc}); remove it and import again"
        ) from exc
    store = TrustStore.from_snapshot(
        StoreSnapshot(entries, objects, names), source=f"trust store {path}"
    )
    try:
        return store.prepare()
    except DocAuthError as exc:  # a file that matches its digest but was never parseable
        raise TrustStoreError(f"trust store {path} holds an unreadable object ({exc})") from exc


def save_store(store: TrustStore, path: Path, *, index_key: bytes | None = None) -> None:
    """Write ``store`` to directory ``path``: new objects, the sealed index, then removed
    objects deleted."""
    path = Path(path)
    snapshot = store.snapshot()
    kinds = {item["id"]: item["kind"] for item in snapshot.index}
    (path / "certs").mkdir(parents=True, exist_ok=True)
    (path / "crls").mkdir(parents=True, exist_ok=True)
    for eid, der in snapshot.objects.items():
        target = path / ("crls" if kinds.get(eid) == "crl" else "certs") / f"{eid}.der"
        if not target.exists() or target.stat().st_size != len(der):
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(der)
            tmp.replace(target)
    tmp = path / "index.json.tmp"
    document = {"entries": snapshot.index, "seal": _seal(snapshot.index, index_key)}
    tmp.write_text(json.dumps(document, indent=1))
    tmp.replace(path / "index.json")
    for folder, kind_ok in (("certs", lambda k: k != "crl"), ("crls", lambda k: k == "crl")):
        for file in (path / folder).glob("*"):
            if file.suffix != ".der" or file.stem not in kinds or not kind_ok(kinds[file.stem]):
                file.unlink()
