"""Exceptions central detects itself: the same document used twice in one direction (at two
lanes, or entry twice without an exit between), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gate.events import document_fingerprint

DOC = {
    "format": "TD3",
    "document_code": "P",
    "issuing_state": "UTO",
    "nationality": "UTO",
    "masked_number": "*****02C3",
    "fingerprint": document_fingerprint("UTO", "L898902C3", "740812"),
}


@pytest.fixture
def passage(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    make_event: Callable[..., dict[str, Any]],
) -> Callable[[str, float], None]:
    """``passage(lane, minutes)``: an accepted passage of DOC at lane ``A1``/``A2`` (arrival)
    or ``D1`` (departure), ``minutes`` after a fixed start."""
    tokens = {
        "A1": register_lane(app, "A1"),
        "A2": register_lane(app, "A2"),
        "D1": register_lane(app, "D1", direction="departure"),
    }
    seqs = dict.fromkeys(tokens, 0)
    start = datetime.now(UTC) - timedelta(days=1)

    def do(lane: str, minutes: float) -> None:
        ev = make_event(
            lane, seqs[lane], document=DOC, occurred_at=start + timedelta(minutes=minutes)
        )
        seqs[lane] += 1
        r = client.post(
            "/api/v1/ingest/events",
            json={"events": [ev]},
            headers={"Authorization": f"Bearer {tokens[lane]}"},
        )
        assert r.status_code == 200 and r.json()["accepted"] == [ev["event_id"]], r.text

    return do


def _reuse_alarms(client: TestClient, login: Callable[..., str]) -> list[dict[str, Any]]:
    login(client, "officer")
    return [
        a
        for a in client.get("/api/v1/alarms").json()["alarms"]
        if a["kind"] == "document_used_twice"
    ]


def test_entry_exit_entry_raises_no_alarm(
    client: TestClient, passage: Callable[[str, float], None], login: Callable[..., str]
) -> None:
    passage("A1", 0)
    passage("D1", 60)
    passage("A2", 120)
    passage("D1", 180)
    assert _reuse_alarms(client, login) == []


def test_passages_arriving_out_of_order_are_judged_by_their_time(
    client: TestClient, passage: Callable[[str, float], None], login: Callable[..., str]
) -> None:
    passage("A1", 120)
    passage("D1", 60)
    passage("A2", 0)  # arrives last; the exit at 60 lies between it and the entry at 120
    assert _reuse_alarms(client, login) == []


def test_entry_twice_on_two_lanes_raises_alarm(
    client: TestClient, passage: Callable[[str, float], None], login: Callable[..., str]
) -> None:
    passage("D1", -30)  # an exit before the first entry is not between the two
    passage("A1", 0)
    passage("A2", 90)
    [alarm] = _reuse_alarms(client, login)
    assert alarm["lane_id"] == "A2" and "another lane" in alarm["detail"]
    assert "without a passage in the other direction" in alarm["detail"]


def test_entry_twice_on_the_same_lane_raises_alarm(
    client: TestClient, passage: Callable[[str, float], None], login: Callable[..., str]
) -> None:
    passage("A1", 0)
    passage("A1", 5)
    [alarm] = _reuse_alarms(client, login)
    assert alarm["lane_id"] == "A1" and "the same lane" in alarm["detail"]


def test_entries_further_apart_than_the_window_raise_no_alarm(
    client: TestClient, passage: Callable[[str, float], None], login: Callable[..., str]
) -> None:
    passage("A1", 0)
    passage("A2", 721)  # [detection] document_reuse_minutes = 720
    assert _reuse_alarms(client, login) == []
    passage("A1", 721 + 720)  # exactly at the window's edge: still within
    assert len(_reuse_alarms(client, login)) == 1
