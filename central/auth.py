"""Officer login, logout and session routes (``/api/v1/auth``).

CSRF scheme: every response to an anonymous visitor of ``GET /api/v1/auth/session`` sets the
``egate_csrf`` cookie (readable by scripts, SameSite=Strict); the login request must echo it in
the ``X-CSRF-Token`` header (double submit). A successful login returns the session's own CSRF
token (also put in the ``egate_csrf`` cookie); every state-changing request of that session
must carry it in ``X-CSRF-Token`` or a ``csrf_token`` form field.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from central import audit
from central.deps import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    Central,
    get_central,
    optional_officer,
    require_officer,
)
from central.security import LoginRefused, Officer, csrf_matches, end_session, login, new_token

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class LoginRequest(BaseModel):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class SessionInfo(BaseModel):
    authenticated: bool
    username: str | None = None
    role: str | None = None
    display_name: str | None = None
    csrf_token: str
    idle_timeout_seconds: int


def set_session_cookies(response: Response, central: Central, token: str, csrf: str) -> None:
    secure = central.config.security.cookie_secure
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, secure=secure, samesite="strict", path="/"
    )
    response.set_cookie(
        CSRF_COOKIE, csrf, httponly=False, secure=secure, samesite="strict", path="/"
    )


def clear_session_cookies(response: Response, central: Central) -> None:
    secure = central.config.security.cookie_secure
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="strict"
    )
    response.delete_cookie(CSRF_COOKIE, path="/", secure=secure, samesite="strict")


def perform_login(central: Central, username: str, password: str) -> tuple[str, Officer]:
    """Check the password (lockout, audit) and open a session; raises LoginRefused."""
    now = central.now()
    with central.db.write() as conn:
        try:
            token, officer = login(conn, central.config.security, username, password, now)
        except LoginRefused as exc:  # commit the failure count and its audit entry
            refused = exc
            audit.append(
                conn,
                at=now,
                actor=username[:64],
                action="login_failed",
                detail={"reason": str(exc), "locked_for": exc.retry_after},
            )
        else:
            audit.append(conn, at=now, actor=username, action="login")
            central.extras["metrics"].logins.labels("ok").inc()
            return token, officer
    central.extras["metrics"].logins.labels("refused").inc()
    raise refused


@router.get("/session", summary="The current session (or none) and the CSRF token to use")
async def session_info(
    request: Request,
    response: Response,
    central: Central = Depends(get_central),
    officer: Officer | None = Depends(optional_officer),
) -> SessionInfo:
    """For a visitor, sets the ``egate_csrf`` cookie that the login request must echo."""
    idle = central.config.security.session_idle_minutes * 60
    if officer is not None:
        return SessionInfo(
            authenticated=True,
            username=officer.username,
            role=officer.role,
            display_name=officer.display_name,
            csrf_token=officer.csrf_token,
            idle_timeout_seconds=idle,
        )
    csrf = request.cookies.get(CSRF_COOKIE) or new_token()
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        httponly=False,
        samesite="strict",
        path="/",
        secure=central.config.security.cookie_secure,
    )
    return SessionInfo(authenticated=False, csrf_token=csrf, idle_timeout_seconds=idle)


@router.post(
    "/login",
    summary="Log in with user name and password",
    responses={
        401: {"description": "wrong user name or password"},
        403: {"description": "CSRF token missing"},
        429: {"description": "account locked; see Retry-After"},
    },
)
async def login_route(
    body: LoginRequest,
    request: Request,
    response: Response,
    central: Central = Depends(get_central),
) -> SessionInfo:
    """Needs the ``X-CSRF-Token`` header equal to the ``egate_csrf`` cookie (from
    ``GET /api/v1/auth/session``). Repeated failures lock the account with a doubling delay."""
    if not csrf_matches(request.cookies.get(CSRF_COOKIE, ""), request.headers.get(CSRF_HEADER)):
        raise HTTPException(
            403,
            "CSRF token missing: GET /api/v1/auth/session first and send "
            f"its csrf_token in the {CSRF_HEADER} header",
        )
    try:
        token, officer = await run_in_threadpool(
            perform_login, central, body.username, body.password
        )
    except LoginRefused as exc:
        if exc.retry_after and "locked" in str(exc):
            raise HTTPException(
                429, str(exc), headers={"Retry-After": str(exc.retry_after)}
            ) from None
        raise HTTPException(401, str(exc)) from None
    set_session_cookies(response, central, token, officer.csrf_token)
    return SessionInfo(
        authenticated=True,
        username=officer.username,
        role=officer.role,
        display_name=officer.display_name,
        csrf_token=officer.csrf_token,
        idle_timeout_seconds=central.config.security.session_idle_minutes * 60,
    )


@router.post("/logout", status_code=204, summary="End the session")
async def logout_route(
    response: Response,
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_officer),
) -> Response:
    def work() -> None:
        with central.db.write() as conn:
            end_session(conn, officer.session_hash)
            audit.append(conn, at=central.now(), actor=officer.username, action="logout")

    await run_in_threadpool(work)
    out = Response(status_code=204)
    clear_session_cookies(out, central)
    return out
