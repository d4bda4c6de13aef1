"""Lane routes: ingest, heartbeat, command long poll and acknowledgement (lane credential);
registration, credential rotation, status and commands (officers)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select, update
from starlette.concurrency import run_in_threadpool

from central import alarms as alarm_model
from central import audit
from central import commands as command_model
from central.db import lanes, outages, transactions
from central.deps import (
    Central,
    get_central,
    require_admin,
    require_lane,
    require_officer,
    require_supervisor,
    same_lane,
)
from central.errors import Conflict, InvalidRequest, NotFound
from central.ingest import ForeignLane, ingest, lane_dict, publish_lane, sequence_gaps
from central.security import Officer, issue_lane_credential, revoke_lane_credentials
from gate.events import CommandAck, CommandAction, Heartbeat, LaneId, LaneState

router = APIRouter(prefix="/api/v1", tags=["lanes"])

Responses = dict[int | str, dict[str, Any]]
LANE_AUTH: Responses = {
    401: {"description": "lane credential missing, unknown, revoked or expired"},
    403: {"description": "the credential belongs to another lane"},
}
OFFICER_AUTH: Responses = {
    401: {"description": "not logged in"},
    403: {"description": "role too low, or CSRF token missing"},
}

INGEST_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["events"],
                "properties": {
                    "events": {
                        "type": "array",
                        "maxItems": 1000,
                        "items": {"type": "object"},
                        "description": "events in the shared schema (docs/events.md)",
                    }
                },
            }
        }
    },
}


class IngestRejection(BaseModel):
    index: int
    event_id: str | None
    reason: str


class IngestResponse(BaseModel):
    accepted: list[str]
    duplicates: list[str]
    rejected: list[IngestRejection]


async def _read_limited(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise HTTPException(413, f"batch larger than {limit} bytes; send fewer events per batch")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"batch larger than {limit} bytes; send fewer events")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/ingest/events",
    summary="Send a batch of lane events",
    response_model=IngestResponse,
    openapi_extra={"requestBody": INGEST_BODY},
    responses={
        **LANE_AUTH,
        400: {"description": "body is not a JSON object with events"},
        413: {"description": "too many events or bytes in the batch"},
        429: {"description": "busy: retry after Retry-After seconds"},
    },
)
async def ingest_events(
    request: Request,
    central: Central = Depends(get_central),
    lane_id: str = Depends(require_lane),
) -> Any:
    """Idempotent by ``event_id``: a resent event is listed in ``duplicates`` and changes
    nothing. A bad event is listed in ``rejected`` with its index and reason; the rest is kept.
    """
    cfg = central.config.ingest
    metrics = central.extras["metrics"]
    if central.extras["inflight"] >= cfg.max_concurrent_batches:
        metrics.batches.labels("429").inc()
        return JSONResponse(
            {"detail": "central is busy; retry later"},
            status_code=429,
            headers={"Retry-After": str(cfg.retry_after_seconds)},
        )
    central.extras["inflight"] += 1
    try:
        raw = await _read_limited(request, cfg.max_batch_bytes)
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            raise HTTPException(400, "body is not valid JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("events"), list):
            raise HTTPException(400, 'body must be a JSON object {"events": [...]}')
        items = body["events"]
        if len(items) > cfg.max_batch_events:
            raise HTTPException(
                413, f"{len(items)} events in one batch; at most {cfg.max_batch_events}"
            )
        now = central.now()
        try:
            result = await run_in_threadpool(
                ingest, central.db, central.hub, central.config, lane_id, items, now
            )
        except ForeignLane as exc:
            raise HTTPException(403, str(exc)) from None
        except InvalidRequest as exc:
            raise HTTPException(403, str(exc)) from None
    finally:
        central.extras["inflight"] -= 1
    metrics.batches.labels("200").inc()
    metrics.events.labels("accepted").inc(len(result.accepted))
    metrics.events.labels("duplicate").inc(len(result.duplicates))
    metrics.events.labels("rejected").inc(len(result.rejected))
    total = sum(result.timings.values())
    metrics.ingest_seconds.observe(total)
    for stage, seconds in result.timings.items():
        metrics.ingest_stage_seconds.labels(stage).inc(seconds)
    return result.as_dict()


class HeartbeatResponse(BaseModel):
    server_time: str
    period_seconds: float


@router.post(
    "/lanes/{lane_id}/heartbeat",
    summary="Lane heartbeat with state and devices",
    responses=LANE_AUTH,
)
async def heartbeat(
    lane_id: LaneId,
    body: Heartbeat,
    central: Central = Depends(get_central),
    token_lane: str = Depends(require_lane),
) -> HeartbeatResponse:
    """A lane silent for ``offline_after_periods`` periods is shown offline and raises an
    alarm; its next heartbeat brings it back."""
    same_lane(lane_id, token_lane)
    now = central.now()

    def work() -> None:
        devices = json.dumps(
            {k: v.value for k, v in sorted(body.devices.items())}, separators=(",", ":")
        )
        doors = json.dumps(dict(sorted(body.doors.items())), separators=(",", ":"))
        lists = json.dumps(
            body.lists.model_dump(exclude_none=True), separators=(",", ":"), sort_keys=True
        )
        with central.db.write() as conn:
            row = conn.execute(select(lanes).where(lanes.c.lane_id == lane_id)).one()
            visible = (row.state, row.step, row.devices, row.doors, bool(row.online))
            conn.execute(
                update(lanes)
                .where(lanes.c.lane_id == lane_id)
                .values(
                    state=body.state.value,
                    step=body.step,
                    devices=devices,
                    doors=doors,
                    outbox_depth=body.outbox_depth,
                    lists=lists,
                    trust_store=body.trust_store,
                    last_heartbeat_at=now,
                    online=True,
                )
            )
            if not row.online:
                conn.execute(
                    update(outages)
                    .where(outages.c.lane_id == lane_id, outages.c.ended_at.is_(None))
                    .values(ended_at=now)
                )
                alarm_model.clear_condition(
                    conn, central.hub, lane_id=lane_id, kind=alarm_model.LANE_OFFLINE, now=now
                )
            forced = sorted(d for d, s in body.doors.items() if s in ("forced", "manual"))
            if forced:
                alarm_model.raise_alarm(
                    conn,
                    central.hub,
                    lane_id=lane_id,
                    kind=alarm_model.FORCED_DOOR,
                    severity="critical",
                    now=now,
                    detail=f"door opened by force or by hand: {', '.join(forced)}",
                )
            if visible != (body.state.value, body.step, devices, doors, True):
                publish_lane(conn, central.hub, lane_id)

    await run_in_threadpool(work)
    central.extras["metrics"].heartbeats.inc()
    return HeartbeatResponse(
        server_time=command_model.iso(now) or "",
        period_seconds=central.config.lanes.heartbeat_period_seconds,
    )


class CommandOut(BaseModel):
    command_id: str
    action: CommandAction
    args: dict[str, Any]
    issued_at: str
    expires_at: str


class CommandsResponse(BaseModel):
    commands: list[CommandOut]


@router.get(
    "/lanes/{lane_id}/commands", summary="Long poll for the lane's commands", responses=LANE_AUTH
)
async def fetch_commands(
    lane_id: LaneId,
    central: Central = Depends(get_central),
    token_lane: str = Depends(require_lane),
    wait: Annotated[float, Query(ge=0, le=120, description="seconds to wait for a command")] = 0,
) -> CommandsResponse:
    """Each command is delivered once; never execute one at or after its ``expires_at``."""
    same_lane(lane_id, token_lane)
    hub = central.hub
    sub = hub.subscribe(
        {"command"}, lambda m: m.data.get("lane_id") == lane_id and m.data.get("status") == "queued"
    )
    try:

        def take() -> list[Any]:
            with central.db.write() as conn:
                return command_model.deliver(conn, hub, lane_id, central.now())

        rows = await run_in_threadpool(take)
        deadline = asyncio.get_running_loop().time() + min(
            wait, central.config.lanes.long_poll_max_seconds
        )
        while not rows:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sub.queue.get(), timeout=remaining)
            rows = await run_in_threadpool(take)
    finally:
        hub.unsubscribe(sub)
    if rows:
        central.extras["metrics"].commands.labels("delivered").inc(len(rows))
    return CommandsResponse(commands=[CommandOut(**command_model.wire(r)) for r in rows])


@router.post(
    "/lanes/{lane_id}/commands/{command_id}/ack",
    summary="Acknowledge a command with the lane's result",
    responses={
        **LANE_AUTH,
        404: {"description": "no such command for this lane"},
        409: {"description": "not delivered, or acknowledged differently"},
    },
)
async def ack_command(
    lane_id: LaneId,
    command_id: Annotated[str, Path(max_length=64)],
    body: CommandAck,
    central: Central = Depends(get_central),
    token_lane: str = Depends(require_lane),
) -> dict[str, Any]:
    same_lane(lane_id, token_lane)

    def work() -> dict[str, Any]:
        with central.db.write() as conn:
            return command_model.acknowledge(
                conn,
                central.hub,
                lane_id=lane_id,
                command_id=command_id,
                result=body.result,
                detail=body.detail,
                now=central.now(),
            )

    try:
        out = await run_in_threadpool(work)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    central.extras["metrics"].commands.labels("acknowledged").inc()
    return out


# --------------------------------------------------------------------------- officers


class LaneRegistration(BaseModel):
    lane_id: LaneId
    name: Annotated[str, Field(max_length=128)] = ""
    port: Annotated[str, Field(max_length=16, pattern=r"^[A-Za-z0-9_-]*$")] = ""
    terminal: Annotated[str, Field(max_length=32)] = ""
    direction: Annotated[str, Field(pattern=r"^(arrival|departure|both)$")] = "arrival"


class LaneCredential(BaseModel):
    lane_id: str
    token: str
    note: str


@router.post(
    "/lanes",
    status_code=201,
    summary="Register a lane (admin); returns its token once",
    responses={**OFFICER_AUTH, 409: {"description": "lane exists already"}},
)
async def register_lane_route(
    body: LaneRegistration,
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_admin),
) -> LaneCredential:
    """The token is shown only in this response; only its hash is stored."""
    try:
        token = await run_in_threadpool(register_lane, central, body, officer.username)
    except Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    return LaneCredential(
        lane_id=body.lane_id, token=token, note="shown once: put it in the lane's [central] token"
    )


def register_lane(central: Central, body: LaneRegistration, actor: str) -> str:
    now = central.now()
    with central.db.write() as conn:
        if conn.execute(select(lanes.c.lane_id).where(lanes.c.lane_id == body.lane_id)).first():
            raise Conflict(f"lane {body.lane_id!r} is registered already; rotate its credential")
        conn.execute(
            lanes.insert().values(
                lane_id=body.lane_id,
                name=body.name or body.lane_id,
                port=body.port.upper(),
                terminal=body.terminal,
                direction=body.direction,
                registered_at=now,
                registered_by=actor,
                state="unknown",
                step="",
                devices="{}",
                doors="{}",
                outbox_depth=0,
                lists="{}",
                online=False,
            )
        )
        token = issue_lane_credential(conn, body.lane_id, now)
        audit.append(
            conn,
            at=now,
            actor=actor,
            action="lane_registered",
            target=body.lane_id,
            detail=body.model_dump(),
        )
        publish_lane(conn, central.hub, body.lane_id)
    return token


@router.post(
    "/lanes/{lane_id}/credentials",
    status_code=201,
    summary="Rotate a lane's credential (admin); the old one works for the grace period",
    responses={**OFFICER_AUTH, 404: {"description": "no such lane"}},
)
async def rotate_credential(
    lane_id: LaneId,
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_admin),
    revoke_old: Annotated[bool, Query(description="end the old credentials now")] = False,
) -> LaneCredential:
    def work() -> str:
        now = central.now()
        grace = 0.0 if revoke_old else central.config.security.credential_grace_hours * 3600.0
        with central.db.write() as conn:
            if not conn.execute(select(lanes.c.lane_id).where(lanes.c.lane_id == lane_id)).first():
                raise NotFound(f"lane {lane_id!r} is not registered")
            if revoke_old:
                revoke_lane_credentials(conn, lane_id, now)
            token = issue_lane_credential(conn, lane_id, now, grace_seconds=grace)
            audit.append(
                conn,
                at=now,
                actor=officer.username,
                action="lane_credential_rotated",
                target=lane_id,
                detail={"revoke_old": revoke_old},
            )
        central.forget_lane_tokens()
        return token

    try:
        token = await run_in_threadpool(work)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    return LaneCredential(lane_id=lane_id, token=token, note="shown once")


def _throughput(conn: Any, since: float) -> dict[str, int]:
    rows = conn.execute(
        select(transactions.c.lane_id, func.count())
        .where(transactions.c.occurred_at >= since)
        .group_by(transactions.c.lane_id)
    ).all()
    return {r[0]: int(r[1]) for r in rows}


def _open_alarms(conn: Any) -> dict[str, int]:
    from central.db import alarms

    rows = conn.execute(
        select(alarms.c.lane_id, func.count())
        .where(alarms.c.state.in_(("active", "shelved", "acknowledged")))
        .group_by(alarms.c.lane_id)
    ).all()
    return {r[0]: int(r[1]) for r in rows}


@router.get(
    "/lanes", summary="Every lane with its state, devices and throughput", responses=OFFICER_AUTH
)
async def list_lanes(
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_officer),
) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        now = central.now()
        with central.db.read() as conn:
            rows = conn.execute(
                select(lanes).order_by(lanes.c.port, lanes.c.terminal, lanes.c.lane_id)
            ).all()
            hour = _throughput(conn, now - 3600)
            open_alarms = _open_alarms(conn)
        out = []
        for row in rows:
            item = lane_dict(row, central.config)
            item["passages_last_hour"] = hour.get(row.lane_id, 0)
            item["open_alarms"] = open_alarms.get(row.lane_id, 0)
            out.append(item)
        return {"lanes": out, "server_time": command_model.iso(now)}

    return await run_in_threadpool(work)


@router.get(
    "/lanes/{lane_id}",
    summary="One lane: status, sequence gaps, recent transactions",
    responses={**OFFICER_AUTH, 404: {"description": "no such lane"}},
)
async def lane_detail(
    lane_id: LaneId,
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_officer),
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    from central.db import events

    def work() -> dict[str, Any]:
        with central.db.read() as conn:
            row = conn.execute(select(lanes).where(lanes.c.lane_id == lane_id)).first()
            if row is None:
                raise NotFound(f"lane {lane_id!r} is not registered")
            item = lane_dict(row, central.config)
            item["sequence_gaps"] = [
                {"first": a, "last": b} for a, b in sequence_gaps(conn, lane_id)
            ]
            recent = (
                conn.execute(
                    select(events.c.payload)
                    .where(events.c.lane_id == lane_id, events.c.type == "transaction")
                    .order_by(events.c.occurred_at.desc())
                    .limit(limit)
                )
                .scalars()
                .all()
            )
            item["recent_transactions"] = [json.loads(p) for p in recent]
        return item

    try:
        return await run_in_threadpool(work)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None


class CommandRequest(BaseModel):
    action: CommandAction
    args: dict[str, Any] = Field(default_factory=dict)
    ttl_seconds: Annotated[int, Field(ge=1, le=3600)] | None = None
    note: Annotated[str, Field(max_length=500)] = ""


@router.post(
    "/lanes/{lane_id}/commands",
    status_code=201,
    summary="Send a command to a lane (supervisor)",
    responses={**OFFICER_AUTH, 404: {"description": "no such lane"}},
)
async def send_command(
    lane_id: LaneId,
    body: CommandRequest,
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_supervisor),
) -> dict[str, Any]:
    """Expires after ``ttl_seconds`` (default ``[lanes] command_ttl_seconds``) if no lane
    fetched it. Referral decisions go through ``/api/v1/referrals/{id}/decision`` instead."""
    if body.action == CommandAction.REFERRAL_DECISION:
        raise HTTPException(422, "use POST /api/v1/referrals/{transaction_id}/decision")
    if len(json.dumps(body.args)) > 4000:
        raise HTTPException(422, "args larger than 4000 bytes")

    def work() -> dict[str, Any]:
        now = central.now()
        with central.db.write() as conn:
            if not conn.execute(select(lanes.c.lane_id).where(lanes.c.lane_id == lane_id)).first():
                raise NotFound(f"lane {lane_id!r} is not registered")
            out = command_model.issue(
                conn,
                central.hub,
                lane_id=lane_id,
                action=body.action,
                args=body.args,
                issued_by=officer.username,
                now=now,
                ttl_seconds=body.ttl_seconds or central.config.lanes.command_ttl_seconds,
            )
            audit.append(
                conn,
                at=now,
                actor=officer.username,
                action=f"command_{body.action}",
                target=lane_id,
                detail={"command_id": out["command_id"], "args": body.args, "note": body.note},
            )
        return out

    try:
        out = await run_in_threadpool(work)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    central.extras["metrics"].commands.labels("queued").inc()
    return out


@router.get("/commands", summary="Recent commands and their results", responses=OFFICER_AUTH)
async def list_commands(
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_officer),
    lane_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    from central.db import commands

    def work() -> dict[str, Any]:
        q = select(commands).order_by(commands.c.issued_at.desc()).limit(limit)
        if lane_id:
            q = q.where(commands.c.lane_id == lane_id)
        with central.db.read() as conn:
            return {"commands": [command_model.command_dict(r) for r in conn.execute(q)]}

    return await run_in_threadpool(work)


def detect_offline(central: Central) -> list[str]:
    """Mark lanes silent for the configured periods offline and raise their alarm."""
    now = central.now()
    lanes_cfg = central.config.lanes
    limit = now - lanes_cfg.offline_after_periods * lanes_cfg.heartbeat_period_seconds
    with central.db.write() as conn:
        gone = conn.execute(
            update(lanes)
            .where(lanes.c.online.is_(True), lanes.c.last_heartbeat_at < limit)
            .values(online=False)
            .returning(lanes.c.lane_id, lanes.c.last_heartbeat_at)
        ).all()
        for lane_id, last in gone:
            conn.execute(outages.insert().values(lane_id=lane_id, started_at=last))
            alarm_model.raise_alarm(
                conn,
                central.hub,
                lane_id=lane_id,
                kind=alarm_model.LANE_OFFLINE,
                severity="critical",
                now=now,
                detail=f"no heartbeat for {now - last:.0f} s "
                f"({lanes_cfg.offline_after_periods} periods)",
            )
            publish_lane(conn, central.hub, lane_id)
        counts = conn.execute(select(lanes.c.online, func.count()).group_by(lanes.c.online)).all()
    metrics = central.extras["metrics"]
    metrics.lanes_online.set(sum(int(c) for o, c in counts if o))
    metrics.lanes_offline.set(sum(int(c) for o, c in counts if not o))
    return [lane_id for lane_id, _ in gone]


def lane_state_names() -> list[str]:
    return [s.value for s in LaneState]
