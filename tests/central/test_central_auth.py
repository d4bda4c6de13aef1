"""Officer authentication: login, CSRF, lockout with backoff, idle timeout, logout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

PASSWORD = "correct horse battery staple"


def _csrf(client: TestClient) -> str:
    token: str = client.get("/api/v1/auth/session").json()["csrf_token"]
    return token


def test_login_sets_httponly_samesite_cookie_and_returns_csrf(client: TestClient) -> None:
    r = client.post(
        "/api/v1/auth/login",
        json={"username": "officer", "password": PASSWORD},
        headers={"X-CSRF-Token": _csrf(client)},
    )
    assert r.status_code == 200
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("egate_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    me = client.get("/api/v1/auth/session").json()
    assert me["authenticated"] and me["role"] == "officer"
    assert me["csrf_token"] == r.json()["csrf_token"]


def test_login_without_csrf_is_refused(client: TestClient) -> None:
    r = client.post("/api/v1/auth/login", json={"username": "officer", "password": PASSWORD})
    assert r.status_code == 403


def test_state_changing_request_needs_session_csrf(
    app: FastAPI, client: TestClient, login: Callable[..., str]
) -> None:
    token = login(client, "admin")
    del client.headers["X-CSRF-Token"]
    body = {"lane_id": "L9"}
    assert client.post("/api/v1/lanes", json=body).status_code == 403
    assert (
        client.post("/api/v1/lanes", json=body, headers={"X-CSRF-Token": "wrong"}).status_code
        == 403
    )
    assert (
        client.post("/api/v1/lanes", json=body, headers={"X-CSRF-Token": token}).status_code == 201
    )


def test_lockout_with_backoff_then_success_resets(client: TestClient, clock: Any) -> None:
    def attempt(password: str) -> Any:
        return client.post(
            "/api/v1/auth/login",
            json={"username": "officer", "password": password},
            headers={"X-CSRF-Token": _csrf(client)},
        )

    for _ in range(4):
        assert attempt("wrong password!").status_code == 401
    fifth = attempt("wrong password!")  # reaches the threshold: locked for 30 s
    assert fifth.status_code == 401
    locked = attempt(PASSWORD)  # right password, but locked
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) == 30
    clock.advance(31)
    assert attempt("wrong password!").status_code == 401  # sixth failure: 60 s
    again = attempt(PASSWORD)
    assert again.status_code == 429 and int(again.headers["Retry-After"]) == 60
    clock.advance(61)
    assert attempt(PASSWORD).status_code == 200
    client.cookies.clear()
    assert attempt("wrong password!").status_code == 401  # counter was reset: not locked
    assert attempt(PASSWORD).status_code == 200


def test_idle_timeout_ends_session(
    client: TestClient, login: Callable[..., str], clock: Any
) -> None:
    login(client, "officer")
    clock.advance(14 * 60)
    assert client.get("/api/v1/lanes").status_code == 200  # activity resets the timer
    clock.advance(14 * 60)
    assert client.get("/api/v1/lanes").status_code == 200
    clock.advance(15 * 60 + 1)
    assert client.get("/api/v1/lanes").status_code == 401


def test_logout_ends_session(client: TestClient, login: Callable[..., str]) -> None:
    login(client, "officer")
    assert client.post("/api/v1/auth/logout").status_code == 204
    assert client.get("/api/v1/lanes").status_code == 401


def test_login_failures_and_successes_are_audited(
    app: FastAPI, client: TestClient, login: Callable[..., str]
) -> None:
    csrf = _csrf(client)
    client.post(
        "/api/v1/auth/login",
        json={"username": "officer", "password": "nope nope"},
        headers={"X-CSRF-Token": csrf},
    )
    login(client, "officer")
    from sqlalchemy import select

    from central.db import audit_log

    with app.state.central.db.read() as conn:
        actions = conn.execute(select(audit_log.c.action).order_by(audit_log.c.seq)).scalars()
        assert list(actions) == ["login_failed", "login"]
