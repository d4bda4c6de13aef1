"""The officer dashboard's pages: login/logout, lanes, exceptions, referral review, lane
detail, statistics, lists, administration and audit, in en and zh-TW.

Pages are server-rendered shells (Jinja2, autoescaped) whose own scripts in ``static/`` call the
central JSON API with the session cookie and the ``X-CSRF-Token`` header, and follow the live
stream (SSE). Role checks here only decide what a page offers; the API enforces them again.
Every response carries a Content-Security-Policy without ``unsafe-inline``: page data reaches
the scripts as ``application/json`` blocks, never as inline code.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from central import audit
from central.auth import clear_session_cookies, perform_login, set_session_cookies
from central.dashboard import i18n
from central.dashboard.assets import STATIC_PREFIX, Asset, assets
from central.deps import (
    CSRF_COOKIE,
    CSRF_FORM_FIELD,
    CSRF_HEADER,
    Central,
    get_central,
    optional_officer,
)
from central.security import RANK, LoginRefused, Officer, csrf_matches, end_session
from gate import reasons

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'; manifest-src 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Page:
    page: str
    href: str
    label: str
    role: str


NAV: tuple[Page, ...] = (
    Page("lanes", "/lanes", "nav.lanes", "officer"),
    Page("exceptions", "/exceptions", "nav.exceptions", "officer"),
    Page("statistics", "/statistics", "nav.statistics", "officer"),
    Page("watchlist", "/watchlist", "nav.watchlist", "supervisor"),
    Page("travellers", "/travellers", "nav.travellers", "supervisor"),
    Page("audit", "/audit", "nav.audit", "supervisor"),
    Page("admin", "/admin", "nav.admin", "admin"),
)

# Lane controls a role may use (the API checks again: lane commands need a supervisor).
# Emergency open asks for confirmation first.
LANE_ACTIONS: dict[str, tuple[str, ...]] = {
    "officer": (),
    "supervisor": (
        "open_lane",
        "close_lane",
        "out_of_service",
        "in_service",
        "release_exit",
        "release_entry",
        "reset_alarm",
        "emergency_open",
        "emergency_clear",
    ),
}
LANE_ACTIONS["admin"] = LANE_ACTIONS["supervisor"]

# The JSON API the page scripts call (central's routes; {name} parts are filled in by JS).
API: dict[str, str] = {
    "stream": "/api/v1/stream",
    "lanes": "/api/v1/lanes",
    "lane": "/api/v1/lanes/{lane_id}",
    "lane_commands": "/api/v1/lanes/{lane_id}/commands",
    "alarms": "/api/v1/alarms",
    "alarm_acknowledge": "/api/v1/alarms/{alarm_id}/acknowledge",
    "alarm_shelve": "/api/v1/alarms/{alarm_id}/shelve",
    "referrals": "/api/v1/referrals",
    "referral": "/api/v1/referrals/{transaction_id}",
    "referral_decision": "/api/v1/referrals/{transaction_id}/decision",
    "portrait": "/api/v1/referrals/{transaction_id}/portraits/{kind}",
    "stats": "/api/v1/stats/summary",
    "stats_passages": "/api/v1/stats/passages",
    "audit": "/api/v1/audit",
    "lists": "/api/v1/lists/{list_name}",
    "officers": "/api/v1/officers",
    "lane_registration": "/api/v1/lanes",
    # pages
    "lane_page": "/lanes/{lane_id}",
    "referral_page": "/referrals/{transaction_id}",
}

_env = Environment(
    loader=PackageLoader("central.dashboard", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

router = APIRouter(include_in_schema=False)


def _language(request: Request) -> str:
    return i18n.negotiate(
        request.cookies.get(i18n.LANGUAGE_COOKIE), request.headers.get("accept-language")
    )


def _safe_next(target: str | None) -> str:
    """Only local paths: never redirect an officer to another site after login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _timezone(central: Central) -> str:
    return central.config.dashboard.timezone


def render(
    request: Request,
    central: Central,
    template: str,
    *,
    page: str,
    title_key: str,
    officer: Officer | None,
    scripts: tuple[str, ...] = (),
    status_code: int = 200,
    config: dict[str, Any] | None = None,
    **context: Any,
) -> HTMLResponse:
    lang = _language(request)
    cat = i18n.catalog(lang)
    table = assets()
    dash = central.config.dashboard
    page_config: dict[str, Any] = {
        "lang": lang,
        "timezone": dash.timezone,
        "port_timezones": dict(dash.port_timezones),
        "csrf_header": CSRF_HEADER,
        "csrf_token": officer.csrf_token if officer else "",
        "idle_timeout_seconds": central.config.security.session_idle_minutes * 60,
        "heartbeat_period_seconds": central.config.lanes.heartbeat_period_seconds,
        "offline_after_periods": central.config.lanes.offline_after_periods,
        "login_url": "/login",
        "api": API,
        "role": officer.role if officer else None,
    }
    page_config.update(config or {})
    nav = [p for p in NAV if officer is not None and RANK[officer.role] >= RANK[p.role]]

    def asset(name: str) -> Asset:
        return table[name]

    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    html = _env.get_template(template).render(
        lang=lang,
        t=cat.t,
        title=cat.t(title_key, **context.get("title_values", {})),
        page=page,
        user=officer,
        nav=nav,
        languages=i18n.LANGUAGES,
        here=here,
        csrf_token=officer.csrf_token if officer else "",
        asset=asset,
        scripts=("dashboard.js", *scripts),
        config=page_config,
        messages=cat.messages,
        timezone=dash.timezone,
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def _allowed(
    request: Request,
    central: Central,
    officer: Officer | None,
    role: str,
    title_key: str,
) -> Officer | Response:
    """The officer when allowed a page of ``role``; else the login redirect or a 403 page."""
    if officer is None:
        return _login_redirect(request)
    if RANK[officer.role] < RANK[role]:
        return render(
            request,
            central,
            "forbidden.html",
            page="",
            title_key=title_key,
            officer=officer,
            status_code=403,
        )
    return officer


# --------------------------------------------------------------------------- login / logout


def _login_page(
    request: Request,
    central: Central,
    *,
    notices: list[tuple[str, str]],
    next_path: str,
    status_code: int = 200,
) -> HTMLResponse:
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request,
        central,
        "login.html",
        page="login",
        title_key="login.title",
        officer=None,
        notices=notices,
        next=next_path,
        login_csrf=token,
        status_code=status_code,
    )
    response.set_cookie(
        CSRF_COOKIE,
        token,
        httponly=False,
        samesite="strict",
        path="/",
        secure=central.config.security.cookie_secure,
    )
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(
    request: Request,
    next: str = "/",
    m: str = "",
    central: Central = Depends(get_central),
    officer: Officer | None = Depends(optional_officer),
) -> Response:
    if officer is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    cat = i18n.catalog(_language(request))
    notices = []
    if m == "idle":
        minutes = central.config.security.session_idle_minutes
        notices.append(("info", cat.t("login.idle", minutes=minutes)))
    elif m == "logged_out":
        notices.append(("ok", cat.t("login.logged_out")))
    return _login_page(request, central, notices=notices, next_path=_safe_next(next))


@router.post("/login")
async def login_submit(
    request: Request,
    username: str = Form("", max_length=64),
    password: str = Form("", max_length=1024),
    csrf_token: str = Form("", alias=CSRF_FORM_FIELD, max_length=128),
    next: str = Form("/", max_length=2048),
    central: Central = Depends(get_central),
) -> Response:
    cat = i18n.catalog(_language(request))
    target = _safe_next(next)
    if not csrf_matches(request.cookies.get(CSRF_COOKIE) or "", csrf_token):
        return _login_page(
            request,
            central,
            notices=[("error", cat.t("login.csrf"))],
            next_path=target,
            status_code=403,
        )
    try:
        token, officer = await run_in_threadpool(perform_login, central, username, password)
    except LoginRefused as exc:
        locked = exc.retry_after > 0  # this failure locked the account, or it was locked
        text = cat.t("login.locked", seconds=exc.retry_after) if locked else cat.t("login.failed")
        return _login_page(
            request,
            central,
            notices=[("error", text)],
            next_path=target,
            status_code=429 if locked else 401,
        )
    response = RedirectResponse(target, status_code=303)
    set_session_cookies(response, central, token, officer.csrf_token)
    return response


@router.post("/logout")
async def logout_submit(
    request: Request,
    reason: str = Form("", max_length=16),
    csrf_token: str = Form("", alias=CSRF_FORM_FIELD, max_length=128),
    central: Central = Depends(get_central),
    officer: Officer | None = Depends(optional_officer),
) -> Response:
    if officer is None:
        return RedirectResponse("/login", status_code=303)
    if not csrf_matches(officer.csrf_token, csrf_token):
        return render(
            request,
            central,
            "forbidden.html",
            page="",
            title_key="nav.logout",
            officer=officer,
            status_code=403,
            message=i18n.catalog(_language(request)).t("common.csrf"),
        )
    idle = reason == "idle"

    def work() -> None:
        with central.db.write() as conn:
            end_session(conn, officer.session_hash)
            audit.append(
                conn,
                at=central.now(),
                actor=officer.username,
                action="logout",
                detail={"reason": "idle timeout" if idle else "officer"},
            )

    await run_in_threadpool(work)
    response = RedirectResponse("/login?m=" + ("idle" if idle else "logged_out"), status_code=303)
    clear_session_cookies(response, central)
    return response


@router.get("/lang/{code}")
async def set_language(code: str, next: str = "/") -> Response:
    if code not in i18n.LANGUAGES:
        raise HTTPException(404, f"language {code!r} is not offered")
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(i18n.LANGUAGE_COOKIE, code, max_age=365 * 86400, samesite="lax", path="/")
    return response


# --------------------------------------------------------------------------- pages


@router.get("/", response_class=HTMLResponse)
@router.get("/lanes", response_class=HTMLResponse)
async def lanes_page(
    request: Request,
    central: Central = Depends(get_central),
    officer: Officer | None = Depends(optional_officer),
) -> Response:
    if officer is None:
        if request.url.path == "/":
            return _login_page(request, central, notices=[], next_path="/")
        return _login_redirect(request)
    return render(
        request,
        central,
        "lanes.html",
        page="lanes",
        title_key="lanes.title",
        officer=officer,
        scripts=("lanes.js",),
    )


@router.get("/referrals/{transaction_id}", response_class=HTMLResponse)
async def referral_page(
    transaction_id: str,
    request: Request,
    central: Central = Depends(get_central),
    officer: Officer | None = Depends(optional_officer),
) -> Response:
    who = _allowed(request, central, officer, "officer", "app.title")
    if not isinstance(who, Officer):
        return who
    catalogue = {
        code: {"severity": r.severity, "explanation": r.explanation}
        for code, r in reasons.REASONS.items()
    }
    return render(
        request,
        central,
        "referral.html",
        page="exceptions",
        title_key="referral.title",
        officer=who,
        scripts=("referral.js",),
        transaction_id=transaction_id,
        config={"reasons": catalogue},
    )


@router.get("/lanes/{lane_id}", response_class=HTMLResponse)
async def lane_page(
    lane_id: str,
    request: Request,
    central: Central = Depends(get_central),
    officer: Officer | None = Depends(optional_officer),
) -> Response:
    who = _allowed(request, central, officer, "officer", "app.title")
    if not isinstance(who, Officer):
        return who
    return render(
        request,
        central,
        "lane.html",
        page="lanes",
        title_key="lane.title",
        title_values={"lane": lane_id},
        officer=who,
        scripts=("lane.js",),
        lane_id=lane_id,
        actions=LANE_ACTIONS.get(who.role, ()),
    )


@router.get("/statistics", response_class=HTMLResponse)
async def statistics_page(
    request: Request,
    central: Central = Depends(get_central),
    officer: Officer | None = Depends(optional_officer),
) -> Response:
    who = _allowed(request, central, officer, "officer", "app.title")
    if not isinstance(who, Officer):
        return who
    zone = ZoneInfo(_timezone(central))
    today = datetime.now(UTC).astimezone(zone).date()
    return render(
        request,
        central,
        "stats.html",
        page="statistics",
        title_key="stats.title",
        officer=who,
        scripts=("charts.js", "stats.js"),
        default_from=(today - timedelta(days=6)).isoformat(),
        default_to=today.isoformat(),
    )


# The fields of each list's entries (central/lists.py), in the order the page shows them.
LIST_FIELDS: dict[str, tuple[str, ...]] = {
    "watchlist": ("issuing_state", "document_number", "name", "category", "note"),
    "registry": ("issuing_state", "document_number", "name", "nationality", "valid_until"),
}


@dataclass(frozen=True)
class _Shell:
    """A page that is only its template and scripts, for officers of ``role`` and above."""

    path: str
    role: str
    template: str
    page: str
    title_key: str
    scripts: tuple[str, ...]
    context: tuple[tuple[str, Any], ...] = ()


SHELLS: tuple[_Shell, ...] = (
    _Shell(
        "/exceptions",
        "officer",
        "exceptions.html",
        "exceptions",
        "exceptions.title",
        ("exceptions.js",),
    ),
    _Shell(
        "/watchlist",
        "supervisor",
        "lists.html",
        "watchlist",
        "watchlist.title",
        ("manage.js",),
        (("list_name", "watchlist"), ("fields", LIST_FIELDS["watchlist"])),
    ),
    _Shell(
        "/travellers",
        "supervisor",
        "lists.html",
        "travellers",
        "travellers.title",
        ("manage.js",),
        (("list_name", "registry"), ("fields", LIST_FIELDS["registry"])),
    ),
    _Shell("/audit", "supervisor", "audit.html", "audit", "audit.title", ("manage.js",)),
    _Shell("/admin", "admin", "admin.html", "admin", "admin.title", ("manage.js",)),
)


def _add_shell(shell: _Shell) -> None:
    async def page(
        request: Request,
        central: Central = Depends(get_central),
        officer: Officer | None = Depends(optional_officer),
    ) -> Response:
        who = _allowed(request, central, officer, shell.role, shell.title_key)
        if not isinstance(who, Officer):
            return who
        return render(
            request,
            central,
            shell.template,
            page=shell.page,
            title_key=shell.title_key,
            officer=who,
            scripts=shell.scripts,
            **dict(shell.context),
        )

    page.__name__ = f"{shell.page}_page"
    router.add_api_route(shell.path, page, methods=["GET"], response_class=HTMLResponse)


for _shell in SHELLS:
    _add_shell(_shell)


# --------------------------------------------------------------------------- static


@router.get(STATIC_PREFIX + "/{name}")
async def static_asset(name: str) -> Response:
    asset = assets().get(name)
    if asset is None:
        raise HTTPException(404, f"no dashboard asset {name!r}")
    headers = {
        "Cache-Control": "public, max-age=31536000, immutable",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": CSP,
    }
    return Response(asset.body, media_type=asset.content_type, headers=headers)


def install(app: FastAPI) -> None:
    """Mount the dashboard on the central app (checks the pinned assets and catalogues)."""
    assets()
    problems = i18n.check_catalogs()
    if problems:
        raise i18n.CatalogError("; ".join(problems[:5]))
    app.include_router(router)
