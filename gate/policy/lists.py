"""The lane's local lists: enrolled travellers, the watch list and passenger manifests (pure).

The lists are synced from the central service and cached on the lane for offline operation
(the daemon stores them; this module only models and consults them). A document is never kept
in clear: it is identified by a **salted hash** of its number and nationality,
``HMAC-SHA256(salt, NUMBER + "|" + NATIONALITY)``, where the salt comes with each list version
from central. The daemon calls :func:`screen` with the full number in memory and passes only the
resulting :class:`~gate.policy.model.ScreeningResult` to the lane core.

Names on the watch list match with transliteration tolerance (:func:`fold_name`,
:func:`name_similarity`): accents, the ICAO 9303 transliterations of Ä/Ö/Ü/Å/Æ/Ø/ß/Ñ (e.g.
MÜLLER, MUELLER and MULLER are one name), the order of names, and the MRZ filler. Limits: no
mapping between romanisation systems (Wade-Giles CHANG vs Hanyu Pinyin ZHANG, HSU vs XU) and
no phonetic matching beyond the folds below; the central service should list known variants
as separate names of one entry (``names``).
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from difflib import SequenceMatcher
from typing import Any

from gate.errors import EgateError
from gate.policy.model import ScreeningResult


class ListFormatError(EgateError):
    """A list from central (or its cached copy) is malformed; the message names the field."""


def document_key(salt: bytes, number: str, nationality: str) -> str:
    """The salted hash that identifies a document in every list (hex)."""
    clean = number.replace("<", "").strip().upper() + "|" + nationality.replace("<", "").upper()
    return hmac.new(salt, clean.encode("ascii", "replace"), hashlib.sha256).hexdigest()


# ICAO 9303 Part 3, section 6 (transliteration of national characters), folded one step
# further so that the long and short forms meet: MUELLER/MULLER -> MULLER.
_SPECIAL = {"ß": "SS", "Æ": "AE", "Ø": "OE", "Œ": "OE", "Þ": "TH", "Ð": "D", "Ł": "L", "Ħ": "H"}
_DIGRAPHS = (("AE", "A"), ("OE", "O"), ("UE", "U"), ("AA", "A"), ("SS", "S"), ("PH", "F"))


def fold_name(name: str) -> str:
    """A comparison key: upper case ASCII letters, tokens sorted, transliterations folded."""
    text = name.upper().replace("<", " ").replace("-", " ").replace(",", " ")
    text = "".join(_SPECIAL.get(ch, ch) for ch in text)
    text = "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
    )
    tokens = []
    for raw in text.split():
        token = "".join(ch for ch in raw if "A" <= ch <= "Z")
        for long, short in _DIGRAPHS:
            token = token.replace(long, short)
        token = token.replace("Y", "I")
        if token:
            tokens.append(token)
    return " ".join(sorted(tokens))


def name_similarity(a: str, b: str) -> float:
    """0..1 similarity of two names after :func:`fold_name` (1.0: the same folded name)."""
    fa, fb = fold_name(a), fold_name(b)
    if not fa or not fb:
        return 0.0
    return SequenceMatcher(None, fa, fb).ratio()


@dataclass(frozen=True)
class EnrolledRegistry:
    """Travellers eligible only after enrolment (foreign residents, frequent travellers)."""

    version: int
    salt: bytes
    keys: frozenset[str]

    def contains(self, number: str, nationality: str) -> bool:
        return document_key(self.salt, number, nationality) in self.keys

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "salt": self.salt.hex(), "keys": sorted(self.keys)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EnrolledRegistry:
        version, salt = _header(data, "registry")
        keys = data.get("keys")
        if not isinstance(keys, list) or not all(_is_key(k) for k in keys):
            raise ListFormatError("registry: 'keys' must be a list of 64-digit hex hashes")
        return cls(version, salt, frozenset(keys))


@dataclass(frozen=True)
class WatchEntry:
    entry_id: str
    document_keys: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    date_of_birth: date | None = None


@dataclass(frozen=True)
class WatchList:
    version: int
    salt: bytes
    entries: tuple[WatchEntry, ...]
    name_threshold: float = 0.88

    def match(
        self, number: str, nationality: str, name: str, date_of_birth: date | None
    ) -> tuple[str, ...]:
        """Ids of the entries that match by document, or by name and the same date of birth."""
        key = document_key(self.salt, number, nationality)
        hits = []
        for entry in self.entries:
            if key in entry.document_keys or (
                entry.names
                and entry.date_of_birth is not None
                and entry.date_of_birth == date_of_birth
                and max(name_similarity(name, n) for n in entry.names) >= self.name_threshold
            ):
                hits.append(entry.entry_id)
        return tuple(hits)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], name_threshold: float = 0.88) -> WatchList:
        version, salt = _header(data, "watchlist")
        raw = data.get("entries")
        if not isinstance(raw, list):
            raise ListFormatError("watchlist: 'entries' must be a list")
        entries = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise ListFormatError(f"watchlist: entries[{i}] needs a string 'id'")
            keys = item.get("document_keys", [])
            names = item.get("names", [])
            if not isinstance(keys, list) or not all(_is_key(k) for k in keys):
                raise ListFormatError(f"watchlist: entries[{i}].document_keys must be hex hashes")
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ListFormatError(f"watchlist: entries[{i}].names must be strings")
            dob = item.get("date_of_birth")
            try:
                born = date.fromisoformat(dob) if dob is not None else None
            except (TypeError, ValueError):
                raise ListFormatError(
                    f"watchlist: entries[{i}].date_of_birth {dob!r} is not YYYY-MM-DD"
                ) from None
            entries.append(WatchEntry(item["id"], tuple(keys), tuple(names), born))
        return cls(version, salt, tuple(entries), name_threshold)


@dataclass(frozen=True)
class Manifest:
    """One received passenger manifest (APIS/APP) for a flight or crossing on one day."""

    flight: str
    day: date
    keys: frozenset[str]


@dataclass(frozen=True)
class Manifests:
    version: int
    salt: bytes
    manifests: tuple[Manifest, ...] = field(default_factory=tuple)

    def contains(self, number: str, nationality: str, day: date) -> bool:
        key = document_key(self.salt, number, nationality)
        return any(m.day == day and key in m.keys for m in self.manifests)


def _is_key(value: object) -> bool:
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


def _header(data: Mapping[str, Any], what: str) -> tuple[int, bytes]:
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ListFormatError(f"{what}: 'version' must be a non-negative integer")
    try:
        salt = bytes.fromhex(str(data.get("salt", "")))
    except ValueError:
        raise ListFormatError(f"{what}: 'salt' must be hex") from None
    if len(salt) < 16:
        raise ListFormatError(f"{what}: 'salt' must be at least 16 bytes")
    return version, salt


def screen(
    *,
    number: str,
    nationality: str,
    name: str,
    date_of_birth: date | None,
    day: date,
    registry: EnrolledRegistry | None = None,
    watchlist: WatchList | None = None,
    manifests: Manifests | None = None,
    lists_age_seconds: float | None = None,
) -> ScreeningResult:
    """Consult every list present; an absent list gives None (the policy decides)."""
    return ScreeningResult(
        watchlist_hits=watchlist.match(number, nationality, name, date_of_birth)
        if watchlist is not None
        else (),
        enrolled=registry.contains(number, nationality) if registry is not None else None,
        on_manifest=manifests.contains(number, nationality, day) if manifests is not None else None,
        lists_age_seconds=lists_age_seconds,
    )


def keys_for(salt: bytes, documents: Iterable[tuple[str, str]]) -> frozenset[str]:
    """Hash (number, nationality) pairs: what central does before it ships a list."""
    return frozenset(document_key(salt, n, c) for n, c in documents)
