"""The audit hash chain detects a changed, a deleted and a removed-at-the-end entry."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI

from central import audit
from gate.cli import main


def _fill(app: FastAPI, n: int) -> None:
    central = app.state.central
    with central.db.write() as conn:
        for i in range(n):
            audit.append(
                conn,
                at=1000.0 + i,
                actor="officer",
                action="view_portrait",
                target=f"transaction:{i}",
                detail={"kind": "live", "i": i},
            )


def _db_path(app: FastAPI) -> str:
    return str(app.state.central.db.url.split("///", 1)[1])


def _tamper(app: FastAPI, sql: str) -> None:
    con = sqlite3.connect(_db_path(app))
    con.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    con.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    con.execute(sql)
    con.commit()
    con.close()


def test_intact_chain_verifies(sqlite_app: FastAPI) -> None:
    _fill(sqlite_app, 5)
    with sqlite_app.state.central.db.read() as conn:
        result = audit.verify(conn)
    assert result.ok and result.entries == 5 and result.head_seq == 5


def test_database_refuses_update_and_delete(sqlite_app: FastAPI) -> None:
    _fill(sqlite_app, 2)
    con = sqlite3.connect(_db_path(sqlite_app))
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE audit_log SET actor = 'x'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM audit_log")
    con.close()


@pytest.mark.parametrize(
    ("sql", "bad", "words"),
    [
        ("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3", 3, "changed"),
        ("UPDATE audit_log SET detail = '{}' WHERE seq = 5", 5, "changed"),
        ("DELETE FROM audit_log WHERE seq = 2", 2, "missing"),
    ],
)
def test_changed_or_deleted_entry_is_found(
    sqlite_app: FastAPI, sql: str, bad: int, words: str
) -> None:
    _fill(sqlite_app, 6)
    _tamper(sqlite_app, sql)
    with sqlite_app.state.central.db.read() as conn:
        result = audit.verify(conn)
    assert not result.ok and result.first_bad_seq == bad and words in result.problem


def test_rehashed_entry_breaks_the_next_link(sqlite_app: FastAPI) -> None:
    _fill(sqlite_app, 4)
    fake = audit.entry_hash(
        "0" * 64, 1, 1000.0, "mallory", "view_portrait", "transaction:0", '{"i":0,"kind":"live"}'
    )
    _tamper(sqlite_app, f"UPDATE audit_log SET actor='mallory', hash='{fake}' WHERE seq=1")
    with sqlite_app.state.central.db.read() as conn:
        result = audit.verify(conn)
    assert not result.ok and result.first_bad_seq == 2


def test_cli_verify_and_truncation_against_expected_head(
    sqlite_app: FastAPI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fill(sqlite_app, 4)
    monkeypatch.setenv("EGATE_CENTRAL__DATABASE__URL", sqlite_app.state.central.db.url)
    monkeypatch.setenv("EGATE_CENTRAL__LISTS__SIGNING_KEY_PATH", str(tmp_path / "k.pem"))
    assert main(["central", "audit", "verify"]) == 0
    import json

    head = json.loads(capsys.readouterr().out)["head_hash"]
    _tamper(sqlite_app, "DELETE FROM audit_log WHERE seq = 4")
    assert main(["central", "audit", "verify"]) == 0  # a cut tail alone looks intact...
    capsys.readouterr()
    assert main(["central", "audit", "verify", "--expect-head", head]) == 1  # ...but not this
    assert "removed" in capsys.readouterr().out


def test_officer_actions_are_chained(
    sqlite_app: FastAPI,
    sqlite_client: object,
    login: Callable[..., str],
) -> None:
    from fastapi.testclient import TestClient

    assert isinstance(sqlite_client, TestClient)
    login(sqlite_client, "admin")
    sqlite_client.post("/api/v1/lanes", json={"lane_id": "L5"})
    verify = sqlite_client.get("/api/v1/audit/verify").json()
    assert verify["ok"] and verify["entries"] == 2  # login, lane_registered
