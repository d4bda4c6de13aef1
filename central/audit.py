"""The append-only audit log with a hash chain.

Every officer action and every access to personal data (portraits, document details) is one
entry. Each entry carries ``prev_hash`` (the hash of the entry before it) and its own ``hash``:
SHA-256 over the previous hash and the canonical JSON of its fields. Changing an entry breaks
its hash; deleting one breaks the link of the next; :func:`verify` finds both and names the
first broken entry. The database refuses UPDATE and DELETE on the table (triggers from the
first migration), and ``egate central audit verify`` prints the head hash so that an operator
can keep it elsewhere and later detect a truncated tail as well (``--expect-head``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from central.db import audit_log, dumps

GENESIS = "0" * 64
_AUDIT_LOCK_KEY = 0x61756474  # "audt"


def entry_hash(
    prev_hash: str, seq: int, at: float, actor: str, action: str, target: str, detail: str
) -> str:
    body = json.dumps(
        [seq, repr(float(at)), actor, action, target, detail],
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def append(
    conn: Connection,
    *,
    at: float,
    actor: str,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
) -> int:
    """Append one entry in the caller's transaction; returns its sequence number."""
    if conn.dialect.name == "postgresql":  # one chain across every central process
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _AUDIT_LOCK_KEY})
    last = conn.execute(
        select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
    ).first()
    seq = 1 if last is None else int(last.seq) + 1
    prev = GENESIS if last is None else str(last.hash)
    body = dumps(detail or {})
    digest = entry_hash(prev, seq, at, actor, action, target, body)
    conn.execute(
        audit_log.insert().values(
            seq=seq,
            at=at,
            actor=actor,
            action=action,
            target=target[:128],
            detail=body,
            prev_hash=prev,
            hash=digest,
        )
    )
    return seq


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem,
        }


def verify(conn: Connection, expect_head: str | None = None) -> Verification:
    """Walk the whole chain; the first changed, deleted or inserted entry is reported."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    rows = conn.execute(select(audit_log).order_by(audit_log.c.seq)).yield_per(1000)
    for row in rows:
        count += 1
        if row.seq != expected_seq:
            return Verification(
                False,
                count,
                row.seq,
                prev,
                expected_seq,
                f"entry {expected_seq} is missing (next entry is {row.seq})",
            )
        if row.prev_hash != prev:
            return Verification(
                False,
                count,
                row.seq,
                prev,
                row.seq,
                f"entry {row.seq} does not link to entry {row.seq - 1}",
            )
        digest = entry_hash(prev, row.seq, row.at, row.actor, row.action, row.target, row.detail)
        if digest != row.hash:
            return Verification(
                False,
                count,
                row.seq,
                prev,
                row.seq,
                f"entry {row.seq} was changed after it was written",
            )
        prev = digest
        expected_seq += 1
    head_seq = expected_seq - 1
    if expect_head is not None and expect_head != prev:
        return Verification(
            False,
            count,
            head_seq,
            prev,
            head_seq + 1,
            "the chain head differs from the expected one: entries at the end "
            "were removed or the log was replaced",
        )
    return Verification(True, count, head_seq, prev)
