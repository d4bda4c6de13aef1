"""The trust store on disk: the I/O shell around :class:`gate.emrtd.pki.trust.TrustStore`.

A store directory holds ``index.json`` (one record per entry) and the DER of every
certificate (``certs/ID.der``) and CRL (``crls/ID.der``). The index is replaced atomically
(written to ``index.json.tmp``, then renamed), so a crash never leaves a half-written index.
"""

from __future__ import annotations

import json
from pathlib import Path

from gate.emrtd.docauth_errors import TrustStoreError
from gate.emrtd.pki.trust import StoreSnapshot, TrustStore


def load_store(path: Path) -> TrustStore:
    """The store kept in directory ``path``; an empty store when there is none yet."""
    path = Path(path)
    index = path / "index.json"
    if not index.exists():
        if path.exists() and not path.is_dir():
            raise TrustStoreError(f"trust store {path} is a file, expected a directory")
        return TrustStore()
    try:
        raw = json.loads(index.read_text())
        entries = raw["entries"] if isinstance(raw, dict) else None
        if not isinstance(entries, list):
            raise TrustStoreError(f"trust store {path}: index.json has no entries list")
        objects: dict[str, bytes] = {}
        for item in entries:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                folder = "crls" if item.get("kind") == "crl" else "certs"
                file = path / folder / f"{item['id']}.der"
                if file.is_file():
                    objects[item["id"]] = file.read_bytes()
    except (OSError, ValueError) as exc:
        raise TrustStoreError(
            f"trust store {path} is damaged ({exc}); remove it and import again"
        ) from exc
    return TrustStore.from_snapshot(StoreSnapshot(entries, objects), source=f"trust store {path}")


def save_store(store: TrustStore, path: Path) -> None:
    """Write ``store`` to directory ``path``: new objects, removed ones deleted, then the index."""
    path = Path(path)
    snapshot = store.snapshot()
    kinds = {item["id"]: item["kind"] for item in snapshot.index}
    (path / "certs").mkdir(parents=True, exist_ok=True)
    (path / "crls").mkdir(parents=True, exist_ok=True)
    for eid, der in snapshot.objects.items():
        target = path / ("crls" if kinds.get(eid) == "crl" else "certs") / f"{eid}.der"
        if not target.exists():
            target.write_bytes(der)
    for folder in ("certs", "crls"):
        for file in (path / folder).glob("*.der"):
            if file.stem not in kinds:
                file.unlink()
    tmp = path / "index.json.tmp"
    tmp.write_text(json.dumps({"entries": snapshot.index}, indent=1))
    tmp.replace(path / "index.json")
