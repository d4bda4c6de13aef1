"""CSRF and audit over every state-changing officer route, enumerated from ``app.routes``:
without the CSRF token the request is refused (403) and nothing changes; with it, a call by an
allowed role appends an audit entry. Every read of personal data is audited too. A new
state-changing route fails here until it has a recipe in ``CALLS``. SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from central import alarms
from central.db import audit_log, metadata
from tests.central.test_central_roles import EXCLUDED, ROUTES, app_routes

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 100
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
OFFICER_ROLES = {"officer", "supervisor", "admin"}

# route -> (who calls it, path parameters, JSON body or form); the login routes and the
# lane-token routes are not officer routes
CALLS: dict[tuple[str, str], tuple[str, dict[str, str], dict[str, Any] | None]] = {
    ("POST", "/api/v1/alarms/{alarm_id}/acknowledge"): ("officer", {}, None),
    ("POST", "/api/v1/alarms/{alarm_id}/shelve"): ("officer", {}, {"minutes": 5}),
    ("POST", "/api/v1/alarms/{alarm_id}/clear"): ("super", {}, None),
    ("POST", "/api/v1/referrals/{transaction_id}/decision"): (
        "officer",
        {},
        {"decision": "admit", "note": "ok"},
    ),
    ("POST", "/api/v1/lanes/{lane_id}/commands"): (
        "super",
        {"lane_id": "L1"},
        {"action": "close_lane"},
    ),
    ("POST", "/api/v1/lists/{list_name}/entries"): (
        "super",
        {"list_name": "watchlist"},
        {"entries": [{"issuing_state": "UTO", "document_number": "X1234567", "name": "A B"}]},
    ),
    ("DELETE", "/api/v1/lists/{list_name}/entries/{key}"): (
        "super",
        {"list_name": "watchlist", "key": "UTO:X1234567"},
        None,
    ),
    ("POST", "/api/v1/lists/{list_name}/import"): (
        "super",
        {"list_name": "registry"},
        {"entries": [{"issuing_state": "UTO", "document_number": "Y1234567", "name": "C D"}]},
    ),
    ("POST", "/api/v1/officers"): (
        "admin",
        {},
        {"username": "newbie", "password": "a long enough password", "role": "officer"},
    ),
    ("PATCH", "/api/v1/officers/{username}"): (
        "admin",
        {"username": "newbie"},
        {"display_name": "New Officer"},
    ),
    ("POST", "/api/v1/lanes"): ("admin", {}, {"lane_id": "L9"}),
    ("POST", "/api/v1/lanes/{lane_id}/credentials"): ("admin", {"lane_id": "L9"}, {}),
    # the logouts last: they end the session
    ("POST", "/api/v1/auth/logout"): ("officer", {}, None),
    ("POST", "/logout"): ("officer", {}, None),
}


def officer_state_changing_routes(app: FastAPI) -> set[tuple[str, str]]:
    return {
        (m, p)
        for m, p in app_routes(app)
        if m in STATE_CHANGING
        and (m, p) not in EXCLUDED  # the login form
        and ROUTES.get((m, p)) in OFFICER_ROLES
    }


def _snapshot(app: FastAPI) -> str:
    """A hash of every table's rows but the sessions' (a request refreshes last_seen_at)."""
    digest = hashlib.sha256()
    with app.state.central.db.read() as conn:
        for table in metadata.sorted_tables:
            if table.name == "sessions":
                continue
            rows = sorted(repr(tuple(r)) for r in conn.execute(select(table)))
            digest.update(f"{table.name}:{rows}".encode())
    return digest.hexdigest()


def _audit_count(app: FastAPI) -> int:
    with app.state.central.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())


def _prepare(
    app: FastAPI, register_lane: Callable[..., str], make_event: Callable[..., dict[str, Any]]
) -> dict[str, str]:
    """A lane L1 with a referred transaction (and its chip portrait) and an open alarm."""
    central = app.state.central
    token = register_lane(app, "L1")
    event = make_event(
        "L1",
        1,
        decision="referred",
        reasons=["FACE_NO_MATCH"],
    )
    with TestClient(app) as lane:
        lane.headers["Authorization"] = f"Bearer {token}"
        r = lane.post("/api/v1/ingest/events", json={"events": [event]})
        assert r.status_code == 200 and not r.json().get("rejected"), r.text
        tid = event["transaction_id"]
        r = lane.put(f"/api/v1/portraits/{tid}/chip", content=JPEG)
        assert r.status_code == 201, r.text
    with central.db.write() as conn:
        alarm_id = alarms.raise_alarm(
            conn, central.hub, lane_id="L1", kind="tamper", severity="high", now=central.now()
        )
    return {"transaction_id": tid, "alarm_id": str(alarm_id)}


def _call(client: TestClient, method: str, path: str, body: dict[str, Any] | None) -> Any:
    if not path.startswith("/api/"):  # a dashboard form: the token is a form field
        return client.request(
            method, path, data={"csrf_token": client.headers.get("X-CSRF-Token", "")}
        )
    return client.request(method, path, json=body)


def test_every_state_changing_officer_route_has_a_recipe(sqlite_app: FastAPI) -> None:
    assert officer_state_changing_routes(sqlite_app) == set(CALLS)


def test_without_csrf_refused_with_it_audited(
    app: FastAPI,
    register_lane: Callable[..., str],
    make_event: Callable[..., dict[str, Any]],
    login: Callable[..., str],
) -> None:
    params = _prepare(app, register_lane, make_event)
    failures = []
    clients = {}
    with (
        TestClient(app, follow_redirects=False) as a,
        TestClient(app, follow_redirects=False) as b,
        TestClient(app, follow_redirects=False) as c,
    ):
        for name, client in (("officer", a), ("super", b), ("admin", c)):
            login(client, name)
            clients[name] = client
        for (method, route), (who, extra, body) in CALLS.items():
            client = clients[who]
            path = route.format(**{**params, **extra})
            token = client.headers.pop("X-CSRF-Token")
            before = _snapshot(app)
            r = _call(client, method, path, body)
            if r.status_code != 403 or _snapshot(app) != before:
                failures.append(f"{method} {route} without CSRF: {r.status_code} or a change")
            client.headers["X-CSRF-Token"] = token
            entries = _audit_count(app)
            r = _call(client, method, path, body)
            if r.status_code >= 400:
                failures.append(f"{method} {route} as {who}: {r.status_code} {r.text[:200]}")
            elif _audit_count(app) <= entries:
                failures.append(f"{method} {route} as {who}: no audit entry")
            if "logout" in route:
                login(client, who)
    assert not failures, "\n".join(failures)


PERSONAL_READS = [
    ("officer", "/api/v1/referrals/{transaction_id}"),
    ("officer", "/api/v1/referrals/{transaction_id}/portraits/chip"),
    ("officer", "/api/v1/transactions/{transaction_id}"),
    ("super", "/api/v1/lists/watchlist"),
]


def test_every_read_of_personal_data_is_audited(
    app: FastAPI,
    register_lane: Callable[..., str],
    make_event: Callable[..., dict[str, Any]],
    login: Callable[..., str],
) -> None:
    params = _prepare(app, register_lane, make_event)
    failures = []
    for who, route in PERSONAL_READS:
        with TestClient(app) as client:
            login(client, who)
            entries = _audit_count(app)
            r = client.get(route.format(**params))
            if r.status_code != 200:
                failures.append(f"GET {route} as {who}: {r.status_code}")
            elif _audit_count(app) <= entries:
                failures.append(f"GET {route} as {who}: no audit entry")
    assert not failures, "\n".join(failures)


def test_postgresql_refuses_update_and_delete_of_audit_entries(
    pg_url: str, app_factory: Callable[..., FastAPI]
) -> None:
    """The PostgreSQL trigger, as the SQLite one in test_central_audit: append-only."""
    import pytest
    from sqlalchemy.exc import DBAPIError

    app = app_factory(pg_url)
    central = app.state.central
    from central import audit

    with central.db.write() as conn:
        audit.append(conn, at=central.now(), actor="t", action="x", target="y", detail={})
    for sql in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), central.db.write() as conn:
            conn.execute(text(sql))
    assert _audit_count(app) >= 1
