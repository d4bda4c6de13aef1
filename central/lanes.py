"""Lane routes: ingest, heartbeat, command long poll and acknowledgement (lane credential);
registration, credential rotation, status and commands (officers)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import bindparam, func, select, update
from starlette.concurrency import run_in_threadpool

from central import alarms as alarm_model
from central import audit
from central import commands as command_model
from central.db import commands, lanes, outages, transactions
from central.deps import (
    LANE_AUTH,
    OFFICER_AUTH,
    Central,
    get_central,
    read_limited,
    require_admin,
    require_lane,
    require_officer,
    require_supervisor,
    same_lane,
)
from central.errors import Conflict, InvalidRequest, NotFound
from central.group import GroupCommit
from central.ingest import (
    ForeignLane,
    ingest_many,
    lane_dict,
    lane_status,
    publish_lane,
    sequence_gaps,
)
from central.security import Officer, issue_lane_credential, revoke_lane_credentials
from gate.events import CommandAck, CommandAction, Heartbeat, LaneId

router = APIRouter(prefix="/api/v1", tags=["lanes"])

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
    metrics = central.metrics
    if central.inflight >= cfg.max_concurrent_batches:
        metrics.batches.labels("429").inc()
        return JSONResponse(
            {"detail": "central is busy; retry later"},
            status_code=429,
            headers={"Retry-After": str(cfg.retry_after_seconds)},
        )
    central.inflight += 1
    try:
        raw = await read_limited(request, cfg.max_batch_bytes, "batch (send fewer events)")
        try:
            body = orjson.loads(raw)
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
        group = central.extras.get("ingest")
        if group is None:
            group = central.extras.setdefault(
                "ingest",
                GroupCommit(
                    lambda batches: ingest_many(central.db, central.hub, central.config, batches)
                ),
            )
        try:
            result = await group.submit((lane_id, items, now))
        except ForeignLane as exc:
            raise HTTPException(403, str(exc)) from None
        except InvalidRequest as exc:
            raise HTTPException(403, str(exc)) from None
    finally:
        central.inflight -= 1
    metrics.batches.labels("200").inc()
    metrics.events.labels("accepted").inc(len(result.accepted))
    metrics.events.labels("duplicate").inc(len(result.duplicates))
    metrics.events.labels("rejected").inc(len(result.rejected))
    total = sum(result.timings.values())
    metrics.ingest_seconds.observe(total)
    for stage, seconds in result.timings.items():
        metrics.ingest_stage_seconds.labels(stage).inc(seconds)
    # serialised here: FastAPI would validate the answer against IngestResponse once more
    return Response(orjson.dumps(result.as_dict()), media_type="application/json")


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
    group = central.extras.get("heartbeats")
    if group is None:
        group = central.extras.setdefault(
            "heartbeats", GroupCommit(lambda items: apply_heartbeats(central, items))
        )
    await group.submit((lane_id, body, now))
    central.metrics.heartbeats.inc()
    return HeartbeatResponse(
        server_time=command_model.iso(now) or "",
        period_seconds=central.config.lanes.heartbeat_period_seconds,
    )


def apply_heartbeats(central: Central, items: Sequence[tuple[str, Heartbeat, float]]) -> list[None]:
    """Store heartbeats (lane, body, time) in one transaction: lane state, back online (with
    the end of its outage and of its offline alarm), doors forced or opened by hand; a live
    ``lane`` message for each lane whose visible state changed."""
    # what the lane tile and page show; outbox_depth is left out (it changes at every beat)
    seen: dict[str, tuple[str, ...]] = central.extras.setdefault("lane_seen", {})
    rows = []
    visible: dict[str, tuple[str, ...]] = {}
    forced: dict[str, tuple[list[str], float]] = {}
    for lane_id, body, now in items:
        devices = orjson.dumps(
            {k: v.value for k, v in body.devices.items()}, option=orjson.OPT_SORT_KEYS
        ).decode()
        doors = orjson.dumps(dict(body.doors), option=orjson.OPT_SORT_KEYS).decode()
        lists = orjson.dumps(
            body.lists.model_dump(exclude_none=True), option=orjson.OPT_SORT_KEYS
        ).decode()
        visible[lane_id] = (
            body.state.value,
            body.step,
            devices,
            doors,
            lists,
            body.trust_store or "",
        )
        rows.append(
            {
                "b_lane": lane_id,
                "b_state": body.state.value,
                "b_step": body.step,
                "b_devices": devices,
                "b_doors": doors,
                "b_outbox": body.outbox_depth,
                "b_lists": lists,
                "b_trust": body.trust_store,
                "b_at": now,
            }
        )
        doors_open = sorted(d for d, st in body.doors.items() if st in ("forced", "manual"))
        if doors_open:
            forced[lane_id] = (doors_open, now)
    lane_ids = sorted(visible)
    rows.sort(key=lambda r: str(r["b_lane"]))  # stable; one lock order for every process
    with central.db.write() as conn:
        # flips offline -> online exactly once, also with several central processes
        came_back = set(
            conn.execute(
                update(lanes)
                .where(lanes.c.lane_id.in_(lane_ids), lanes.c.online.is_(False))
                .values(online=True)
                .returning(lanes.c.lane_id)
            ).scalars()
        )
        conn.execute(
            update(lanes)
            .where(lanes.c.lane_id == bindparam("b_lane"))
            .values(
                state=bindparam("b_state"),
                step=bindparam("b_step"),
                devices=bindparam("b_devices"),
                doors=bindparam("b_doors"),
                outbox_depth=bindparam("b_outbox"),
                lists=bindparam("b_lists"),
                trust_store=bindparam("b_trust"),
                last_heartbeat_at=bindparam("b_at"),
            ),
            rows,
        )
        now = max(at for _, _, at in items)
        for lane_id in sorted(came_back):
            conn.execute(
                update(outages)
                .where(outages.c.lane_id == lane_id, outages.c.ended_at.is_(None))
                .values(ended_at=now)
            )
            alarm_model.clear_condition(
                conn, central.hub, lane_id=lane_id, kind=alarm_model.LANE_OFFLINE, now=now
            )
        for lane_id, (doors_open, at) in sorted(forced.items()):
            alarm_model.raise_alarm(
                conn,
                central.hub,
                lane_id=lane_id,
                kind=alarm_model.FORCED_DOOR,
                severity="critical",
                now=at,
                detail=f"door opened by force or by hand: {', '.join(doors_open)}",
            )
        changed = [i for i in lane_ids if i in came_back or seen.get(i) != visible[i]]
        if changed:
            for row in conn.execute(select(lanes).where(lanes.c.lane_id.in_(changed))):
                central.hub.publish(conn, "lane", lane_status(row))
    seen.update(visible)
    return [None] * len(items)


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
        central.metrics.commands.labels("delivered").inc(len(rows))
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
    central.metrics.commands.labels("acknowledged").inc()
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
            item["transactions"] = [_timeline(json.loads(p)) for p in recent]
            cmds = conn.execute(
                select(commands)
                .where(commands.c.lane_id == lane_id)
                .order_by(commands.c.issued_at.desc())
                .limit(20)
            ).all()
            item["commands"] = [command_model.command_dict(c) for c in cmds]
        return item

    try:
        return await run_in_threadpool(work)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None


def _timeline(event: dict[str, Any]) -> dict[str, Any]:
    """A transaction event for the lane timeline: as sent (document without fingerprint),
    plus ``duration_ms`` from the first to the last stage."""
    # stored events were validated at ingest: every stage has an ISO 8601 "at"
    times = [datetime.fromisoformat(s["at"]).timestamp() for s in event.get("stages", [])]
    event["duration_ms"] = round((max(times) - min(times)) * 1000, 1) if len(times) > 1 else None
    if isinstance(event.get("document"), dict):
        event["document"].pop("fingerprint", None)
    return event


class CommandRequest(BaseModel):
    action: CommandAction
    args: dict[str, Any] = Field(default_factory=dict)
    ttl_seconds: Annotated[int, Field(ge=1, le=3600)] | None = None
    note: Annotated[str, Field(max_length=500)] = ""


@router.post(
    "/lanes/{lane_id}/commands",
    status_code=201,
    summary="Send a command to a lane (supervisor)",
    responses={
        **OFFICER_AUTH,
        400: {"description": "a referral decision (use its route), or args too large"},
        404: {"description": "no such lane"},
    },
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
        raise HTTPException(400, "use POST /api/v1/referrals/{transaction_id}/decision")
    if len(json.dumps(body.args)) > 4000:
        raise HTTPException(400, "args larger than 4000 bytes")

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
    central.metrics.commands.labels("queued").inc()
    return out


@router.get("/commands", summary="Recent commands and their results", responses=OFFICER_AUTH)
async def list_commands(
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_officer),
    lane_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
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
    metrics = central.metrics
    metrics.lanes_online.set(sum(int(c) for o, c in counts if o))
    metrics.lanes_offline.set(sum(int(c) for o, c in counts if not o))
    return [lane_id for lane_id, _ in gone]
