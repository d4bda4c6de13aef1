"""The lane's local HTTP API (``[api] listen``, default 127.0.0.1:8701).

- ``GET /health``: 200 ``{"ok": true}`` when the lane can serve travellers, otherwise 503 with
  the reasons (out of service, device faults, outbox full, lists too old...);
- ``GET /status``: JSON: state, current step, devices, outbox depth, last delivery, lists;
- ``GET /metrics``: Prometheus text format (:mod:`gate.daemon.metrics`);
- ``POST /maintenance/{action}`` with ``Authorization: Bearer <[api] token>``: the officer
  actions of the central contract, applied locally by a technician (``out_of_service``,
  ``in_service``, ``reset_alarm``, ``release_exit``...). Disabled while ``[api] token`` is empty;
- the traveller screen (:mod:`gate.display.web`) under ``/screen``.
"""

from __future__ import annotations

import contextlib
import hmac
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Protocol

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from gate.daemon.metrics import CONTENT_TYPE, LaneMetrics
from gate.display.screen import TravellerScreen
from gate.display.web import router as screen_router
from gate.errors import EgateError


class ApiError(EgateError):
    """The local API cannot start (address in use, bad address)."""


class LaneView(Protocol):
    metrics: LaneMetrics
    screen: TravellerScreen

    def health(self) -> list[str]: ...

    def status(self) -> dict[str, Any]: ...

    async def maintenance(self, action: str, args: dict[str, Any]) -> tuple[str, str]: ...


def build_app(lane: LaneView, token: str, refresh: Callable[[], Awaitable[None]]) -> FastAPI:
    """The FastAPI application; ``refresh`` updates gauges before /metrics and /status."""
    app = FastAPI(title="egate lane", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/health")
    async def health() -> Response:
        await refresh()
        reasons = lane.health()
        if reasons:
            return JSONResponse({"ok": False, "reasons": reasons}, status_code=503)
        return JSONResponse({"ok": True, "reasons": []})

    @app.get("/status")
    async def status() -> Response:
        await refresh()
        return JSONResponse(lane.status())

    @app.get("/metrics")
    async def metrics() -> Response:
        await refresh()
        return Response(lane.metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        return RedirectResponse("/screen")

    @app.post("/maintenance/{action}")
    async def maintenance(action: str, request: Request) -> Response:
        if not token:
            return JSONResponse(
                {"detail": "maintenance commands are disabled: set [api] token"}, status_code=403
            )
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return JSONResponse(
                {"detail": "missing or wrong maintenance token"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        args: dict[str, Any] = {}
        if await request.body():
            try:
                body = await request.json()
            except ValueError:
                return JSONResponse({"detail": "body must be a JSON object"}, status_code=422)
            if not isinstance(body, dict):
                return JSONResponse({"detail": "body must be a JSON object"}, status_code=422)
            args = body
        result, detail = await lane.maintenance(action, args)
        code = {"done": 200, "refused": 409, "unknown": 404}.get(result, 500)
        return JSONResponse({"action": action, "result": result, "detail": detail}, code)

    app.include_router(screen_router(lane.screen))
    return app


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ApiError(f"[api] listen = {listen!r}: expected HOST:PORT, e.g. 127.0.0.1:8701")
    return host.strip("[]") or "127.0.0.1", int(port)


def bind(listen: str) -> socket.socket:
    """Bind the listening socket now, so a busy port stops the daemon with a clear error."""
    host, port = parse_listen(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ApiError(f"[api] listen = {listen!r}: cannot listen there: {exc}") from None
    sock.listen(64)
    sock.setblocking(False)
    return sock


class ApiServer(uvicorn.Server):
    """uvicorn inside the daemon's loop; the daemon, not uvicorn, handles signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def server(app: FastAPI) -> ApiServer:
    config = uvicorn.Config(
        app, lifespan="off", log_level="warning", access_log=False, timeout_graceful_shutdown=1
    )
    return ApiServer(config)
