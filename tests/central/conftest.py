"""Fixtures of the central service tests: a database (SQLite always, PostgreSQL when
reachable), an app with a settable clock, logged-in clients and registered lanes."""

from __future__ import annotations

import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database migrated once per session; tests get a copy (migrating takes ~1 s)."""
    from central.db import Database, migrate

    path = tmp_path_factory.mktemp("template") / "central.sqlite"
    db = Database(f"sqlite:///{path}")
    migrate(db)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    target = tmp_path / "central.sqlite"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))


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


@pytest.fixture
def make_passage(make_event: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """``make_passage(lane_id, seq, at, decision="accepted", seconds=10.0, reasons=None,
    score=None)`` -> a transaction event whose passage took ``seconds`` from placing the
    document (what the statistics measure) and whose face similarity is ``score``."""

    def do(
        lane_id: str,
        seq: int,
        at: datetime,
        decision: str = "accepted",
        seconds: float = 10.0,
        reasons: list[str] | None = None,
        score: float | None = None,
    ) -> dict[str, Any]:
        done = at + timedelta(seconds=seconds)
        return make_event(
            lane_id,
            seq,
            occurred_at=at,
            decision=decision,
            reasons=reasons or [],
            stages=[
                {"stage": "document_placed", "at": at.isoformat()},
                {"stage": "passage_completed", "at": done.isoformat()},
            ],
            scores={"face_similarity": score},
        )

    return do


@pytest.fixture
def post_events() -> Callable[[TestClient, str, list[dict[str, Any]]], None]:
    """``post_events(client, lane_token, events)``: ingest a batch that must be taken whole."""

    def do(client: TestClient, token: str, evs: list[dict[str, Any]]) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        r = client.post("/api/v1/ingest/events", json={"events": evs}, headers=headers)
        assert r.status_code == 200 and not r.json()["rejected"], r.text
        assert len(r.json()["accepted"]) == len(evs)

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
                app,
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                lifespan="on",
                timeout_graceful_shutdown=2,
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
