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

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.errors import EgateError

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


def _key(entry: Any) -> Any:
    if isinstance(entry, dict) and "id" in entry:
        return ("id", str(entry["id"]))
    return json.dumps(entry, sort_keys=True)


class ListCache:
    def __init__(self, directory: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.directory = Path(directory)
        self._clock = clock
        self.lists: dict[str, CachedList] = {name: CachedList(name) for name in LIST_NAMES}

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
        self.lists[name] = CachedList(
            name,
            version,
            new,
            self._clock(),
            str(answer.get("signature", "")),
            str(answer.get("salt", current.salt)),
        )
        self._save(self.lists[name])
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
