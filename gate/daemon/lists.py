"""Cached copies of the central lists (watch list, enrolled-traveller registry, manifests).

Each list is a JSON file in the cache directory, replaced atomically (write, fsync, rename),
holding the version, the entries and when it was last confirmed by central. The lane screens
travellers against these copies, so it keeps working through a central outage; their age
(time since central last confirmed them) decides when the policy treats them as stale
(``[policy] lists_max_age_hours``, ``stale_lists``).

Entries are opaque here (central sends salted hashes and name keys, never document numbers in
clear); a delta answer removes entries equal to, or with the same ``id`` as, the ones listed.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gate.errors import EgateError
from gate.files import InputFileError, read_bounded
from gate.policy import lists as pl

log = logging.getLogger(__name__)
LIST_NAMES = ("watchlist", "registry", "manifests")


class ListError(EgateError):
    """A list answer from central or a cached list file cannot be used."""


@dataclass
class CachedList:
    name: str
    version: int | None = None
    entries: list[Any] = field(default_factory=list)
    synced_at: float | None = None
    """Wall-clock seconds when central last confirmed this version."""
    signature: str = ""
    salt: str = ""
    """Hex salt of the list's document keys (gate.policy.lists.document_key)."""


def _key(entry: Any) -> str:
    """What a delta's ``removed`` names: a watch-list or manifest entry's ``id``, a registry
    key itself."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict) and "id" in entry:
        return str(entry["id"])
    return json.dumps(entry, sort_keys=True)


def canonical(answer: dict[str, Any]) -> bytes:
    """The bytes central signs: the answer without ``signature``, compact, keys sorted."""
    body = {k: v for k, v in answer.items() if k != "signature"}
    return json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Central's list-signing key (``GET /api/v1/lists/public-key``, pinned in the lane)."""
    try:
        key = serialization.load_pem_public_key(read_bounded(path, "key"))
    except (InputFileError, ValueError) as exc:
        raise ListError(f"{path}: cannot read central's list key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ListError(f"{path}: central's list key must be an Ed25519 public key (PEM)")
    return key


class ListCache:
    def __init__(
        self,
        directory: Path,
        *,
        public_key: Ed25519PublicKey | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = Path(directory)
        self.public_key = public_key
        self._clock = clock
        self.lists: dict[str, CachedList] = {name: CachedList(name) for name in LIST_NAMES}
        self._lock = threading.Lock()
        self._parsed: dict[str, tuple[int | None, Any]] = {}

    def load(self) -> None:
        """Read the cached files; an unreadable one is logged and treated as absent."""
        for name in LIST_NAMES:
            path = self.directory / f"{name}.json"
            if not path.exists():
                continue
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                self.lists[name] = CachedList(
                    name,
                    int(data["version"]),
                    list(data.get("entries", [])),
                    float(data["synced_at"]) if data.get("synced_at") is not None else None,
                    str(data.get("signature", "")),
                    str(data.get("salt", "")),
                )
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.error(
                    "cached %s list %s is unusable (%s): ignored until resynced", name, path, exc
                )

    def _model(self, name: str, build: Any) -> Any:
        """The list as a gate.policy.lists object, parsed once per version; None when absent or
        unusable (logged)."""
        with self._lock:
            cached = self.lists[name]
            if cached.version is None:
                return None
            known = self._parsed.get(name)
            if known is not None and known[0] == cached.version:
                return known[1]
            try:
                model = build(cached)
            except pl.ListFormatError as exc:
                log.error("cached %s version %s unusable: %s", name, cached.version, exc)
                model = None
            self._parsed[name] = (cached.version, model)
            return model

    def watchlist(self, name_threshold: float = 0.88) -> pl.WatchList | None:
        model: pl.WatchList | None = self._model(
            "watchlist",
            lambda c: pl.WatchList.from_dict(
                {"version": c.version, "salt": c.salt, "entries": c.entries}, name_threshold
            ),
        )
        return model

    def registry(self) -> pl.EnrolledRegistry | None:
        model: pl.EnrolledRegistry | None = self._model(
            "registry",
            lambda c: pl.EnrolledRegistry.from_dict(
                {"version": c.version, "salt": c.salt, "keys": c.entries}
            ),
        )
        return model

    def manifests(self) -> pl.Manifests | None:
        def build(c: CachedList) -> pl.Manifests:
            flights: dict[tuple[str, str], set[str]] = {}
            for entry in c.entries:
                try:
                    flights.setdefault((str(entry["flight"]), str(entry["day"])), set()).add(
                        str(entry["key"])
                    )
                except (KeyError, TypeError):
                    raise pl.ListFormatError(
                        "manifests: entries need flight, day and key"
                    ) from None
            try:
                salt = bytes.fromhex(c.salt)
                found = tuple(
                    pl.Manifest(flight, date.fromisoformat(day), frozenset(keys))
                    for (flight, day), keys in sorted(flights.items())
                )
            except ValueError as exc:
                raise pl.ListFormatError(f"manifests: {exc}") from None
            return pl.Manifests(c.version or 0, salt, found)

        model: pl.Manifests | None = self._model("manifests", build)
        return model

    def version(self, name: str) -> int | None:
        return self.lists[name].version

    def age(self, name: str) -> float | None:
        synced = self.lists[name].synced_at
        return None if synced is None else max(0.0, self._clock() - synced)

    def oldest_age(self) -> float | None:
        """Age of the oldest list the lane has; None when it has none at all."""
        ages = [a for a in (self.age(n) for n in LIST_NAMES) if a is not None]
        return max(ages) if ages else None

    def apply(self, name: str, answer: dict[str, Any]) -> bool:
        """Apply central's answer to ``GET .../lists/NAME?since=V``; True when it changed."""
        if name not in self.lists:
            raise ListError(f"unknown list {name!r}; lists are {LIST_NAMES}")
        current = self.lists[name]
        if self.public_key is not None:
            try:
                signature = base64.b64decode(str(answer.get("signature", "")), validate=True)
                self.public_key.verify(signature, canonical(answer))
            except (ValueError, InvalidSignature):
                raise ListError(
                    f"{name} answer is not signed by central's pinned key: dropped, the cached "
                    "version stays in use"
                ) from None
        try:
            version = int(answer["version"])
        except (KeyError, TypeError, ValueError):
            raise ListError(f"{name} answer has no integer version") from None
        changed = version != current.version
        if answer.get("full", True) or current.version is None:
            entries = answer.get("entries", [])
            if not isinstance(entries, list):
                raise ListError(f"{name} answer: entries must be a list")
            new = list(entries)
        else:
            added, removed = answer.get("added", []), answer.get("removed", [])
            if not isinstance(added, list) or not isinstance(removed, list):
                raise ListError(f"{name} answer: added and removed must be lists")
            gone = {_key(e) for e in removed}
            new = [e for e in current.entries if _key(e) not in gone] + list(added)
            changed = changed or bool(added or removed)
        updated = CachedList(
            name,
            version,
            new,
            self._clock(),
            str(answer.get("signature", "")),
            str(answer.get("salt", current.salt)),
        )
        self._save(updated)
        with self._lock:
            self.lists[name] = updated
        return changed

    def _save(self, cached: CachedList) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{cached.name}.json"
        tmp = path.with_suffix(".json.tmp")
        data = {
            "version": cached.version,
            "entries": cached.entries,
            "synced_at": cached.synced_at,
            "signature": cached.signature,
            "salt": cached.salt,
        }
        with open(tmp, "w", encoding="utf-8") as out:
            json.dump(data, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)

    def summary(self) -> dict[str, dict[str, Any]]:
        return {
            name: {"version": self.version(name), "age_seconds": self.age(name)}
            for name in LIST_NAMES
        }
