"""Fixtures of the central service tests: a database (SQLite always, PostgreSQL when
reachable), an app with a settable clock, logged-in clients and registered lanes."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from central.app import create_app
from central.security import create_officer
from gate.config import CentralConfig

PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PASSWORD = "correct horse battery staple"


def _postgres_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", connect_timeout=2):
            return True
    except Exception:  # not installed, not running, refused: all mean "skip"
        return False


_PG = _postgres_reachable()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema in the machine's PostgreSQL database ``test`` (skips when unreachable)."""
    if not _PG:
        pytest.skip("PostgreSQL on 127.0.0.1:5432 (database test) is not reachable")
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as c:
        c.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as c:
            c.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'central.sqlite'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'central.sqlite'}"


@dataclass
class Clock:
    now: float

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock(time.time())


def make_config(url: str, tmp_path: Path, **sections: dict[str, Any]) -> CentralConfig:
    data: dict[str, Any] = {
        "database": {"url": url},
        "security": {"cookie_secure": False, "argon2_time_cost": 1, "argon2_memory_kib": 8192},
        "lists": {"signing_key_path": str(tmp_path / "lists.pem")},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return CentralConfig.model_validate(data)


@pytest.fixture
def app_factory(tmp_path: Path, clock: Clock) -> Callable[..., FastAPI]:
    """``app_factory(url, **config_sections)``: an app with the test clock and three officers
    (``admin``, ``super``, ``officer``; password :data:`PASSWORD`)."""

    def build(url: str, *, background: bool = False, **sections: dict[str, Any]) -> FastAPI:
        app = create_app(make_config(url, tmp_path, **sections), clock=clock, background=background)
        central = app.state.central
        with central.db.write() as conn:
            for name, role in (("admin", "admin"), ("super", "supervisor"), ("officer", "officer")):
                from sqlalchemy import select

                from central.db import officers

                if (
                    conn.execute(
                        select(officers.c.username).where(officers.c.username == name)
                    ).first()
                    is None
                ):
                    create_officer(
                        conn,
                        central.config.security,
                        username=name,
                        password=PASSWORD,
                        role=role,
                        at=clock.now,
                    )
        return app

    return build


@pytest.fixture
def app(app_factory: Callable[..., FastAPI], database_url: str) -> FastAPI:
    return app_factory(database_url)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def login() -> Callable[[TestClient, str], str]:
    """``login(client, username) -> csrf token``; the client keeps the session cookie."""

    def do(client: TestClient, username: str, password: str = PASSWORD) -> str:
        csrf = client.get("/api/v1/auth/session").json()["csrf_token"]
        r = client.post(
            "/api/v1/auth/login",
            json={"username": username, "password": password},
            headers={"X-CSRF-Token": csrf},
        )
        assert r.status_code == 200, r.text
        token: str = r.json()["csrf_token"]
        client.headers["X-CSRF-Token"] = token
        return token

    return do


@pytest.fixture
def register_lane() -> Callable[..., str]:
    """``register_lane(app, lane_id, port=..., direction=...) -> bearer token``."""

    def do(app: FastAPI, lane_id: str, port: str = "TPE", direction: str = "arrival") -> str:
        from central.lanes import LaneRegistration, register_lane

        return register_lane(
            app.state.central,
            LaneRegistration(lane_id=lane_id, port=port, direction=direction),
            "admin",
        )

    return do


@pytest.fixture
def make_event() -> Callable[..., dict[str, Any]]:
    """``make_event(lane_id, seq, type="transaction", **fields)`` -> event JSON."""

    def do(lane_id: str, seq: int, type: str = "transaction", **fields: Any) -> dict[str, Any]:
        at = fields.pop("occurred_at", datetime.now(UTC))
        base: dict[str, Any] = {
            "event_id": str(uuid.uuid4()),
            "lane_id": lane_id,
            "seq": seq,
            "occurred_at": at.isoformat() if isinstance(at, datetime) else at,
            "type": type,
        }
        if type == "transaction":
            base.update(transaction_id=str(uuid.uuid4()), decision="accepted")
        base.update(fields)
        return base

    return do


class LiveServer:
    def __init__(self, app: FastAPI) -> None:
        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server() -> Callable[[FastAPI], LiveServer]:
    """``with live_server(app) as srv: httpx.get(srv.url + ...)``: uvicorn in a thread."""
    return LiveServer


@pytest.fixture
def sqlite_app(app_factory: Callable[..., FastAPI], sqlite_url: str) -> FastAPI:
    """An app on SQLite only, for behaviour that does not depend on the database."""
    return app_factory(sqlite_url)


@pytest.fixture
def sqlite_client(sqlite_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(sqlite_app) as c:
        yield c
