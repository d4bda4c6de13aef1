"""Every route x every role: who may call what (the table is the specification).

``public``: anyone; ``lane``: a lane bearer token; ``officer`` < ``supervisor`` < ``admin``:
an officer session of at least that role. A caller below the mark gets 401 or 403 (a
dashboard page: a redirect to the login page); one at or above it never does. Routes are
enumerated from ``app.routes``, so dashboard pages and other routes hidden from the OpenAPI
document are checked too. A new route fails this test until it is added to the table (or to
``EXCLUDED`` with the reason).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/health"): "public",
    ("GET", "/metrics"): "public",
    ("GET", "/open-data/crossings"): "public",
    ("GET", "/api/v1/auth/session"): "public",
    ("POST", "/api/v1/auth/login"): "public",
    ("GET", "/api/v1/lists/public-key"): "public",
    ("POST", "/api/v1/auth/logout"): "officer",
    ("POST", "/api/v1/ingest/events"): "lane",
    ("POST", "/api/v1/lanes/{lane_id}/heartbeat"): "lane",
    ("GET", "/api/v1/lanes/{lane_id}/commands"): "lane",
    ("POST", "/api/v1/lanes/{lane_id}/commands/{command_id}/ack"): "lane",
    ("PUT", "/api/v1/portraits/{transaction_id}/{kind}"): "lane",
    ("GET", "/api/v1/lanes/{lane_id}/lists/{list_name}"): "lane",
    ("GET", "/api/v1/stream"): "officer",
    ("GET", "/api/v1/lanes"): "officer",
    ("GET", "/api/v1/lanes/{lane_id}"): "officer",
    ("GET", "/api/v1/commands"): "officer",
    ("GET", "/api/v1/alarms"): "officer",
    ("POST", "/api/v1/alarms/{alarm_id}/acknowledge"): "officer",
    ("POST", "/api/v1/alarms/{alarm_id}/shelve"): "officer",
    ("GET", "/api/v1/referrals"): "officer",
    ("GET", "/api/v1/referrals/{transaction_id}"): "officer",
    ("POST", "/api/v1/referrals/{transaction_id}/decision"): "officer",
    ("GET", "/api/v1/referrals/{transaction_id}/portraits/{kind}"): "officer",
    ("GET", "/api/v1/transactions"): "officer",
    ("GET", "/api/v1/transactions/{transaction_id}"): "officer",
    ("GET", "/api/v1/stats/summary"): "officer",
    ("GET", "/api/v1/stats/passages"): "officer",
    ("GET", "/api/v1/stats/breakdown"): "officer",
    ("POST", "/api/v1/alarms/{alarm_id}/clear"): "supervisor",
    ("POST", "/api/v1/lanes/{lane_id}/commands"): "supervisor",
    ("GET", "/api/v1/transactions/{transaction_id}/portraits/{kind}"): "supervisor",
    ("GET", "/api/v1/audit"): "supervisor",
    ("GET", "/api/v1/audit/verify"): "supervisor",
    ("GET", "/api/v1/lists/{list_name}"): "supervisor",
    ("POST", "/api/v1/lists/{list_name}/entries"): "supervisor",
    ("DELETE", "/api/v1/lists/{list_name}/entries/{key}"): "supervisor",
    ("POST", "/api/v1/lists/{list_name}/import"): "supervisor",
    ("GET", "/api/v1/officers"): "admin",
    ("POST", "/api/v1/officers"): "admin",
    ("PATCH", "/api/v1/officers/{username}"): "admin",
    ("POST", "/api/v1/lanes"): "admin",
    ("POST", "/api/v1/lanes/{lane_id}/credentials"): "admin",
    # hidden from the OpenAPI document: FastAPI's own pages and the officer dashboard
    ("GET", "/openapi.json"): "public",
    ("GET", "/docs"): "public",
    ("GET", "/docs/oauth2-redirect"): "public",
    ("GET", "/redoc"): "public",
    ("GET", "/login"): "public",
    ("GET", "/lang/{code}"): "public",
    ("POST", "/logout"): "officer",
    ("GET", "/"): "officer",  # the lanes page; anyone else gets the login form
    ("GET", "/lanes"): "officer",
    ("GET", "/lanes/{lane_id}"): "officer",
    ("GET", "/referrals/{transaction_id}"): "officer",
    ("GET", "/statistics"): "officer",
    ("GET", "/exceptions"): "officer",
    ("GET", "/watchlist"): "supervisor",
    ("GET", "/travellers"): "supervisor",
    ("GET", "/audit"): "supervisor",
    ("GET", "/admin"): "admin",
}
EXCLUDED: dict[tuple[str, str], str] = {
    # the dashboard's static assets (CSS, JS, fonts): public, no data, nothing to check
    ("GET", "/static/dashboard/{name}"): "static assets",
    # the login form: no role by definition, double-submit CSRF (egate_csrf cookie and form
    # field) instead; tested with the dashboard (tests/central/dashboard/)
    ("POST", "/login"): "login form",
}
CALLERS = ("anonymous", "lane", "officer", "supervisor", "admin")
RANK = {"officer": 0, "supervisor": 1, "admin": 2}
PARAMS = {
    "lane_id": "L1",
    "command_id": "00000000-0000-4000-8000-000000000000",
    "transaction_id": "00000000-0000-4000-8000-000000000001",
    "kind": "live",
    "list_name": "watchlist",
    "key": "UTO:NONE",
    "alarm_id": "1",
    "username": "nobody",
    "code": "en",
}


def allowed(need: str, caller: str) -> bool:
    if need == "public":
        return True
    if need == "lane":
        return caller == "lane"
    return caller in RANK and RANK[caller] >= RANK[need]


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, hidden ones included (HEAD is GET's)."""
    return {
        (method, str(ctx.path))
        for ctx in iter_route_contexts(app.routes)
        for method in (ctx.methods or ())
        if method != "HEAD"
    }


def test_table_covers_every_route(sqlite_app: FastAPI) -> None:
    served = app_routes(sqlite_app)
    assert not set(ROUTES) & set(EXCLUDED)
    assert served == set(ROUTES) | set(EXCLUDED), (
        f"not in the table: {sorted(served - set(ROUTES) - set(EXCLUDED))}; "
        f"no longer served: {sorted(set(ROUTES) | set(EXCLUDED) - served)}"
    )
    documented = {(m.upper(), p) for p, ops in sqlite_app.openapi()["paths"].items() for m in ops}
    assert documented <= set(ROUTES)


def _denied(r: Any) -> bool:
    """401/403, or a dashboard page sending the visitor to the login form (``/`` shows it in
    place)."""
    if r.status_code in (401, 403):
        return True
    login_form = 'action="/login"' in r.text and "text/html" in r.headers.get("content-type", "")
    if r.status_code == 200 and login_form and r.request.url.path != "/login":
        return True
    location = r.headers.get("location", "")
    return r.status_code in (303, 307) and (location == "/login" or "/login?next=" in location)


@pytest.fixture
def caller_client(
    app: FastAPI,
    register_lane: Callable[..., str],
    login: Callable[..., str],
    request: pytest.FixtureRequest,
) -> Iterator[tuple[str, TestClient, Callable[[], None]]]:
    caller: str = request.param
    token = register_lane(app, "L1")
    with TestClient(app, follow_redirects=False) as client:

        def relogin() -> None:
            if caller not in ("anonymous", "lane"):
                login(client, {"supervisor": "super"}.get(caller, caller))

        if caller == "lane":
            client.headers["Authorization"] = f"Bearer {token}"
        relogin()
        yield caller, client, relogin


@pytest.mark.parametrize("caller_client", CALLERS, indirect=True)
def test_every_route_for_every_caller(
    caller_client: tuple[str, TestClient, Callable[[], None]],
) -> None:
    caller, client, relogin = caller_client
    failures = []
    # the logouts last: they end the session the other requests need (logged in again after)
    for (method, path), need in sorted(ROUTES.items(), key=lambda kv: "logout" in kv[0][1]):
        if path == "/api/v1/stream" and allowed(need, caller):
            continue  # an allowed stream never ends; test_central_live covers it
        url = path.format(**PARAMS)
        if method == "GET":
            r = client.request(method, url)
        elif path.startswith("/api/"):
            r = client.request(method, url, json={})
        else:  # a dashboard form: the CSRF token travels as a form field
            csrf = client.headers.get("X-CSRF-Token", "")
            r = client.request(method, url, data={"csrf_token": csrf})
        if allowed(need, caller) == _denied(r):
            failures.append(f"{method} {path} ({need}) as {caller}: {r.status_code}")
        if "logout" in path:
            relogin()
    assert not failures, "\n".join(failures)


def test_every_operation_is_described(app: FastAPI) -> None:
    """OpenAPI at /docs: every endpoint has a summary, and protected ones document 401/403."""
    spec = app.openapi()
    problems = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if not op.get("summary"):
                problems.append(f"{method.upper()} {path}: no summary")
            need = ROUTES[(method.upper(), path)]
            documented = set(op.get("responses", {}))
            if need != "public" and "401" not in documented:
                problems.append(f"{method.upper()} {path}: 401 not documented")
            can_403 = need != "officer" or method.upper() != "GET"  # role, lane or CSRF
            if need != "public" and can_403 and "403" not in documented:
                problems.append(f"{method.upper()} {path}: 403 not documented")
    assert not problems, "\n".join(problems)
