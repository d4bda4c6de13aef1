"""The simulated lanes' reporting to a central service, and an embedded central service.

:class:`Uplink` speaks the lane <-> central HTTP contract (docs/lane-central-api.md): event
batches to ``POST /api/v1/ingest/events`` and heartbeats, each lane with its own bearer token.
It stands in for the lane daemon's durable outbox until the simulation runs the daemon itself:
events wait in memory while central is unreachable and are sent again after an unacknowledged
batch (central acknowledges a resent event as a duplicate).

:class:`EmbeddedCentral` is the central service (``central.app.create_app``) on a SQLite file,
with the simulated lanes registered and a demo officer account: served in-process over ASGI for
``egate sim run --central embedded``, or on a loopback port with uvicorn for ``egate demo``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from gate import events
from gate.config import CentralConfig
from gate.errors import EgateError

if TYPE_CHECKING:
    from simulator.travellers import Traveller

BATCH = 100
"""Events per ingest batch."""


class UplinkError(EgateError):
    """Central refused the simulated lanes' reports for a reason retrying cannot fix."""


@dataclass
class DeliveryCounts:
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[str] = field(default_factory=list)
    resent_batches: int = 0


class Uplink:
    """Event delivery and heartbeats of the simulated lanes over HTTP."""

    def __init__(self, client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens
        self.counts = DeliveryCounts()

    def _auth(self, lane_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[lane_id]}"}

    async def send(self, lane_id: str, batch: Sequence[events.Event]) -> None:
        """One batch, retried on 429 and connection errors until central acknowledges it."""
        body = {"events": [json.loads(events.to_json(e)) for e in batch]}
        delay = 0.2
        while True:
            try:
                response = await self.client.post(
                    "/api/v1/ingest/events", json=body, headers=self._auth(lane_id)
                )
            except httpx.TransportError:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if response.status_code == 429:
                await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            if response.status_code != 200:
                raise UplinkError(
                    f"central answered {response.status_code} to lane {lane_id}'s events: "
                    f"{response.text[:300]}"
                )
            result = response.json()
            self.counts.sent += len(batch)
            self.counts.accepted += len(result.get("accepted", []))
            self.counts.duplicates += len(result.get("duplicates", []))
            self.counts.rejected += [str(r) for r in result.get("rejected", [])]
            return

    async def deliver(
        self, lane_id: str, items: Sequence[events.Event], *, lost_ack: bool = False
    ) -> None:
        """Every event of a lane in batches; with ``lost_ack`` the first batch is sent twice,
        as a lane does when the acknowledgement of a delivered batch was lost."""
        for start in range(0, len(items), BATCH):
            batch = items[start : start + BATCH]
            await self.send(lane_id, batch)
            if lost_ack and start == 0:
                self.counts.resent_batches += 1
                await self.send(lane_id, batch)

    async def heartbeat(self, lane_id: str, state: events.LaneState, step: str = "") -> None:
        beat = events.Heartbeat(state=state, step=step)
        with contextlib.suppress(httpx.TransportError):
            await self.client.post(
                f"/api/v1/lanes/{lane_id}/heartbeat",
                content=beat.model_dump_json(),
                headers={**self._auth(lane_id), "Content-Type": "application/json"},
            )


@dataclass(frozen=True)
class CentralCounts:
    """What central stored for some lanes."""

    rows: int
    distinct_seqs: int


class EmbeddedCentral:
    """The central service on a SQLite file in ``directory``, lanes registered, a demo officer."""

    def __init__(
        self,
        directory: Path,
        lane_ids: Sequence[str],
        *,
        host: str = "127.0.0.1",
        port: int = 8600,
        officer: str = "demo",
        background: bool = False,
    ) -> None:
        from central.app import create_app
        from central.lanes import LaneRegistration, register_lane
        from central.lists import ListSigner
        from central.security import create_officer

        directory.mkdir(parents=True, exist_ok=True)
        self.config = CentralConfig.model_validate(
            {
                "server": {"host": host, "port": port},
                "database": {"url": f"sqlite:///{directory / 'central.sqlite'}"},
                "security": {"cookie_secure": False},
                "lists": {"signing_key_path": str(directory / "lists-ed25519.pem")},
            }
        )
        self.app = create_app(self.config, background=background)
        # the list-signing key, made now: lanes asking for lists at once would race to create it
        ListSigner(self.config.lists.signing_key_path)
        self.central = self.app.state.central
        self.tokens: dict[str, str] = {}
        for index, lane_id in enumerate(lane_ids):
            registration = LaneRegistration(
                lane_id=lane_id,
                name=f"Simulated lane {index + 1}",
                port="SIM",
                terminal="T1",
                direction="arrival",
            )
            self.tokens[lane_id] = register_lane(self.central, registration, "simulator")
        self.officer = officer
        self.password = secrets.token_urlsafe(9)
        with self.central.db.write() as conn:
            create_officer(
                conn,
                self.config.security,
                username=officer,
                password=self.password,
                role="supervisor",
                display_name="Demo officer",
                at=self.central.now(),
            )
        self._server: Any = None

    def load_lists(self, travellers: Sequence[Traveller], today: date) -> None:
        """The scenario's lists, as central distributes them to the lanes: a watch-list entry
        for every ``watchlist`` traveller, a manifest entry (flight SIM001 today, port SIM) for
        every ``on_manifest`` one."""
        from central.lists import ManifestEntry, WatchlistEntry, change

        def state(t: Traveller) -> str:
            return t.mrz_lines[0][2:5].replace("<", "")

        def name(t: Traveller) -> str:
            return f"{t.surname} {t.given_names}"

        watch = [
            WatchlistEntry(issuing_state=state(t), document_number=t.document_number, name=name(t))
            for t in travellers
            if t.spec.watchlist
        ]
        manifest = [
            ManifestEntry(
                issuing_state=state(t),
                document_number=t.document_number,
                name=name(t),
                flight="SIM001",
                flight_date=today,
                port="SIM",
                nationality=t.spec.nationality,
            )
            for t in travellers
            if t.spec.on_manifest
        ]
        with self.central.db.write() as conn:
            lists: tuple[tuple[str, list[Any]], ...] = (
                ("watchlist", watch),
                ("manifests", manifest),
            )
            for list_name, entries in lists:
                change(
                    conn,
                    self.central,
                    list_name,
                    add=list(entries),
                    remove=[],
                    replace_all=True,
                    actor="simulator",
                    note="scenario travellers",
                )

    def public_key_pem(self) -> str:
        """Central's list-signing public key (the lanes pin it)."""
        from central.lists import ListSigner

        return ListSigner(self.config.lists.signing_key_path).public_pem()

    def client(self) -> httpx.AsyncClient:
        """An in-process client (no port)."""
        transport = httpx.ASGITransport(app=self.app)
        return httpx.AsyncClient(transport=transport, base_url="http://central.sim")

    @property
    def url(self) -> str:
        return f"http://{self.config.server.host}:{self.config.server.port}"

    async def serve(self) -> None:
        """Serve on the configured loopback port with uvicorn (returns when stopped)."""
        import uvicorn

        config = uvicorn.Config(
            self.app,
            host=self.config.server.host,
            port=self.config.server.port,
            log_level="warning",
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        await self._server.serve()

    async def started(self, timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while self._server is None or not self._server.started:
                await asyncio.sleep(0.05)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True

    def counts(self, lane_ids: Sequence[str]) -> CentralCounts:
        from sqlalchemy import func, select

        from central.db import events as table

        with self.central.db.read() as conn:
            where = table.c.lane_id.in_(list(lane_ids))
            rows = conn.execute(select(func.count()).select_from(table).where(where)).scalar()
            seqs = (
                select(table.c.lane_id, table.c.seq)
                .where(where)
                .group_by(table.c.lane_id, table.c.seq)
                .subquery()
            )
            distinct = conn.execute(select(func.count()).select_from(seqs)).scalar()
        return CentralCounts(rows=int(rows or 0), distinct_seqs=int(distinct or 0))
