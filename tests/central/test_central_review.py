"""Referral decisions back to the lane, portraits, alarms and the exceptions the service
detects (document used twice, forced door, device faults)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from central.alarms import TRANSITIONS, transition
from central.errors import Conflict
from gate.events import document_fingerprint

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 100


def _lane_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _ingest(client: TestClient, token: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    r = client.post("/api/v1/ingest/events", json={"events": events}, headers=_lane_headers(token))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _actions(client: TestClient) -> list[str]:
    return [e["action"] for e in client.get("/api/v1/audit").json()["entries"]]


def test_referral_decision_goes_to_lane_and_audit(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    make_event: Callable[..., dict[str, Any]],
    login: Callable[..., str],
) -> None:
    client = client
    token = register_lane(app, "L1")
    ev = make_event(
        "L1",
        0,
        decision="referred",
        reasons=["FACE_NO_MATCH"],
        document={
            "format": "TD3",
            "document_code": "P",
            "issuing_state": "UTO",
            "nationality": "UTO",
            "masked_number": "*****1234",
            "year_of_birth": 1980,
        },
    )
    _ingest(client, token, [ev])
    tid = ev["transaction_id"]
    assert (
        client.put(
            f"/api/v1/portraits/{tid}/live",
            content=JPEG,
            headers={**_lane_headers(token), "content-type": "image/jpeg"},
        ).status_code
        == 201
    )
    login(client, "officer")
    queue = client.get("/api/v1/referrals").json()["referrals"]
    assert [r["transaction_id"] for r in queue] == [tid]
    detail = client.get(f"/api/v1/referrals/{tid}").json()
    assert detail["transaction"]["reasons"] == ["FACE_NO_MATCH"]
    assert "year_of_birth" not in detail["transaction"]["document"]  # officer role
    assert detail["portraits"] == ["live"]
    portrait = client.get(f"/api/v1/referrals/{tid}/portraits/live")
    assert portrait.status_code == 200 and portrait.content == JPEG
    assert client.get(f"/api/v1/referrals/{tid}/portraits/chip").status_code == 404

    r = client.post(
        f"/api/v1/referrals/{tid}/decision",
        json={"decision": "admit", "note": "face checked by hand"},
    )
    assert r.status_code == 200, r.text
    assert (
        client.post(f"/api/v1/referrals/{tid}/decision", json={"decision": "refuse"}).status_code
        == 409
    )
    cmds = client.get("/api/v1/lanes/L1/commands", headers=_lane_headers(token)).json()
    [cmd] = cmds["commands"]
    assert cmd["action"] == "referral_decision"
    assert cmd["args"] == {
        "transaction_id": tid,
        "decision": "admit",
        "release": "exit",
        "note": "face checked by hand",
    }
    assert (
        client.post(
            f"/api/v1/lanes/L1/commands/{cmd['command_id']}/ack",
            json={"result": "done"},
            headers=_lane_headers(token),
        ).status_code
        == 200
    )
    client.cookies.clear()
    login(client, "super")
    actions = _actions(client)
    for expected in ("view_referral", "view_portrait", "referral_decision"):
        assert expected in actions


def test_portraits_only_for_referred_transactions_of_the_lane(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    make_event: Callable[..., dict[str, Any]],
) -> None:
    token = register_lane(app, "L1")
    other = register_lane(app, "L2")
    accepted = make_event("L1", 0)
    referred = make_event("L1", 1, decision="referred")
    _ingest(client, token, [accepted, referred])

    def put(tid: str, tok: str, data: bytes = JPEG) -> int:
        return client.put(
            f"/api/v1/portraits/{tid}/chip", content=data, headers=_lane_headers(tok)
        ).status_code

    assert put(accepted["transaction_id"], token) == 403
    assert put(referred["transaction_id"], other) == 403
    assert put(referred["transaction_id"], token, b"GIF89a") == 415
    assert put("no-such", token) == 404
    assert put(referred["transaction_id"], token, JPEG + b"\x00" * (2 * 1024 * 1024)) == 413
    assert put(referred["transaction_id"], token) == 201


def test_foreign_national_record_portrait_kept_audited_and_purged_with_transactions(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    make_event: Callable[..., dict[str, Any]],
    login: Callable[..., str],
    clock: Any,
) -> None:
    from central.retention import purge

    token = register_lane(app, "L1")
    record = make_event("L1", 0, reasons=["POLICY_FOREIGN_NATIONAL_RECORD"])
    referred = make_event("L1", 1, decision="referred")
    _ingest(client, token, [record, referred])

    def put(tid: str, kind: str) -> Any:
        return client.put(
            f"/api/v1/portraits/{tid}/{kind}", content=JPEG, headers=_lane_headers(token)
        )

    assert put(record["transaction_id"], "chip").status_code == 403  # only the live one
    answer = put(record["transaction_id"], "live")
    assert answer.status_code == 201 and answer.json()["purpose"] == "foreign_national_record"
    assert put(referred["transaction_id"], "live").json()["purpose"] == "referral"
    login(client, "officer")
    path = f"/api/v1/transactions/{record['transaction_id']}/portraits/live"
    assert client.get(path).status_code == 403  # supervisors only
    # a record portrait is not a referral portrait
    assert (
        client.get(f"/api/v1/referrals/{record['transaction_id']}/portraits/live").status_code
        == 404
    )
    client.cookies.clear()
    login(client, "super")
    got = client.get(path)
    assert got.status_code == 200 and got.content == JPEG
    entry = client.get("/api/v1/audit").json()["entries"][0]
    assert entry["action"] == "view_portrait" and entry["actor"] == "super"
    assert entry["detail"]["purpose"] == "foreign_national_record"
    central = app.state.central
    clock.now += central.config.retention.portrait_hours * 3600 + 1
    purge(central)  # the referral portrait goes, the record stays with its transaction
    client.cookies.clear()
    login(client, "super")  # the session timed out meanwhile
    assert client.get(path).status_code == 200
    assert (
        client.get(f"/api/v1/referrals/{referred['transaction_id']}/portraits/live").status_code
        == 404
    )
    clock.now += central.config.retention.transaction_days * 86400
    purge(central)
    client.cookies.clear()
    login(client, "super")
    assert client.get(path).status_code == 404


def test_alarm_transition_table() -> None:
    assert transition("active", True, "acknowledge", acknowledged=False).state == "acknowledged"
    # condition gone but nobody acknowledged: stays active until acknowledged, then cleared
    gone = transition("active", True, "condition_clear", acknowledged=False)
    assert gone.state == "active" and not gone.condition_active
    assert transition("active", False, "acknowledge", acknowledged=False).state == "cleared"
    assert transition("acknowledged", True, "condition_clear", acknowledged=True).state == "cleared"
    assert transition("shelved", True, "unshelve", acknowledged=True).state == "acknowledged"
    assert transition("shelved", True, "unshelve", acknowledged=False).state == "active"
    with pytest.raises(Conflict, match="cleared"):
        transition("cleared", False, "acknowledge", acknowledged=True)
    assert all(
        target != "cleared" or op in ("condition_clear", "clear")
        for (_, op), target in TRANSITIONS.items()
    )


def test_lane_alarm_acknowledge_shelve_and_clear(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    make_event: Callable[..., dict[str, Any]],
    login: Callable[..., str],
    clock: Any,
) -> None:
    from central.app import housekeeping_once

    client = client
    token = register_lane(app, "L1")
    _ingest(client, token, [make_event("L1", 0, "alarm", alarm="tailgating")])
    _ingest(client, token, [make_event("L1", 1, "alarm", alarm="tailgating")])  # same, again
    login(client, "officer")
    [alarm] = client.get("/api/v1/alarms").json()["alarms"]
    assert alarm["kind"] == "tailgating" and alarm["state"] == "active"
    aid = alarm["alarm_id"]
    shelved = client.post(f"/api/v1/alarms/{aid}/shelve", json={"minutes": 5}).json()
    assert shelved["state"] == "shelved"
    clock.advance(301)
    housekeeping_once(app.state.central)
    assert client.get("/api/v1/alarms").json()["alarms"][0]["state"] == "active"
    assert (
        client.post(f"/api/v1/alarms/{aid}/acknowledge", json={}).json()["state"] == "acknowledged"
    )
    assert client.post(f"/api/v1/alarms/{aid}/acknowledge", json={}).status_code == 409
    _ingest(client, token, [make_event("L1", 2, "alarm", alarm="tailgating", active=False)])
    assert client.get("/api/v1/alarms").json()["alarms"] == []
    cleared = client.get("/api/v1/alarms?state=cleared").json()["alarms"]
    assert cleared[0]["alarm_id"] == aid and cleared[0]["acknowledged_by"] == "officer"
    assert client.post(f"/api/v1/alarms/{aid}/clear", json={}).status_code == 403  # supervisor


def test_document_used_twice_on_two_lanes_raises_alarm(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    make_event: Callable[..., dict[str, Any]],
    login: Callable[..., str],
) -> None:
    t1 = register_lane(app, "L1")
    t2 = register_lane(app, "L2")
    t3 = register_lane(app, "D1", direction="departure")
    fp = document_fingerprint("UTO", "L898902C3", "740812")
    doc = {
        "format": "TD3",
        "document_code": "P",
        "issuing_state": "UTO",
        "nationality": "UTO",
        "masked_number": "*****02C3",
        "fingerprint": fp,
    }
    other = {**doc, "fingerprint": document_fingerprint("UTO", "X1234567", "740812")}
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    # the exit comes before the first entry, not between the two entries
    _ingest(client, t3, [make_event("D1", 0, document=doc, occurred_at=now - timedelta(hours=1))])
    _ingest(client, t1, [make_event("L1", 0, document=doc)])
    _ingest(client, t2, [make_event("L2", 0, document=other)])  # other document: fine
    login(client, "officer")
    assert client.get("/api/v1/alarms").json()["alarms"] == []
    second = make_event("L2", 1, document=doc)
    _ingest(client, t2, [second])
    [alarm] = client.get("/api/v1/alarms").json()["alarms"]
    assert alarm["kind"] == "document_used_twice" and alarm["lane_id"] == "L2"
    assert alarm["transaction_id"] == second["transaction_id"]
    assert "another lane" in alarm["detail"] and "02C3" in alarm["detail"]


def test_forced_door_and_device_fault_raise_alarms(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    make_event: Callable[..., dict[str, Any]],
    login: Callable[..., str],
) -> None:
    token = register_lane(app, "L1")
    client.post(
        "/api/v1/lanes/L1/heartbeat",
        headers=_lane_headers(token),
        json={"state": "idle", "doors": {"entry": "closed", "exit": "forced"}},
    )
    _ingest(
        client,
        token,
        [make_event("L1", 0, "device_fault", device="camera", code="CAMERA_NO_FRAMES")],
    )
    login(client, "officer")
    kinds = {a["kind"]: a for a in client.get("/api/v1/alarms").json()["alarms"]}
    assert (
        kinds["forced_door"]["severity"] == "critical" and "exit" in kinds["forced_door"]["detail"]
    )
    assert kinds["device_fault:camera"]["condition_active"] is True
    _ingest(
        client,
        token,
        [
            make_event(
                "L1", 1, "device_fault", device="camera", code="CAMERA_NO_FRAMES", recovered=True
            )
        ],
    )
    kinds = {a["kind"]: a for a in client.get("/api/v1/alarms").json()["alarms"]}
    assert kinds["device_fault:camera"]["condition_active"] is False  # still to acknowledge
