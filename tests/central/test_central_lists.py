"""Versioned, signed lists: edits, CSV/JSON import, deltas, manifests per port."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import FastAPI
from fastapi.testclient import TestClient

from central.lists import canonical


def _verify(client: TestClient, doc: dict[str, Any]) -> None:
    key = load_pem_public_key(client.get("/api/v1/lists/public-key").text.encode())
    assert isinstance(key, Ed25519PublicKey)
    key.verify(base64.b64decode(doc["signature"]), canonical(doc))  # raises if not valid


def test_watchlist_versions_and_signed_deltas(
    sqlite_app: FastAPI,
    sqlite_client: TestClient,
    register_lane: Callable[..., str],
    login: Callable[..., str],
) -> None:
    client = sqlite_client
    token = register_lane(sqlite_app, "L1")
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
    assert delta["removed"] == ["D:C01X00T47", "UTO:AB1234567"]  # b replaced, a removed
    assert [e["category"] for e in delta["added"]] == ["lost-stolen"]
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
    sqlite_client: TestClient,
    login: Callable[..., str],
) -> None:
    login(sqlite_client, "super")
    good = (
        "issuing_state,document_number,name,nationality,valid_until\n"
        "UTO,L898902C3,ERIKSSON ANNA,UTO,2030-01-01\n"
        "D,C01X00T47,MUSTERMANN ERIKA,D,\n"
    )
    r = sqlite_client.post(
        "/api/v1/lists/registry/import?replace=true",
        content=good,
        headers={"content-type": "text/csv"},
    )
    assert r.status_code == 200 and r.json()["added"] == 2
    bad = "issuing_state,document_number\nuto,???\n"
    r = sqlite_client.post(
        "/api/v1/lists/registry/import", content=bad, headers={"content-type": "text/csv"}
    )
    assert r.status_code == 422 and "entry 0" in r.json()["detail"]
    r = sqlite_client.post(
        "/api/v1/lists/registry/import?replace=true",
        content=json.dumps({"entries": [{"issuing_state": "UTO", "document_number": "X1"}]}),
        headers={"content-type": "application/json"},
    )
    assert r.json()["version"] == 2
    entries = sqlite_client.get("/api/v1/lists/registry").json()["entries"]
    assert [e["key"] for e in entries] == ["UTO:X1"]


def test_manifests_go_to_the_lanes_of_their_port(
    sqlite_app: FastAPI,
    sqlite_client: TestClient,
    register_lane: Callable[..., str],
    login: Callable[..., str],
) -> None:
    tpe = register_lane(sqlite_app, "T1", port="TPE")
    khh = register_lane(sqlite_app, "K1", port="KHH")
    login(sqlite_client, "super")
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
    sqlite_client.post("/api/v1/lists/manifests/import", json=rows)
    got_tpe = sqlite_client.get(
        "/api/v1/lanes/T1/lists/manifests", headers={"Authorization": f"Bearer {tpe}"}
    ).json()
    got_khh = sqlite_client.get(
        "/api/v1/lanes/K1/lists/manifests", headers={"Authorization": f"Bearer {khh}"}
    ).json()
    assert [e["document_number"] for e in got_tpe["entries"]] == ["N0", "N1"]
    assert [e["document_number"] for e in got_khh["entries"]] == ["N2"]
    assert got_tpe["port"] == "TPE"
    assert (
        sqlite_client.get(
            "/api/v1/lanes/T1/lists/manifests", headers={"Authorization": f"Bearer {khh}"}
        ).status_code
        == 403
    )
