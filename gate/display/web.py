"""HTTP side of the traveller screen: the page, its assets, live updates over SSE.

- ``GET /screen``: the page (the gate's display runs Chromium in kiosk mode on it);
- ``GET /screen/static/{file}``: its script and style sheet;
- ``GET /screen/events``: ``text/event-stream``, one ``data:`` JSON snapshot per change
  (:meth:`TravellerScreen.snapshot`), a comment every 15 s to keep proxies from closing it;
- ``POST /screen/language`` ``{"language": "ja"}``: the traveller touched a language.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from gate.display.catalogue import CatalogueError
from gate.display.screen import TravellerScreen

STATIC = Path(__file__).parent / "static"
KEEPALIVE_SECONDS = 15.0
_ASSETS = {"screen.js": "text/javascript", "screen.css": "text/css"}


def router(screen: TravellerScreen) -> APIRouter:
    api = APIRouter()

    @api.get("/screen", include_in_schema=False)
    async def page() -> Response:
        return FileResponse(
            STATIC / "screen.html",
            media_type="text/html; charset=utf-8",
            headers={"Cache-Control": "no-store"},
        )

    @api.get("/screen/static/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        if name not in _ASSETS:
            return JSONResponse({"detail": f"no asset {name!r}"}, status_code=404)
        return FileResponse(STATIC / name, media_type=_ASSETS[name])

    @api.get("/screen/state")
    async def state() -> Response:
        return JSONResponse(screen.snapshot())

    @api.get("/screen/events")
    async def stream(request: Request) -> Response:
        queue = screen.subscribe()

        async def frames() -> AsyncIterator[str]:
            try:
                yield "retry: 1000\n\n"
                while True:
                    try:
                        snapshot = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                    except TimeoutError:
                        if await request.is_disconnected():
                            return
                        yield ": keepalive\n\n"
                        continue
                    yield f"data: {json.dumps(snapshot, ensure_ascii=False)}\n\n"
            finally:
                screen.unsubscribe(queue)

        return StreamingResponse(
            frames(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @api.post("/screen/language")
    async def language(request: Request) -> Response:
        try:
            body = await request.json()
            screen.choose_language(str(body["language"]))
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"detail": 'body must be {"language": CODE}'}, status_code=422)
        except CatalogueError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=422)
        return JSONResponse({"language": screen.language})

    return api
