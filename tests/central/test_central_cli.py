"""``egate central create-admin``, ``register-lane`` (and ``--rotate``), ``purge`` and
``audit verify`` as an administrator runs them, on SQLite and PostgreSQL (issue 13)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text

from central import audit
from central.db import audit_log, lane_credentials, lanes, metadata, officers
from central.security import sha256_hex
from gate.cli import main

ADMIN_PASSWORD = "a long admin pass phrase"


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """``egate central ...`` configured by the environment for the test database."""
    monkeypatch.setenv("EGATE_CENTRAL__DATABASE__URL", database_url)
    monkeypatch.setenv("EGATE_CENTRAL__LISTS__SIGNING_KEY_PATH", str(tmp_path / "lists.pem"))
    monkeypatch.setenv("EGATE_CENTRAL__SECURITY__ARGON2_TIME_COST", "1")
    monkeypatch.setenv("EGATE_CENTRAL__SECURITY__ARGON2_MEMORY_KIB", "8192")
    monkeypatch.setenv("EGATE_CENTRAL__SECURITY__CREDENTIAL_GRACE_HOURS", "1")
    return database_url


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["central", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _create_admin(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    username: str,
    password: str,
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return _run(capsys, "create-admin", "--username", username, "--password-stdin")


def _heartbeat(client: TestClient, lane_id: str, token: str) -> int:
    r = client.post(
        f"/api/v1/lanes/{lane_id}/heartbeat",
        json={"state": "idle"},
        headers={"Authorization": f"Bearer {token}"},
    )
    return r.status_code


def _every_stored_value(url: str) -> str:
    """Every row of every table, as one string (to look for secrets)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return "\n".join(
                repr(tuple(row))
                for table in metadata.sorted_tables
                for row in conn.execute(select(table))
            )
    finally:
        engine.dispose()


def test_create_admin_first_account_then_refuses_same_name_and_weak_password(
    cli_env: str,
    app_factory: Callable[..., FastAPI],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    login: Callable[..., str],
) -> None:
    code, out, err = _create_admin(capsys, monkeypatch, "root", ADMIN_PASSWORD)
    assert code == 0, err
    assert "administrator 'root' created" in out

    code, out, err = _create_admin(capsys, monkeypatch, "root", "another long pass phrase")
    assert code == 2 and "exists already" in err
    code, out, err = _create_admin(capsys, monkeypatch, "root2", "short")
    assert code == 2 and "at least 12 characters" in err

    app = app_factory(cli_env)
    with app.state.central.db.read() as conn:
        rows = conn.execute(
            select(officers.c.username, officers.c.role, officers.c.password_hash).where(
                officers.c.username.in_(("root", "root2"))
            )
        ).all()
        entries = conn.execute(
            select(audit_log.c.actor, audit_log.c.action, audit_log.c.target)
        ).all()
    [(name, role, pw_hash)] = rows  # the refused runs created nothing
    assert (name, role) == ("root", "admin")
    assert pw_hash.startswith("$argon2id$") and ADMIN_PASSWORD not in pw_hash
    assert ("cli", "officer_created", "officer:root") in entries
    assert ADMIN_PASSWORD not in _every_stored_value(cli_env)

    with TestClient(app) as client:
        login(client, "root", ADMIN_PASSWORD)  # the first password still holds
        assert client.get("/api/v1/officers").status_code == 200  # an administrator's route


def test_register_lane_shows_token_once_and_stores_only_its_hash(
    cli_env: str,
    app_factory: Callable[..., FastAPI],
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ("register-lane", "G01", "--port", "tpe", "--terminal", "T1")
    code, out, err = _run(capsys, *args, "--direction", "departure")
    assert code == 0, err
    shown = json.loads(out)
    token = shown["token"]
    assert shown["lane_id"] == "G01" and "shown once" in shown["note"]
    prefix, key_id, secret = token.split("_", 2)
    assert prefix == "egl" and len(secret) >= 40

    stored = _every_stored_value(cli_env)
    assert secret not in stored and token not in stored
    app = app_factory(cli_env)
    with app.state.central.db.read() as conn:
        [cred] = conn.execute(select(lane_credentials)).all()
        lane = conn.execute(select(lanes).where(lanes.c.lane_id == "G01")).one()
    assert cred.key_id == key_id and cred.secret_hash == sha256_hex(secret)
    assert (lane.port, lane.terminal, lane.direction) == ("TPE", "T1", "departure")

    code, out, err = _run(capsys, *args)  # registered already: no second token
    assert code == 2 and "registered already" in err and "egl_" not in out

    with TestClient(app) as client:
        assert _heartbeat(client, "G01", token) == 200
        assert _heartbeat(client, "G01", f"egl_{key_id}_{'x' * len(secret)}") == 401


def test_register_lane_rotate_overlaps_then_only_the_new_token(
    cli_env: str,
    app_factory: Callable[..., FastAPI],
    capsys: pytest.CaptureFixture[str],
    clock: Any,
) -> None:
    code, out, err = _run(capsys, "register-lane", "G01")
    assert code == 0, err
    old = json.loads(out)["token"]
    code, out, err = _run(capsys, "register-lane", "G01", "--rotate")
    assert code == 0, err
    rotated_at = time.time()
    new = json.loads(out)["token"]
    assert new != old and new.startswith("egl_")
    assert new.split("_", 2)[2] not in _every_stored_value(cli_env)

    app = app_factory(cli_env)
    with TestClient(app) as client:
        # grace period ([security] credential_grace_hours, 1 h here): both work, no downtime
        clock.now = rotated_at + 3600 - 60
        assert _heartbeat(client, "G01", old) == 200
        assert _heartbeat(client, "G01", new) == 200
        clock.now = rotated_at + 3600 + 60
        assert _heartbeat(client, "G01", old) == 401
        assert _heartbeat(client, "G01", new) == 200
    with app.state.central.db.read() as conn:
        actions = conn.execute(select(audit_log.c.action, audit_log.c.target)).all()
    assert ("lane_credential_rotated", "G01") in actions


def test_register_lane_rotate_of_an_unknown_lane_is_refused(
    cli_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "register-lane", "NOPE", "--rotate")
    assert code == 2 and "not registered" in err and "egl_" not in out


def test_purge_prints_counts_and_exits_zero(
    cli_env: str,
    app_factory: Callable[..., FastAPI],
    register_lane: Callable[..., str],
    make_event: Callable[..., dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    clock: Any,
) -> None:
    app = app_factory(cli_env)
    real_now = clock.now
    clock.now = real_now - 40 * 86400  # [retention] transaction_days is 30
    token = register_lane(app, "L1")
    old_at = datetime.fromtimestamp(clock.now, UTC)
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {token}"}
        old = [make_event("L1", i, occurred_at=old_at + timedelta(seconds=i)) for i in range(3)]
        r = client.post("/api/v1/ingest/events", json={"events": old}, headers=headers)
        assert r.status_code == 200 and len(r.json()["accepted"]) == 3, r.text
        clock.now = real_now
        recent = [make_event("L1", 3)]
        r = client.post("/api/v1/ingest/events", json={"events": recent}, headers=headers)
        assert r.status_code == 200 and len(r.json()["accepted"]) == 1, r.text

    code, out, err = _run(capsys, "purge")
    assert code == 0, err
    counts = json.loads(out)
    assert counts["events"] == 3 and counts["transactions"] == 3
    assert counts["portraits"] == 0 and counts["referrals"] == 0
    code, out, err = _run(capsys, "purge")
    assert code == 0 and set(json.loads(out).values()) == {0}

    with app.state.central.db.read() as conn:
        left = conn.execute(text("SELECT count(*) FROM events")).scalar_one()
        purges = conn.execute(
            select(audit_log.c.actor, audit_log.c.detail).where(
                audit_log.c.action == "retention_purge"
            )
        ).all()
    assert left == 1
    assert [p.actor for p in purges] == ["system", "system"]
    assert json.loads(purges[0].detail)["events"] == 3


def test_audit_verify_cli_on_intact_and_changed_chain(
    cli_env: str,
    app_factory: Callable[..., FastAPI],
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = app_factory(cli_env)
    with app.state.central.db.write() as conn:
        for i in range(4):
            audit.append(
                conn, at=1000.0 + i, actor="officer", action="view_referral", target=f"t:{i}"
            )
    code, out, err = _run(capsys, "audit", "verify")
    assert code == 0, err
    assert json.loads(out)["ok"] is True and json.loads(out)["entries"] == 4

    engine = create_engine(cli_env)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_no_update")
            else:
                conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
            conn.exec_driver_sql("UPDATE audit_log SET target = 't:x' WHERE seq = 3")
    finally:
        engine.dispose()
    code, out, err = _run(capsys, "audit", "verify")
    result = json.loads(out)
    assert code == 1
    assert result["ok"] is False and result["first_bad_seq"] == 3
    assert "changed" in result["problem"]
