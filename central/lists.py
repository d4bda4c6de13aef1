"""Versioned, signed lists for the lanes: the watch list, the enrolled-traveller registry and
advance passenger manifests (APIS/APP).

Every change (add, remove, import) makes a new version of the list. A lane asks for the
entries it lacks: ``GET /api/v1/lanes/{lane}/lists/{name}?since=V`` answers with the delta
since version V (``removed`` keys first, then ``added`` entries; an entry replaced under the
same key is in both) or, without ``since`` or for an unknown version, the full list. Manifests
go only to the lanes of their port. Every distribution is signed with Ed25519 over its
canonical JSON (keys sorted, no spaces, without ``signature``); lanes pin the public key from
``GET /api/v1/lists/public-key``.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import json
import os
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from central import audit
from central.db import dumps, lanes, list_entries, list_versions
from central.deps import Central, get_central, require_lane, require_supervisor, same_lane
from central.errors import CentralError, InvalidRequest, NotFound
from central.security import Officer
from gate.events import LaneId

router = APIRouter(prefix="/api/v1", tags=["lists"])

ListName = Literal["watchlist", "registry", "manifests"]
LIST_NAMES: tuple[str, ...] = ("watchlist", "registry", "manifests")
MAX_IMPORT_BYTES = 16 * 1024 * 1024
_LIST_LOCK_KEY = 0x6C697374  # "list"

Code = Annotated[str, Field(pattern=r"^[A-Z<]{1,3}$")]
DocNumber = Annotated[str, Field(pattern=r"^[A-Z0-9<]{1,20}$")]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
    issuing_state: Code
    document_number: DocNumber
    name: Annotated[str, Field(max_length=128)] = ""

    def key(self) -> str:
        return f"{self.issuing_state}:{self.document_number}"

    def distribution_port(self) -> str:
        """The port whose lanes receive this entry ('' for all lanes)."""
        return ""


class WatchlistEntry(_Entry):
    nationality: Code | None = None
    """Holder's nationality (the document key hashes number and nationality); defaults to
    the issuing state."""
    names: Annotated[list[Annotated[str, Field(max_length=128)]], Field(max_length=16)] = Field(
        default_factory=list
    )
    """Further spellings of the name (transliteration variants) besides ``name``."""
    date_of_birth: date | None = None
    """With a name, lets a lane match a person whatever document they carry."""
    category: Annotated[str, Field(max_length=32)] = ""
    """Free category (e.g. 'lost-stolen', 'wanted'); a hit is a silent alarm to officers."""
    note: Annotated[str, Field(max_length=500)] = ""


class RegistryEntry(_Entry):
    nationality: Code | None = None
    valid_until: date | None = None


class ManifestEntry(_Entry):
    flight: Annotated[str, Field(pattern=r"^[A-Z0-9]{2,8}$")]
    flight_date: date
    port: Annotated[str, Field(pattern=r"^[A-Z0-9_-]{1,16}$")]
    direction: Literal["arrival", "departure"] = "arrival"
    nationality: Code | None = None

    def key(self) -> str:
        return (
            f"{self.flight}:{self.flight_date.isoformat()}:{self.issuing_state}:"
            f"{self.document_number}"
        )

    def distribution_port(self) -> str:
        return self.port


ENTRY_MODELS: dict[str, type[_Entry]] = {
    "watchlist": WatchlistEntry,
    "registry": RegistryEntry,
    "manifests": ManifestEntry,
}


# --------------------------------------------------------------------------- signing


class ListSigner:
    """The Ed25519 key signing list distributions (created on first use, mode 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise CentralError(f"{path}: not an Ed25519 private key")
            self.key = key
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.key = Ed25519PrivateKey.generate()
            pem = self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)

    def public_pem(self) -> str:
        return (
            self.key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def salt(self, list_name: str) -> bytes:
        """The secret, stable salt of one list's document keys (derived from the key)."""
        raw = self.key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return hmac.new(raw, f"egate-list-salt:{list_name}".encode(), hashlib.sha256).digest()

    def sign(self, document: dict[str, Any]) -> str:
        return base64.b64encode(self.key.sign(canonical(document))).decode()


def canonical(document: dict[str, Any]) -> bytes:
    """The signed bytes: the document without ``signature`` as compact, key-sorted JSON."""
    body = {k: v for k, v in document.items() if k != "signature"}
    return json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def signer(central: Central) -> ListSigner:
    existing = central.extras.get("list_signer")
    if existing is None:
        existing = ListSigner(central.config.lists.signing_key_path)
        central.extras["list_signer"] = existing
    assert isinstance(existing, ListSigner)
    return existing


# --------------------------------------------------------------------------- store


def current_version(conn: Connection, name: str) -> int:
    value = conn.execute(
        select(func.max(list_versions.c.version)).where(list_versions.c.list_name == name)
    ).scalar()
    return int(value or 0)


def parse_entries(name: str, items: list[Any]) -> list[_Entry]:
    model = ENTRY_MODELS[name]
    out = []
    for index, item in enumerate(items):
        try:
            out.append(model.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(entry)"
            raise InvalidRequest(f"{name} entry {index}: field {where}: {first['msg']}") from None
    return out


def parse_csv(name: str, data: str) -> list[_Entry]:
    """CSV with a header row naming the fields (see docs/central.md); empty cells are unset."""
    reader = csv.DictReader(io.StringIO(data, newline=""))
    try:
        if not reader.fieldnames:
            raise InvalidRequest("the CSV has no header row")
        rows = [
            {k.strip(): v.strip() for k, v in row.items() if k and v is not None and v.strip()}
            for row in reader
        ]
    except csv.Error as exc:
        raise InvalidRequest(f"CSV line {reader.line_num}: {exc}") from None
    return parse_entries(name, rows)


def change(
    conn: Connection,
    central: Central,
    name: str,
    *,
    add: list[_Entry],
    remove: list[str],
    replace_all: bool,
    actor: str,
    note: str,
    replace_flights: bool = False,
) -> dict[str, Any]:
    """Apply one change as a new version; returns {version, added, removed}.

    ``replace_flights`` (manifests): every flight (flight number and date) of ``add`` gets
    exactly the passengers of ``add``; its other entries are removed (offloaded passengers),
    other flights are untouched."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LIST_LOCK_KEY})
    now = central.now()
    version = current_version(conn, name) + 1
    live = list_entries.c.removed_version.is_(None)
    by_key = {e.key(): e for e in add}
    remove_keys = set(remove) | set(by_key)
    if replace_all:
        existing = (
            conn.execute(
                select(list_entries.c.entry_key).where(list_entries.c.list_name == name, live)
            )
            .scalars()
            .all()
        )
        remove_keys |= set(existing)
    flights = sorted({flight_prefix(e) for e in add if isinstance(e, ManifestEntry)})
    if replace_flights:
        for prefix in flights:
            remove_keys |= set(
                conn.execute(
                    select(list_entries.c.entry_key).where(
                        list_entries.c.list_name == name,
                        live,
                        list_entries.c.entry_key.startswith(prefix, autoescape=True),
                    )
                )
                .scalars()
                .all()
            )
    removed = 0
    if remove_keys:
        keys = sorted(remove_keys)
        for i in range(0, len(keys), 500):
            result = conn.execute(
                update(list_entries)
                .where(
                    list_entries.c.list_name == name,
                    live,
                    list_entries.c.entry_key.in_(keys[i : i + 500]),
                )
                .values(removed_version=version)
            )
            removed += int(result.rowcount)
    if by_key:
        conn.execute(
            list_entries.insert(),
            [
                {
                    "list_name": name,
                    "entry_key": key,
                    "port": entry.distribution_port(),
                    "data": dumps(entry.model_dump(mode="json", exclude_defaults=False)),
                    "added_version": version,
                }
                for key, entry in by_key.items()
            ],
        )
    conn.execute(
        list_versions.insert().values(
            list_name=name, version=version, created_at=now, created_by=actor, note=note[:500]
        )
    )
    audit.append(
        conn,
        at=now,
        actor=actor,
        action=f"list_{name}_changed",
        target=f"{name}:v{version}",
        detail={
            "added": len(by_key),
            "removed_or_replaced": removed,
            "replace_all": replace_all,
            **({"replaced_flights": flights} if replace_flights else {}),
            "note": note,
        },
    )
    central.hub.publish(conn, "list", {"list_name": name, "version": version})
    return {
        "list_name": name,
        "version": version,
        "added": len(by_key),
        "removed_or_replaced": removed,
    }


def flight_prefix(entry: ManifestEntry) -> str:
    """The start of the keys of every entry of the entry's flight (number and date)."""
    return f"{entry.flight}:{entry.flight_date.isoformat()}:"


def document_key(salt: bytes, number: str, nationality: str) -> str:
    """HMAC-SHA256(salt, NUMBER|NATIONALITY) in hex: how a lane recognises a document without
    the list holding its number (the same function as ``gate.policy.lists.document_key``)."""
    clean = number.replace("<", "").strip().upper() + "|" + nationality.replace("<", "").upper()
    return hmac.new(salt, clean.encode("ascii", "replace"), hashlib.sha256).hexdigest()


def lane_item(name: str, data: dict[str, Any], salt: bytes) -> tuple[str, Any]:
    """(id, item) of one entry as lanes receive it: document numbers only as salted keys.

    registry: the key itself; watchlist: ``{id, document_keys, names, date_of_birth,
    category}``; manifests: ``{id, flight, day, direction, key}``.
    """
    nationality = data.get("nationality") or data["issuing_state"]
    key = document_key(salt, data["document_number"], nationality)
    if name == "registry":
        return key, key
    label = (
        f"{data['issuing_state']}:{data['document_number']}:{data.get('flight', '')}:"
        f"{data.get('flight_date', '')}"
    )
    entry_id = hmac.new(salt, label.encode(), hashlib.sha256).hexdigest()[:32]
    if name == "watchlist":
        names = [n for n in [data.get("name", ""), *data.get("names", [])] if n]
        return entry_id, {
            "id": entry_id,
            "document_keys": [key],
            "names": names,
            "date_of_birth": data.get("date_of_birth"),
            "category": data.get("category", ""),
        }
    return entry_id, {
        "id": entry_id,
        "flight": data["flight"],
        "day": data["flight_date"],
        "direction": data.get("direction", "arrival"),
        "key": key,
    }


def distribution(
    conn: Connection, central: Central, name: str, since: int | None, port: str | None
) -> dict[str, Any]:
    """The signed document a lane receives (see docs/lane-central-api.md)."""
    version = current_version(conn, name)
    salt = signer(central).salt(name)
    base = select(list_entries.c.data).where(list_entries.c.list_name == name)
    if port is not None:
        base = base.where(list_entries.c.port == port)
    doc: dict[str, Any] = {"list": name, "version": version, "salt": salt.hex()}
    if since is None or since > version or since < 0:
        rows = (
            conn.execute(
                base.where(list_entries.c.removed_version.is_(None)).order_by(
                    list_entries.c.entry_key
                )
            )
            .scalars()
            .all()
        )
        doc.update(
            full=True, since=None, entries=[lane_item(name, json.loads(d), salt)[1] for d in rows]
        )
    else:
        added = (
            conn.execute(
                base.where(
                    list_entries.c.added_version > since, list_entries.c.removed_version.is_(None)
                ).order_by(list_entries.c.entry_key)
            )
            .scalars()
            .all()
        )
        removed = (
            conn.execute(
                base.where(
                    list_entries.c.added_version <= since, list_entries.c.removed_version > since
                )
            )
            .scalars()
            .all()
        )
        doc.update(
            full=False,
            since=since,
            added=[lane_item(name, json.loads(d), salt)[1] for d in added],
            removed=sorted({lane_item(name, json.loads(d), salt)[0] for d in removed}),
        )
    if port is not None:
        doc["port"] = port
    doc["signature"] = signer(central).sign(doc)
    return doc


# --------------------------------------------------------------------------- routes

AUTH: dict[int | str, dict[str, Any]] = {
    401: {"description": "not logged in"},
    403: {"description": "role too low, or CSRF token missing"},
    400: {"description": "an entry is not valid; the message names it and the field"},
}


@router.get(
    "/lists/public-key",
    summary="The Ed25519 public key lanes verify lists with",
    response_class=PlainTextResponse,
)
async def public_key(central: Central = Depends(get_central)) -> PlainTextResponse:
    pem = await run_in_threadpool(lambda: signer(central).public_pem())
    return PlainTextResponse(pem)


@router.get(
    "/lanes/{lane_id}/lists/{list_name}",
    tags=["lanes"],
    summary="A list (full, or the delta since a version), signed, for a lane",
    responses={
        401: {"description": "lane credential not valid"},
        403: {"description": "credential of another lane"},
    },
)
async def lane_list(
    lane_id: LaneId,
    list_name: ListName,
    central: Central = Depends(get_central),
    token_lane: str = Depends(require_lane),
    since: Annotated[
        int | None, Query(ge=0, le=2**31, description="version the lane holds")
    ] = None,
) -> dict[str, Any]:
    same_lane(lane_id, token_lane)

    def work() -> dict[str, Any]:
        with central.db.read() as conn:
            port = None
            if list_name == "manifests":
                port = (
                    conn.execute(select(lanes.c.port).where(lanes.c.lane_id == lane_id)).scalar()
                    or ""
                )
            return distribution(conn, central, list_name, since, port)

    return await run_in_threadpool(work)


@router.get("/lists/{list_name}", summary="A list's current entries (supervisor)", responses=AUTH)
async def get_list(
    list_name: ListName,
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_supervisor),
) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        with central.db.write() as conn:
            version = current_version(conn, list_name)
            rows = conn.execute(
                select(list_entries.c.entry_key, list_entries.c.data, list_entries.c.added_version)
                .where(
                    list_entries.c.list_name == list_name, list_entries.c.removed_version.is_(None)
                )
                .order_by(list_entries.c.entry_key)
            ).all()
            history = conn.execute(
                select(list_versions)
                .where(list_versions.c.list_name == list_name)
                .order_by(list_versions.c.version.desc())
                .limit(20)
            ).all()
            audit.append(
                conn,
                at=central.now(),
                actor=officer.username,
                action=f"view_list_{list_name}",
                target=f"{list_name}:v{version}",
            )
        return {
            "list_name": list_name,
            "version": version,
            "entries": [
                {"key": r.entry_key, "added_version": r.added_version, **json.loads(r.data)}
                for r in rows
            ],
            "versions": [
                {
                    "version": h.version,
                    "created_at": h.created_at,
                    "created_by": h.created_by,
                    "note": h.note,
                }
                for h in history
            ],
        }

    return await run_in_threadpool(work)


class EntriesRequest(BaseModel):
    entries: Annotated[list[dict[str, Any]], Field(max_length=10000)]
    note: Annotated[str, Field(max_length=500)] = ""


@router.post(
    "/lists/{list_name}/entries",
    status_code=201,
    summary="Add or replace entries (supervisor); makes a new version",
    responses=AUTH,
)
async def add_entries(
    list_name: ListName,
    body: EntriesRequest,
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_supervisor),
) -> dict[str, Any]:
    entries = parse_entries(list_name, body.entries)

    def work() -> dict[str, Any]:
        with central.db.write() as conn:
            return change(
                conn,
                central,
                list_name,
                add=entries,
                remove=[],
                replace_all=False,
                actor=officer.username,
                note=body.note,
            )

    return await run_in_threadpool(work)


@router.delete(
    "/lists/{list_name}/entries/{key}",
    summary="Remove an entry (supervisor); makes a new version",
    responses={**AUTH, 404: {"description": "no such entry"}},
)
async def remove_entry(
    list_name: ListName,
    key: Annotated[str, PathParam(max_length=128)],
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_supervisor),
) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        with central.db.write() as conn:
            exists = conn.execute(
                select(list_entries.c.entry_id).where(
                    list_entries.c.list_name == list_name,
                    list_entries.c.entry_key == key,
                    list_entries.c.removed_version.is_(None),
                )
            ).first()
            if exists is None:
                raise NotFound(f"{list_name} has no entry {key!r}")
            return change(
                conn,
                central,
                list_name,
                add=[],
                remove=[key],
                replace_all=False,
                actor=officer.username,
                note=f"removed {key}",
            )

    return await run_in_threadpool(work)


@router.post(
    "/lists/{list_name}/import",
    summary="Import entries from CSV or JSON (supervisor)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"entries": {"type": "array", "items": {"type": "object"}}},
                    }
                },
            },
        }
    },
    responses={**AUTH, 413: {"description": "larger than 16 MiB"}},
)
async def import_list(
    list_name: ListName,
    request: Request,
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_supervisor),
    replace: Annotated[bool, Query(description="replace the whole list (else merge)")] = False,
    replace_flights: Annotated[
        bool,
        Query(
            description="manifests: replace the passengers of every flight (number and date) "
            "in the import, removing those not in it; other flights are untouched"
        ),
    ] = False,
) -> dict[str, Any]:
    """CSV needs a header row with the field names; JSON is ``{"entries": [...]}`` or a list.
    Manifests are imported per flight: ``replace_flights=true`` makes a re-import of a flight
    replace its passenger list (offloaded passengers removed) without touching other flights;
    without it the import merges."""
    if replace_flights and list_name != "manifests":
        raise HTTPException(400, "replace_flights is for manifests only")
    raw = await request.body()
    if len(raw) > MAX_IMPORT_BYTES:
        raise HTTPException(413, "import larger than 16 MiB; split it")
    ctype = request.headers.get("content-type", "")
    try:
        text_body = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise HTTPException(400, "the import must be UTF-8") from None
    if "csv" in ctype:
        entries = parse_csv(list_name, text_body)
    else:
        try:
            data = json.loads(text_body)
        except (ValueError, RecursionError):
            raise HTTPException(400, "body is neither CSV (text/csv) nor JSON") from None
        items = data.get("entries") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise HTTPException(400, 'JSON import must be a list or {"entries": [...]}')
        entries = parse_entries(list_name, items)

    def work() -> dict[str, Any]:
        with central.db.write() as conn:
            return change(
                conn,
                central,
                list_name,
                add=entries,
                remove=[],
                replace_all=replace,
                replace_flights=replace_flights,
                actor=officer.username,
                note=f"import of {len(entries)} entries"
                + (" (replacing the list)" if replace else "")
                + (" (replacing its flights)" if replace_flights and not replace else ""),
            )

    return await run_in_threadpool(work)
