"""Request dependencies: the service state, officer sessions with roles and CSRF, lane tokens.

How a route states who may call it (the dashboard uses the same dependencies):

- ``officer: Officer = Depends(require("supervisor"))``: a logged-in officer of at least that
  role (officer < supervisor < admin). For POST/PUT/PATCH/DELETE the request must carry the
  session's CSRF token in the ``X-CSRF-Token`` header or a ``csrf_token`` form field.
- ``lane_id: str = Depends(require_lane)``: a lane with a valid ``Authorization: Bearer`` token.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from central.db import Database
from central.live import LiveHub
from central.security import Officer, Role, csrf_matches, lane_for_token, session_officer
from gate.config import CentralConfig

SESSION_COOKIE = "egate_session"
CSRF_COOKIE = "egate_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FORM_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Central:
    """Everything a request handler needs; one per process (``app.state.central``)."""

    config: CentralConfig
    db: Database
    hub: LiveHub
    clock: Callable[[], float] = time.time
    extras: dict[str, Any] = field(default_factory=dict)
    _lane_cache: dict[str, tuple[str | None, float]] = field(default_factory=dict)

    def now(self) -> float:
        return self.clock()

    def lane_for_token(self, token: str) -> str | None:
        """Lane of a bearer token, cached for 5 s (a revoked token stops within 5 s)."""
        now = self.now()
        hit = self._lane_cache.get(token)
        if hit is not None and hit[1] > now:
            return hit[0]
        with self.db.read() as conn:
            lane = lane_for_token(conn, token, now)
        if len(self._lane_cache) > 10000:
            self._lane_cache.clear()
        self._lane_cache[token] = (lane, now + 5.0)
        return lane

    def forget_lane_tokens(self) -> None:
        self._lane_cache.clear()


def get_central(request: Request) -> Central:
    central: Central = request.app.state.central
    return central


async def _csrf_token_of(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FORM_FIELD)
        return value if isinstance(value, str) else None
    return None


async def optional_officer(request: Request) -> Officer | None:
    """The logged-in officer, or None (no CSRF check: for pages that also serve visitors)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    central = get_central(request)

    def lookup() -> Officer | None:
        with central.db.write() as conn:
            return session_officer(conn, central.config.security, token, central.now())

    officer = await run_in_threadpool(lookup)
    if officer is not None:
        request.state.officer = officer
    return officer


def require(role: Role) -> Callable[..., Awaitable[Officer]]:
    """Dependency: an officer of at least ``role``; CSRF-checked on state-changing methods."""

    async def dependency(
        request: Request, officer: Officer | None = Depends(optional_officer)
    ) -> Officer:
        if officer is None:
            raise HTTPException(401, "log in first (no session, or it ended)")
        if request.method not in SAFE_METHODS and not csrf_matches(
            officer.csrf_token, await _csrf_token_of(request)
        ):
            raise HTTPException(
                403,
                f"CSRF token missing or wrong: send the {CSRF_HEADER} header "
                f"(or the {CSRF_FORM_FIELD} form field) with this session's token",
            )
        if not officer.has(role):
            raise HTTPException(403, f"this needs the {role} role (you are {officer.role})")
        return officer

    dependency.__name__ = f"require_{role}"
    return dependency


async def require_lane(request: Request) -> str:
    """Dependency: the lane id of a valid ``Authorization: Bearer egl_...`` token."""
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            401,
            "lane credential missing: send Authorization: Bearer <lane token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    central = get_central(request)
    lane = await run_in_threadpool(central.lane_for_token, token.strip())
    if lane is None:
        raise HTTPException(
            401,
            "lane credential not valid (unknown, revoked or expired)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return lane


def same_lane(path_lane: str, token_lane: str) -> None:
    if path_lane != token_lane:
        raise HTTPException(
            403, f"this credential belongs to lane {token_lane!r}, not {path_lane!r}"
        )


require_officer = require("officer")
"""Dependency: any logged-in officer (watch, review, acknowledge)."""
require_supervisor = require("supervisor")
"""Dependency: supervisor or admin (lane commands, emergency, lists, audit log)."""
require_admin = require("admin")
"""Dependency: admin (accounts, lane registration)."""
