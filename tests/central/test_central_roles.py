"""Every route x every role: who may call what (the table is the specification).

``public``: anyone; ``lane``: a lane bearer token; ``officer`` < ``supervisor`` < ``admin``:
an officer session of at least that role. A caller below the mark gets 401 or 403; one at or
above it never does. A new route fails this test until it is added to the table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
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
}


def allowed(need: str, caller: str) -> bool:
    if need == "public":
        return True
    if need == "lane":
        return caller == "lane"
    return caller in RANK and RANK[caller] >= RANK[need]


def test_table_covers_every_route(sqlite_app: FastAPI) -> None:
    documented = {(m.upper(), p) for p, ops in sqlite_app.openapi()["paths"].items() for m in ops}
    assert documented == set(ROUTES)


@pytest.fixture
def caller_client(
    sqlite_app: FastAPI,
    register_lane: Callable[..., str],
    login: Callable[..., str],
    request: pytest.FixtureRequest,
) -> Iterator[tuple[str, TestClient]]:
    caller: str = request.param
    token = register_lane(sqlite_app, "L1")
    with TestClient(sqlite_app) as client:
        if caller == "lane":
            client.headers["Authorization"] = f"Bearer {token}"
        elif caller != "anonymous":
            login(client, {"supervisor": "super"}.get(caller, caller))
        yield caller, client


@pytest.mark.parametrize("caller_client", CALLERS, indirect=True)
def test_every_route_for_every_caller(caller_client: tuple[str, TestClient]) -> None:
    caller, client = caller_client
    failures = []
    # logout last: it ends the session the other requests need
    for (method, path), need in sorted(ROUTES.items(), key=lambda kv: "logout" in kv[0][1]):
        if path == "/api/v1/stream" and allowed(need, caller):
            continue  # an allowed stream never ends; test_central_live covers it
        url = path.format(**PARAMS)
        r = client.request(method, url, json={} if method != "GET" else None)
        denied = r.status_code in (401, 403)
        if allowed(need, caller) == denied:
            failures.append(f"{method} {path} ({need}) as {caller}: {r.status_code}")
    assert not failures, "\n".join(failures)


def test_every_operation_is_described(sqlite_app: FastAPI) -> None:
    """OpenAPI at /docs: every endpoint has a summary, and protected ones document 401/403."""
    spec = sqlite_app.openapi()
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
