"""A minimal central service for exercising lanes: the lane side of the contract, no more.

It implements the lane <-> central HTTP contract (COORDINATION.md) in memory with idempotent
ingest on ``event_id``, records everything it receives (so tests count at the receiving side),
queues officer commands for the long poll, stores portraits and serves versioned lists. Faults
can be injected: failing requests with a status, answering 429 with ``Retry-After``, losing the
answer after the events were stored (the lane must resend; central must not double them), and a
delay per request.

It is not the central service (``central/``): no database, no officers, no dashboard.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from gate.events import EventSchemaError, parse_event


@dataclass
class Faults:
    fail_next: int = 0
    fail_status: int = 503
    busy_next: int = 0
    retry_after: float = 1.0
    lose_answer_next: int = 0
    """Store the events, then answer 500: the lane must resend and central must deduplicate."""
    delay_seconds: float = 0.0


@dataclass
class CentralStub:
    token: str = "test-token"
    lane_id: str = "lane-1"
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    received: Counter[str] = field(default_factory=Counter)
    """How many times each event_id arrived (duplicates included)."""
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    acks: dict[str, dict[str, Any]] = field(default_factory=dict)
    portraits: dict[tuple[str, str], bytes] = field(default_factory=dict)
    lists: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    requests: int = 0
    _commands: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def command(self, action: str, args: dict[str, Any] | None = None, ttl: float = 60.0) -> str:
        """Queue an officer command for the lane; returns its id."""
        now = datetime.now(UTC)
        command_id = str(uuid.uuid4())
        with self._lock:
            self._commands.append(
                {
                    "command_id": command_id,
                    "action": action,
                    "args": args or {},
                    "issued_at": now.isoformat(),
                    "expires_at": (now + timedelta(seconds=ttl)).isoformat(),
                }
            )
        return command_id

    def seqs(self) -> list[int]:
        return sorted(int(e["seq"]) for e in self.events.values())

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return sorted(
            (e for e in self.events.values() if e.get("type") == kind), key=lambda e: e["seq"]
        )

    # ------------------------------------------------------------------ the app

    def app(self) -> FastAPI:
        api = FastAPI(title="egate central stub")

        async def guard(request: Request) -> Response | None:
            self.requests += 1
            if self.faults.delay_seconds:
                await asyncio.sleep(self.faults.delay_seconds)
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return JSONResponse({"detail": "bad lane credential"}, status_code=401)
            if self.faults.busy_next > 0:
                self.faults.busy_next -= 1
                return JSONResponse(
                    {"detail": "busy"},
                    status_code=429,
                    headers={"Retry-After": str(self.faults.retry_after)},
                )
            if self.faults.fail_next > 0:
                self.faults.fail_next -= 1
                return JSONResponse({"detail": "injected"}, status_code=self.faults.fail_status)
            return None

        @api.post("/api/v1/ingest/events")
        async def ingest(request: Request) -> Response:
            refused = await guard(request)
            if refused is not None:
                return refused
            try:
                body = json.loads(await request.body())
                items = body["events"]
                if not isinstance(items, list):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                return JSONResponse({"detail": "body must be {'events': [...]}"}, status_code=422)
            accepted, duplicates, rejected = [], [], []
            with self._lock:
                for index, raw in enumerate(items):
                    try:
                        event = parse_event(raw)
                    except EventSchemaError as exc:
                        rejected.append(
                            {"index": index, "event_id": raw.get("event_id"), "reason": str(exc)}
                        )
                        continue
                    event_id = str(event.event_id)
                    if event.lane_id != self.lane_id:
                        return JSONResponse({"detail": "event of another lane"}, status_code=403)
                    self.received[event_id] += 1
                    if event_id in self.events:
                        duplicates.append(event_id)
                    else:
                        self.events[event_id] = raw
                        accepted.append(event_id)
            if self.faults.lose_answer_next > 0:
                self.faults.lose_answer_next -= 1
                return JSONResponse({"detail": "answer lost"}, status_code=500)
            return JSONResponse(
                {"accepted": accepted, "duplicates": duplicates, "rejected": rejected}
            )

        @api.post("/api/v1/lanes/{lane_id}/heartbeat")
        async def heartbeat(lane_id: str, request: Request) -> Response:
            refused = await guard(request)
            if refused is not None:
                return refused
            self.heartbeats.append(json.loads(await request.body()))
            return JSONResponse({"server_time": datetime.now(UTC).isoformat(), "period_seconds": 5})

        @api.get("/api/v1/lanes/{lane_id}/commands")
        async def commands(lane_id: str, request: Request, wait: float = 0) -> Response:
            refused = await guard(request)
            if refused is not None:
                return refused
            deadline = asyncio.get_running_loop().time() + min(wait, 30.0)
            while True:
                with self._lock:
                    pending, self._commands = self._commands, []
                if pending or asyncio.get_running_loop().time() >= deadline:
                    return JSONResponse({"commands": pending})
                await asyncio.sleep(0.05)

        @api.post("/api/v1/lanes/{lane_id}/commands/{command_id}/ack")
        async def ack(lane_id: str, command_id: str, request: Request) -> Response:
            refused = await guard(request)
            if refused is not None:
                return refused
            self.acks[command_id] = json.loads(await request.body())
            return JSONResponse({})

        @api.put("/api/v1/portraits/{transaction_id}/{kind}")
        async def portrait(transaction_id: str, kind: str, request: Request) -> Response:
            refused = await guard(request)
            if refused is not None:
                return refused
            if kind not in ("chip", "live"):
                return JSONResponse({"detail": "kind is chip or live"}, status_code=404)
            self.portraits[(transaction_id, kind)] = await request.body()
            return Response(status_code=204)

        @api.get("/api/v1/lanes/{lane_id}/lists/{name}")
        async def lists(lane_id: str, name: str, request: Request) -> Response:
            refused = await guard(request)
            if refused is not None:
                return refused
            current = self.lists.get(name, {"version": 0, "salt": "00" * 16, "entries": []})
            return JSONResponse({"full": True, "signature": "", **current})

        return api
