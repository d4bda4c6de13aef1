"""Referral decisions ``refuse`` and ``second_line``: the lane gets a ``referral_decision``
command that releases the entry (the traveller comes back out to the officer), and the
decision is in the audit log (issue 13; ``admit`` is in test_central_review.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient


def _lane(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("decision", ["refuse", "second_line"])
def test_refuse_and_second_line_release_the_entry_and_are_audited(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    make_event: Callable[..., dict[str, Any]],
    login: Callable[..., str],
    decision: str,
) -> None:
    token = register_lane(app, "L1")
    ev = make_event("L1", 0, decision="referred", reasons=["FACE_NO_MATCH"])
    r = client.post("/api/v1/ingest/events", json={"events": [ev]}, headers=_lane(token))
    assert r.status_code == 200 and r.json()["accepted"] == [ev["event_id"]], r.text
    tid = ev["transaction_id"]

    login(client, "officer")
    note = f"{decision}: passport photo does not match"
    r = client.post(f"/api/v1/referrals/{tid}/decision", json={"decision": decision, "note": note})
    assert r.status_code == 200, r.text
    decided = r.json()
    assert decided["status"] == "decided" and decided["decision"] == decision
    assert decided["decided_by"] == "officer"
    assert decided["command"]["action"] == "referral_decision"
    again = client.post(f"/api/v1/referrals/{tid}/decision", json={"decision": "admit"})
    assert again.status_code == 409  # decided once

    # the lane gets exactly one command: release the entry, never the exit
    [cmd] = client.get("/api/v1/lanes/L1/commands", headers=_lane(token)).json()["commands"]
    assert cmd["command_id"] == decided["command"]["command_id"]
    assert cmd["action"] == "referral_decision"
    assert cmd["args"] == {
        "transaction_id": tid,
        "decision": decision,
        "release": "entry",
        "note": note,
    }
    assert client.get("/api/v1/lanes/L1/commands", headers=_lane(token)).json()["commands"] == []
    ack = client.post(
        f"/api/v1/lanes/L1/commands/{cmd['command_id']}/ack",
        json={"result": "done", "detail": "entry released"},
        headers=_lane(token),
    )
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged", ack.text

    client.cookies.clear()
    login(client, "super")  # the audit log is for supervisors
    entries = client.get("/api/v1/audit", params={"action": "referral_decision"}).json()["entries"]
    [entry] = entries
    assert entry["actor"] == "officer" and entry["target"] == f"transaction:{tid}"
    assert entry["detail"] == {
        "decision": decision,
        "note": note,
        "command_id": cmd["command_id"],
        "lane_id": "L1",
    }
    assert client.get("/api/v1/audit/verify").json()["ok"] is True
