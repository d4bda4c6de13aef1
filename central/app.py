"""The central service's application factory: ``create_app(config)``.

Routes: the JSON API under ``/api/v1`` (lanes, ingest, officers...), the live stream
``/api/v1/stream`` (SSE), ``/open-data/crossings`` (public), ``/health``, ``/metrics`` and the
OpenAPI document at ``/docs``. The officer dashboard is served at ``/`` when
``central.dashboard`` provides ``install(app)``; it is called last, after every API route.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from sqlalchemy import select, text
from starlette.concurrency import run_in_threadpool

from central import alarms as alarm_model
from central import commands as command_model
from central.db import Database, migrate, sessions
from central.deps import Central, get_central, require_officer
from central.errors import CentralError, Conflict, InvalidRequest, NotFound
from central.live import CHANNEL, LiveHub, PostgresListener, channel_for, psycopg_dsn
from central.responses import HealthBody
from central.security import Officer
from gate import __version__
from gate.config import CentralConfig

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
STREAM_KINDS = ("lane", "ingest", "alarm", "referral", "command", "list")
KEEPALIVE_SECONDS = 15.0


def create_app(
    config: CentralConfig,
    *,
    clock: Callable[[], float] | None = None,
    run_migrations: bool = True,
    background: bool = True,
) -> FastAPI:
    """Build the service. ``clock`` (UTC epoch seconds) is for tests; ``background`` runs the
    once-a-second housekeeping (offline lanes, expiring commands, shelved alarms, purge)."""
    db = Database(config.database.url)
    if run_migrations:
        migrate(db)
    hub = LiveHub(
        use_notify=db.is_postgres,
        channel=channel_for(config.database.url) if db.is_postgres else CHANNEL,
    )
    central = Central(config=config, db=db, hub=hub, clock=clock or time.time)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = config.server.worker_threads
        if background:
            tune_gc()
        listener = None
        if db.is_postgres:
            listener = PostgresListener(psycopg_dsn(config.database.url), hub)
            await run_in_threadpool(listener.start)
        task = asyncio.create_task(_housekeeping(central)) if background else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if listener is not None:
                await run_in_threadpool(listener.stop)
            db.dispose()

    app = FastAPI(
        title="egate central service",
        version=__version__,
        description=(
            "Ingest and lane control for egate e-Gate lanes, officer work (referrals, alarms, "
            "lists, audit), statistics and open data. Lanes authenticate with a bearer token; "
            "officers with a session cookie plus the X-CSRF-Token header on state-changing "
            "requests. See docs/central.md and docs/lane-central-api.md."
        ),
        lifespan=lifespan,
    )
    app.state.central = central

    @app.exception_handler(NotFound)
    async def _not_found(_r: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(Conflict)
    async def _conflict(_r: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(InvalidRequest)
    async def _invalid(_r: Request, exc: InvalidRequest) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    from central import auth, lanes

    app.include_router(auth.router)
    app.include_router(lanes.router)
    for name in ("officers", "review", "lists", "stats"):
        try:
            module = importlib.import_module(f"central.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"central.{name}":
                raise
            continue
        app.include_router(module.router)

    @app.get(
        f"{API_PREFIX}/stream",
        tags=["live"],
        summary="Live updates (Server-Sent Events)",
        responses={
            200: {
                "content": {"text/event-stream": {}},
                "description": "one SSE message per change",
            },
            401: {"description": "not logged in"},
        },
    )
    async def stream(
        request: Request,
        central: Central = Depends(get_central),
        officer: Officer = Depends(require_officer),
        kinds: Annotated[
            str | None,
            Query(
                max_length=200,
                description="comma-separated kinds to receive (default: all): "
                + ", ".join(STREAM_KINDS),
            ),
        ] = None,
    ) -> StreamingResponse:
        """Each message is ``id: N``, ``event: KIND`` and ``data: JSON`` (see
        docs/central.md). The stream ends when the officer's session ends."""
        wanted = {k.strip() for k in kinds.split(",")} & set(STREAM_KINDS) if kinds else None
        sub = central.hub.subscribe(wanted)
        metrics = central.metrics
        metrics.live_subscribers.inc()

        async def body() -> AsyncIterator[bytes]:
            try:
                hello = {
                    "server_time": command_model.iso(central.now()),
                    "username": officer.username,
                    "role": officer.role,
                }
                yield b"retry: 2000\n\n"
                yield b"event: hello\ndata: " + JSONResponse(hello).body + b"\n\n"
                checked = last_sent = time.monotonic()
                while True:
                    try:  # wake at least every second to notice a client that went away
                        msg = await asyncio.wait_for(sub.queue.get(), timeout=1.0)
                        yield msg.sse()
                        last_sent = time.monotonic()
                    except TimeoutError:
                        if time.monotonic() - last_sent >= KEEPALIVE_SECONDS:
                            yield b": keep-alive\n\n"
                            last_sent = time.monotonic()
                    if time.monotonic() - checked > 30:
                        checked = time.monotonic()
                        if not await run_in_threadpool(
                            _session_alive, central, officer.session_hash
                        ):
                            yield b"event: session_ended\ndata: {}\n\n"
                            return
                    if await request.is_disconnected():
                        return
            finally:
                central.hub.unsubscribe(sub)
                metrics.live_subscribers.dec()

        return StreamingResponse(
            body(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @app.get(
        "/health",
        tags=["operations"],
        summary="Liveness and database check",
        responses={
            200: {"model": HealthBody, "description": "the service and its database work"},
            503: {"model": HealthBody, "description": "the database is unreachable"},
        },
    )
    async def health(central: Central = Depends(get_central)) -> JSONResponse:
        def check() -> bool:
            with central.db.read() as conn:
                conn.execute(text("SELECT 1"))
            return True

        try:
            ok = await run_in_threadpool(check)
        except Exception as exc:  # any database failure means "not healthy"
            log.warning("health check failed: %s", exc)
            ok = False
        body = {
            "status": "ok" if ok else "database unavailable",
            "version": __version__,
            "database": "postgresql" if central.db.is_postgres else "sqlite",
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
    )
    async def metrics_route(central: Central = Depends(get_central)) -> PlainTextResponse:
        return PlainTextResponse(
            central.metrics.render().decode(), media_type="text/plain; version=0.0.4"
        )

    _install_dashboard(app)
    return app


def tune_gc() -> None:
    """For a serving process: move what start-up allocated (modules, metadata, schema
    validators) out of the collector's sight and collect the young generation less often.
    Ingest allocates many short-lived dicts; with the defaults the collector runs every 700
    allocations and now and then walks the whole heap (about a tenth of ingest's CPU)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def _install_dashboard(app: FastAPI) -> None:
    try:
        dashboard = importlib.import_module("central.dashboard")
    except ModuleNotFoundError as exc:
        if exc.name != "central.dashboard":
            raise
        dashboard = None
    install = getattr(dashboard, "install", None)
    if install is not None:
        install(app)
        return

    @app.get("/", include_in_schema=False)
    async def root() -> dict[str, Any]:
        return {"service": "egate central", "api": API_PREFIX, "docs": "/docs"}


def _session_alive(central: Central, session_hash: str) -> bool:
    now = central.now()
    idle = central.config.security.session_idle_minutes * 60
    with central.db.read() as conn:
        row = conn.execute(
            select(sessions.c.last_seen_at, sessions.c.expires_at).where(
                sessions.c.session_hash == session_hash
            )
        ).first()
    return row is not None and now < row.expires_at and now < row.last_seen_at + idle


def housekeeping_once(central: Central) -> dict[str, int]:
    """One round: SQLite checkpoint, offline lanes, expired commands, shelved alarms whose
    time is up."""
    from central.lanes import detect_offline

    central.db.checkpoint()
    offline = detect_offline(central)
    now = central.now()
    with central.db.write() as conn:
        expired = command_model.expire_due(conn, central.hub, now)
        unacknowledged = command_model.unacknowledged_due(conn, central.hub, now)
        unshelved = alarm_model.unshelve_due(conn, central.hub, now)
    if expired:
        central.metrics.commands.labels("expired").inc(expired)
    if unacknowledged:
        central.metrics.commands.labels("unacknowledged").inc(unacknowledged)
    return {
        "offline": len(offline),
        "expired": expired,
        "unacknowledged": unacknowledged,
        "unshelved": unshelved,
    }


async def _housekeeping(central: Central) -> None:
    interval = min(1.0, central.config.lanes.heartbeat_period_seconds / 2)
    purge_every = central.config.retention.purge_interval_minutes * 60
    last_purge = time.monotonic()
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(housekeeping_once, central)
            if purge_every and time.monotonic() - last_purge >= purge_every:
                last_purge = time.monotonic()
                retention = importlib.import_module("central.retention")
                await run_in_threadpool(retention.purge, central)
        except (CentralError, OSError) as exc:
            log.warning("housekeeping failed: %s", exc)
        except Exception:  # keep the loop alive through a database hiccup
            log.exception("housekeeping failed")
