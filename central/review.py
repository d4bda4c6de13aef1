"""Officer work: alarms (acknowledge, shelve, clear), referral queue and decisions, portraits,
transactions and the audit log. Every access to personal data is written to the audit log."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import case, select, update
from starlette.concurrency import run_in_threadpool

from central import alarms as alarm_model
from central import audit
from central import commands as command_model
from central.db import alarms, audit_log, events, loads, portraits, referrals, transactions
from central.deps import (
    OFFICER_AUTH,
    Central,
    Responses,
    get_central,
    read_limited,
    require_lane,
    require_officer,
    require_supervisor,
)
from central.errors import Conflict, NotFound
from central.security import Officer
from gate.events import CommandAction

router = APIRouter(prefix="/api/v1", tags=["review"])

AUTH: Responses = OFFICER_AUTH
NOT_FOUND: Responses = {404: {"description": "no such item"}}
CONFLICT: Responses = {409: {"description": "not allowed in the item's current state"}}

Decision = Literal["admit", "refuse", "second_line"]
RELEASE = {"admit": "exit", "refuse": "entry", "second_line": "entry"}
"""Which door the lane opens for each decision: an admitted traveller leaves through the exit;
a refused one, or one sent to the second line, goes back out through the entry to an officer."""


# --------------------------------------------------------------------------- alarms


@router.get("/alarms", summary="Alarms, most urgent first", responses=AUTH)
async def list_alarms(
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_officer),
    state: Annotated[
        str | None,
        Query(
            pattern=r"^(active|acknowledged|shelved|cleared|open)$",
            description="one state, or 'open' for all but cleared (default)",
        ),
    ] = "open",
    lane_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        urgency = case({"critical": 0, "warning": 1}, value=alarms.c.severity, else_=2)
        state_order = case(
            {"active": 0, "acknowledged": 1, "shelved": 2}, value=alarms.c.state, else_=3
        )
        q = select(alarms).order_by(state_order, urgency, alarms.c.raised_at.desc()).limit(limit)
        if state == "open" or state is None:
            q = q.where(alarms.c.state != "cleared")
        else:
            q = q.where(alarms.c.state == state)
        if lane_id:
            q = q.where(alarms.c.lane_id == lane_id)
        with central.db.read() as conn:
            return {"alarms": [alarm_model.alarm_dict(r) for r in conn.execute(q)]}

    return await run_in_threadpool(work)


class ShelveRequest(BaseModel):
    minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 15
    note: Annotated[str, Field(max_length=500)] = ""


class NoteRequest(BaseModel):
    note: Annotated[str, Field(max_length=500)] = ""


def _alarm_op(
    central: Central,
    officer: Officer,
    alarm_id: int,
    op: str,
    note: str,
    shelve_minutes: int | None = None,
) -> dict[str, Any]:
    now = central.now()
    with central.db.write() as conn:
        out = alarm_model.apply(
            conn,
            central.hub,
            alarm_id,
            op,
            now=now,
            actor=officer.username,
            shelve_until=now + shelve_minutes * 60 if shelve_minutes else None,
        )
        audit.append(
            conn,
            at=now,
            actor=officer.username,
            action=f"alarm_{op}",
            target=f"alarm:{alarm_id}",
            detail={"note": note, "kind": out["kind"], "lane_id": out["lane_id"]},
        )
    return out


@router.post(
    "/alarms/{alarm_id}/acknowledge",
    summary="Acknowledge an alarm",
    responses={**AUTH, **NOT_FOUND, **CONFLICT},
)
async def acknowledge_alarm(
    alarm_id: Annotated[int, Path(ge=1, le=2**62)],
    body: NoteRequest | None = None,
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_officer),
) -> dict[str, Any]:
    return await run_in_threadpool(
        _alarm_op, central, officer, alarm_id, "acknowledge", body.note if body else ""
    )


@router.post(
    "/alarms/{alarm_id}/shelve",
    summary="Shelve an alarm for some minutes",
    responses={**AUTH, **NOT_FOUND, **CONFLICT},
)
async def shelve_alarm(
    alarm_id: Annotated[int, Path(ge=1, le=2**62)],
    body: ShelveRequest,
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_officer),
) -> dict[str, Any]:
    return await run_in_threadpool(
        _alarm_op, central, officer, alarm_id, "shelve", body.note, body.minutes
    )


@router.post(
    "/alarms/{alarm_id}/clear",
    summary="Clear an alarm by hand (supervisor)",
    responses={**AUTH, **NOT_FOUND, **CONFLICT},
)
async def clear_alarm(
    alarm_id: Annotated[int, Path(ge=1, le=2**62)],
    body: NoteRequest | None = None,
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_supervisor),
) -> dict[str, Any]:
    return await run_in_threadpool(
        _alarm_op, central, officer, alarm_id, "clear", body.note if body else ""
    )


# --------------------------------------------------------------------------- referrals


def _referral_dict(row: Any) -> dict[str, Any]:
    return {
        "transaction_id": row.transaction_id,
        "lane_id": row.lane_id,
        "created_at": row.created_at,
        "status": row.status,
        "reasons": json.loads(row.reasons or "[]"),
        "decision": row.decision,
        "note": row.note,
        "decided_by": row.decided_by,
        "decided_at": row.decided_at,
        "command_id": row.command_id,
    }


@router.get("/referrals", summary="The referral queue (oldest first)", responses=AUTH)
async def list_referrals(
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_officer),
    status: Annotated[str, Query(pattern=r"^(pending|decided|all)$")] = "pending",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        q = select(referrals).order_by(referrals.c.created_at).limit(limit)
        if status != "all":
            q = q.where(referrals.c.status == status)
        with central.db.read() as conn:
            return {"referrals": [_referral_dict(r) for r in conn.execute(q)]}

    return await run_in_threadpool(work)


def _transaction_event(conn: Any, transaction_id: str) -> dict[str, Any]:
    row = conn.execute(
        select(events.c.payload)
        .join(transactions, transactions.c.event_id == events.c.event_id)
        .where(transactions.c.transaction_id == transaction_id)
    ).first()
    if row is None:
        raise NotFound(f"transaction {transaction_id} is not known")
    event: dict[str, Any] = json.loads(row.payload)
    return event


def _visible_document(event: dict[str, Any], officer: Officer) -> None:
    """Officers see the masked summary; the fingerprint is for the service only."""
    doc = event.get("document")
    if isinstance(doc, dict):
        doc.pop("fingerprint", None)
        if not officer.has("supervisor"):
            doc.pop("year_of_birth", None)


@router.get(
    "/referrals/{transaction_id}",
    summary="A referral with its transaction (audited)",
    responses={**AUTH, **NOT_FOUND},
)
async def referral_detail(
    transaction_id: Annotated[str, Path(max_length=64)],
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_officer),
) -> dict[str, Any]:
    """Verdicts, reason codes, scores and threshold, and the document data the role may see.
    The access is written to the audit log."""

    def work() -> dict[str, Any]:
        now = central.now()
        with central.db.write() as conn:
            row = conn.execute(
                select(referrals).where(referrals.c.transaction_id == transaction_id)
            ).first()
            if row is None:
                raise NotFound(f"no referral for transaction {transaction_id}")
            event = _transaction_event(conn, transaction_id)
            _visible_document(event, officer)
            kinds = (
                conn.execute(
                    select(portraits.c.kind).where(portraits.c.transaction_id == transaction_id)
                )
                .scalars()
                .all()
            )
            audit.append(
                conn,
                at=now,
                actor=officer.username,
                action="view_referral",
                target=f"transaction:{transaction_id}",
            )
        return {**_referral_dict(row), "transaction": event, "portraits": sorted(kinds)}

    return await run_in_threadpool(work)


class DecisionRequest(BaseModel):
    decision: Decision
    note: Annotated[str, Field(max_length=500)] = ""


@router.post(
    "/referrals/{transaction_id}/decision",
    summary="Decide a referral; the lane releases the exit or the entry",
    responses={**AUTH, **NOT_FOUND, **CONFLICT},
)
async def decide_referral(
    transaction_id: Annotated[str, Path(max_length=64)],
    body: DecisionRequest,
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_officer),
) -> dict[str, Any]:
    """Sends a ``referral_decision`` command (args: transaction_id, decision, release
    exit|entry, note) to the lane and writes the decision to the audit log."""

    def work() -> dict[str, Any]:
        now = central.now()
        with central.db.write() as conn:
            row = conn.execute(
                select(referrals).where(referrals.c.transaction_id == transaction_id)
            ).first()
            if row is None:
                raise NotFound(f"no referral for transaction {transaction_id}")
            if row.status != "pending":
                raise Conflict(
                    f"referral {transaction_id} was already decided "
                    f"({row.decision} by {row.decided_by})"
                )
            cmd = command_model.issue(
                conn,
                central.hub,
                lane_id=row.lane_id,
                action=CommandAction.REFERRAL_DECISION,
                args={
                    "transaction_id": transaction_id,
                    "decision": body.decision,
                    "release": RELEASE[body.decision],
                    "note": body.note,
                },
                issued_by=officer.username,
                now=now,
                ttl_seconds=central.config.lanes.command_ttl_seconds,
            )
            done = conn.execute(
                update(referrals)
                .where(
                    referrals.c.transaction_id == transaction_id, referrals.c.status == "pending"
                )
                .values(
                    status="decided",
                    decision=body.decision,
                    note=body.note,
                    decided_by=officer.username,
                    decided_at=now,
                    command_id=cmd["command_id"],
                )
            )
            if done.rowcount != 1:
                raise Conflict(f"referral {transaction_id} was decided meanwhile")
            audit.append(
                conn,
                at=now,
                actor=officer.username,
                action="referral_decision",
                target=f"transaction:{transaction_id}",
                detail={
                    "decision": body.decision,
                    "note": body.note,
                    "command_id": cmd["command_id"],
                    "lane_id": row.lane_id,
                },
            )
            new = conn.execute(
                select(referrals).where(referrals.c.transaction_id == transaction_id)
            ).one()
            out = _referral_dict(new)
            central.hub.publish(conn, "referral", out)
        return {**out, "command": cmd}

    return await run_in_threadpool(work)


# --------------------------------------------------------------------------- portraits

JPEG_MAGIC = b"\xff\xd8\xff"
PortraitKind = Literal["chip", "live"]
REFERRAL = "referral"
FOREIGN_NATIONAL_RECORD = "foreign_national_record"
RECORD_REASON = "POLICY_FOREIGN_NATIONAL_RECORD"


def portrait_purpose(decision: str, reasons: list[str], kind: str) -> str | None:
    """Why central keeps this portrait, or None when it must refuse it: both portraits of a
    referred transaction (officer review, ``[retention] portrait_hours``); the live portrait
    of an accepted traveller the lane's policy keeps as the foreign-national record (kept as
    long as the transaction, ``transaction_days``)."""
    if decision == "referred":
        return REFERRAL
    if decision == "accepted" and kind == "live" and RECORD_REASON in reasons:
        return FOREIGN_NATIONAL_RECORD
    return None


@router.put(
    "/portraits/{transaction_id}/{kind}",
    status_code=201,
    tags=["lanes"],
    summary="Upload a portrait of a referred transaction or a foreign-national record (lane)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
    responses={
        401: {"description": "lane credential not valid"},
        403: {"description": "transaction of another lane, or no portrait is kept for it"},
        404: {"description": "transaction not known yet: send its event first"},
        413: {"description": "larger than [ingest] max_portrait_bytes"},
        415: {"description": "not a JPEG"},
    },
)
async def upload_portrait(
    transaction_id: Annotated[str, Path(max_length=64)],
    kind: PortraitKind,
    request: Request,
    central: Central = Depends(get_central),
    lane_id: str = Depends(require_lane),
) -> dict[str, Any]:
    """For referred transactions (both portraits; deleted ``[retention] portrait_hours``
    after upload) and the live portrait of an accepted transaction with reason
    ``POLICY_FOREIGN_NATIONAL_RECORD`` (kept ``transaction_days``). Stored apart from the
    events."""
    data = await read_limited(request, central.config.ingest.max_portrait_bytes, "portrait")
    if not data.startswith(JPEG_MAGIC):
        raise HTTPException(415, "portraits must be JPEG (image/jpeg)")

    def work() -> dict[str, Any]:
        now = central.now()
        with central.db.write() as conn:
            tx = conn.execute(
                select(
                    transactions.c.lane_id, transactions.c.decision, transactions.c.reasons
                ).where(transactions.c.transaction_id == transaction_id)
            ).first()
            if tx is None:
                raise NotFound(f"transaction {transaction_id} is not known; send its event first")
            if tx.lane_id != lane_id:
                raise HTTPException(403, f"transaction {transaction_id} is not from {lane_id}")
            purpose = portrait_purpose(tx.decision, loads(tx.reasons, []), kind)
            if purpose is None:
                raise HTTPException(
                    403,
                    "portraits are kept only for referred transactions, and the live portrait "
                    f"of an accepted one with reason {RECORD_REASON}",
                )
            conn.execute(
                portraits.delete().where(
                    portraits.c.transaction_id == transaction_id, portraits.c.kind == kind
                )
            )
            conn.execute(
                portraits.insert().values(
                    transaction_id=transaction_id,
                    kind=kind,
                    lane_id=lane_id,
                    content_type="image/jpeg",
                    content=data,
                    sha256=hashlib.sha256(data).hexdigest(),
                    stored_at=now,
                    purpose=purpose,
                )
            )
        return {
            "transaction_id": transaction_id,
            "kind": kind,
            "bytes": len(data),
            "purpose": purpose,
        }

    return await run_in_threadpool(work)


@router.get(
    "/referrals/{transaction_id}/portraits/{kind}",
    summary="A portrait of a referred transaction (audited)",
    response_class=Response,
    responses={**AUTH, **NOT_FOUND, 200: {"content": {"image/jpeg": {}}}},
)
async def get_portrait(
    transaction_id: Annotated[str, Path(max_length=64)],
    kind: PortraitKind,
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_officer),
) -> Response:
    data = await run_in_threadpool(_read_portrait, central, officer, transaction_id, kind, REFERRAL)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get(
    "/transactions/{transaction_id}/portraits/{kind}",
    summary="The foreign-national record portrait of an accepted transaction (supervisor, audited)",
    response_class=Response,
    responses={**AUTH, **NOT_FOUND, 200: {"content": {"image/jpeg": {}}}},
)
async def get_record_portrait(
    transaction_id: Annotated[str, Path(max_length=64)],
    kind: PortraitKind,
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_supervisor),
) -> Response:
    data = await run_in_threadpool(
        _read_portrait, central, officer, transaction_id, kind, FOREIGN_NATIONAL_RECORD
    )
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


def _read_portrait(
    central: Central, officer: Officer, transaction_id: str, kind: str, purpose: str
) -> bytes:
    """The portrait, with an audit entry naming who saw it and why it is kept."""
    now = central.now()
    with central.db.write() as conn:
        row = conn.execute(
            select(portraits.c.content).where(
                portraits.c.transaction_id == transaction_id,
                portraits.c.kind == kind,
                portraits.c.purpose == purpose,
            )
        ).first()
        if row is None:
            raise NotFound(
                f"no {kind} portrait ({purpose}) for transaction {transaction_id} "
                "(never sent, or deleted after the retention period)"
            )
        audit.append(
            conn,
            at=now,
            actor=officer.username,
            action="view_portrait",
            target=f"transaction:{transaction_id}",
            detail={"kind": kind, "purpose": purpose},
        )
    return bytes(row.content)


# --------------------------------------------------------------------------- transactions


@router.get("/transactions", summary="Recent transactions (no personal data)", responses=AUTH)
async def list_transactions(
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_officer),
    lane_id: Annotated[str | None, Query(max_length=64)] = None,
    decision: Annotated[
        str | None, Query(pattern=r"^(accepted|rejected|referred|aborted)$")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        q = select(transactions).order_by(transactions.c.occurred_at.desc()).limit(limit)
        if lane_id:
            q = q.where(transactions.c.lane_id == lane_id)
        if decision:
            q = q.where(transactions.c.decision == decision)
        with central.db.read() as conn:
            return {
                "transactions": [
                    {
                        "transaction_id": r.transaction_id,
                        "lane_id": r.lane_id,
                        "port": r.port,
                        "direction": r.direction,
                        "occurred_at": r.occurred_at,
                        "decision": r.decision,
                        "reasons": json.loads(r.reasons),
                        "duration_ms": r.duration_ms,
                        "face_similarity": r.face_similarity,
                    }
                    for r in conn.execute(q)
                ]
            }

    return await run_in_threadpool(work)


@router.get(
    "/transactions/{transaction_id}",
    summary="One transaction with its document summary (audited)",
    responses={**AUTH, **NOT_FOUND},
)
async def transaction_detail(
    transaction_id: Annotated[str, Path(max_length=64)],
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_officer),
) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        with central.db.write() as conn:
            event = _transaction_event(conn, transaction_id)
            _visible_document(event, officer)
            audit.append(
                conn,
                at=central.now(),
                actor=officer.username,
                action="view_transaction",
                target=f"transaction:{transaction_id}",
            )
        return event

    return await run_in_threadpool(work)


# --------------------------------------------------------------------------- audit


@router.get("/audit", summary="The audit log, newest first (supervisor)", responses=AUTH)
async def list_audit(
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_supervisor),
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    target: Annotated[str | None, Query(max_length=128)] = None,
    since: Annotated[float | None, Query(ge=0, le=1e11, description="epoch seconds")] = None,
    until: Annotated[float | None, Query(ge=0, le=1e11, description="epoch seconds")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        q = select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit)
        for column, value in (
            (audit_log.c.actor, actor),
            (audit_log.c.action, action),
            (audit_log.c.target, target),
        ):
            if value:
                q = q.where(column == value)
        if since is not None:
            q = q.where(audit_log.c.at >= since)
        if until is not None:
            q = q.where(audit_log.c.at < until)
        with central.db.read() as conn:
            return {
                "entries": [
                    {
                        "seq": r.seq,
                        "at": r.at,
                        "actor": r.actor,
                        "action": r.action,
                        "target": r.target,
                        "detail": json.loads(r.detail),
                        "hash": r.hash,
                    }
                    for r in conn.execute(q)
                ]
            }

    return await run_in_threadpool(work)


@router.get("/audit/verify", summary="Verify the audit hash chain (supervisor)", responses=AUTH)
async def verify_audit(
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_supervisor),
) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        with central.db.read() as conn:
            return audit.verify(conn).as_dict()

    return await run_in_threadpool(work)
