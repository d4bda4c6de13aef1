"""Versioned, signed lists: edits, CSV/JSON import, deltas, manifests per port."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import FastAPI
from fastapi.testclient import TestClient

from central.lists import canonical, document_key, lane_item


def _verify(client: TestClient, doc: dict[str, Any]) -> None:
    key = load_pem_public_key(client.get("/api/v1/lists/public-key").text.encode())
    assert isinstance(key, Ed25519PublicKey)
    key.verify(base64.b64decode(doc["signature"]), canonical(doc))  # raises if not valid


def test_watchlist_versions_and_signed_deltas(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    login: Callable[..., str],
) -> None:
    client = client
    token = register_lane(app, "L1")
    lane = {"Authorization": f"Bearer {token}"}
    login(client, "super")
    a = {"issuing_state": "UTO", "document_number": "AB1234567", "category": "lost-stolen"}
    b = {"issuing_state": "D", "document_number": "C01X00T47", "category": "wanted"}
    assert (
        client.post("/api/v1/lists/watchlist/entries", json={"entries": [a, b]}).json()["version"]
        == 1
    )
    full = client.get("/api/v1/lanes/L1/lists/watchlist", headers=lane).json()
    assert full["full"] and full["version"] == 1 and len(full["entries"]) == 2
    _verify(client, full)
    assert client.delete("/api/v1/lists/watchlist/entries/UTO:AB1234567").json()["version"] == 2
    b2 = {**b, "category": "lost-stolen"}
    assert (
        client.post("/api/v1/lists/watchlist/entries", json={"entries": [b2]}).json()["version"]
        == 3
    )
    delta = client.get("/api/v1/lanes/L1/lists/watchlist?since=1", headers=lane).json()
    assert not delta["full"] and delta["version"] == 3
    salt = bytes.fromhex(delta["salt"])
    ids = {lane_item("watchlist", e, salt)[0] for e in (a, b)}
    assert set(delta["removed"]) == ids  # b replaced, a removed
    [added] = delta["added"]
    assert added["category"] == "lost-stolen" and added["id"] in ids
    # the lane sees no document number, only HMAC-SHA256(salt, NUMBER|NATIONALITY)
    expected = hmac.new(salt, b"C01X00T47|D", hashlib.sha256).hexdigest()
    assert added["document_keys"] == [expected]
    assert "C01X00T47" not in json.dumps(delta)
    _verify(client, delta)
    tampered = {**delta, "removed": []}
    try:
        _verify(client, tampered)
    except Exception as exc:  # cryptography's InvalidSignature
        assert type(exc).__name__ == "InvalidSignature"
    else:
        raise AssertionError("a changed distribution must not verify")
    assert (
        client.get("/api/v1/lanes/L1/lists/watchlist?since=3", headers=lane).json()["added"] == []
    )
    assert client.get("/api/v1/lanes/L1/lists/watchlist?since=99", headers=lane).json()["full"]
    assert client.get("/api/v1/lists/watchlist").json()["version"] == 3
    assert client.delete("/api/v1/lists/watchlist/entries/UTO:AB1234567").status_code == 404


def test_csv_import_replaces_registry_and_reports_bad_rows(
    client: TestClient,
    login: Callable[..., str],
) -> None:
    login(client, "super")
    good = (
        "issuing_state,document_number,name,nationality,valid_until\n"
        "UTO,L898902C3,ERIKSSON ANNA,UTO,2030-01-01\n"
        "D,C01X00T47,MUSTERMANN ERIKA,D,\n"
    )
    r = client.post(
        "/api/v1/lists/registry/import?replace=true",
        content=good,
        headers={"content-type": "text/csv"},
    )
    assert r.status_code == 200 and r.json()["added"] == 2
    bad = "issuing_state,document_number\nuto,???\n"
    r = client.post(
        "/api/v1/lists/registry/import", content=bad, headers={"content-type": "text/csv"}
    )
    assert r.status_code == 400 and "entry 0" in r.json()["detail"]
    r = client.post(
        "/api/v1/lists/registry/import?replace=true",
        content=json.dumps({"entries": [{"issuing_state": "UTO", "document_number": "X1"}]}),
        headers={"content-type": "application/json"},
    )
    assert r.json()["version"] == 2
    entries = client.get("/api/v1/lists/registry").json()["entries"]
    assert [e["key"] for e in entries] == ["UTO:X1"]


def test_manifests_go_to_the_lanes_of_their_port(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    login: Callable[..., str],
) -> None:
    tpe = register_lane(app, "T1", port="TPE")
    khh = register_lane(app, "K1", port="KHH")
    login(client, "super")
    rows = [
        {
            "flight": "BR87",
            "flight_date": "2026-12-02",
            "port": port,
            "issuing_state": "UTO",
            "document_number": f"N{i}",
        }
        for i, port in enumerate(["TPE", "TPE", "KHH"])
    ]
    client.post("/api/v1/lists/manifests/import", json=rows)
    got_tpe = client.get(
        "/api/v1/lanes/T1/lists/manifests", headers={"Authorization": f"Bearer {tpe}"}
    ).json()
    got_khh = client.get(
        "/api/v1/lanes/K1/lists/manifests", headers={"Authorization": f"Bearer {khh}"}
    ).json()
    salt = bytes.fromhex(got_tpe["salt"])
    assert [e["key"] for e in got_tpe["entries"]] == [
        document_key(salt, n, "UTO") for n in ("N0", "N1")
    ]
    assert [e["key"] for e in got_khh["entries"]] == [document_key(salt, "N2", "UTO")]
    assert got_tpe["entries"][0]["flight"] == "BR87"
    assert got_tpe["entries"][0]["day"] == "2026-12-02"
    assert got_tpe["port"] == "TPE"
    assert (
        client.get(
            "/api/v1/lanes/T1/lists/manifests", headers={"Authorization": f"Bearer {khh}"}
        ).status_code
        == 403
    )


def test_lane_core_reads_the_distributed_lists(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    login: Callable[..., str],
) -> None:
    """What central ships is what gate.policy.lists (the lane core) consults."""
    from datetime import date

    from gate.policy.lists import EnrolledRegistry, WatchList

    token = register_lane(app, "L1")
    lane = {"Authorization": f"Bearer {token}"}
    login(client, "super")
    client.post(
        "/api/v1/lists/watchlist/entries",
        json={
            "entries": [
                {
                    "issuing_state": "D",
                    "document_number": "C01X00T47",
                    "nationality": "D",
                    "name": "MUSTERMANN ERIKA",
                    "date_of_birth": "1964-08-12",
                }
            ]
        },
    )
    client.post(
        "/api/v1/lists/registry/entries",
        json={
            "entries": [
                {"issuing_state": "UTO", "document_number": "L898902C3", "nationality": "UTO"}
            ]
        },
    )
    watch = client.get("/api/v1/lanes/L1/lists/watchlist", headers=lane).json()
    wl = WatchList.from_dict(watch)
    assert wl.match("C01X00T47", "D", "", None)  # by document
    assert wl.match("X0000000", "D", "ERIKA MUSTERMANN", date(1964, 8, 12))  # by name + birth
    assert not wl.match("L898902C3", "UTO", "ERIKSSON ANNA", date(1974, 8, 12))
    reg = client.get("/api/v1/lanes/L1/lists/registry", headers=lane).json()
    registry = EnrolledRegistry.from_dict({**reg, "keys": reg["entries"]})
    assert registry.contains("L898902C3", "UTO") and not registry.contains("C01X00T47", "D")
