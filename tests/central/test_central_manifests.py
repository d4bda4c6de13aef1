"""Advance passenger manifests: CSV and JSON import, per-flight replacement (offloaded
passengers removed, other flights untouched), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient

from central.lists import document_key

CSV_HEADER = "flight,flight_date,port,direction,issuing_state,document_number,nationality,name\n"


def _csv(rows: list[tuple[str, str]]) -> str:
    return CSV_HEADER + "".join(
        f"{flight},2026-12-02,TPE,arrival,UTO,{number},UTO,PASSENGER {number}\n"
        for flight, number in rows
    )


def _import(client: TestClient, body: str, ctype: str, query: str = "") -> dict[str, object]:
    r = client.post(
        f"/api/v1/lists/manifests/import{query}", content=body, headers={"content-type": ctype}
    )
    assert r.status_code == 200, r.text
    result: dict[str, object] = r.json()
    return result


def _passengers(client: TestClient) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in client.get("/api/v1/lists/manifests").json()["entries"]:
        flight, _day, _state, number = e["key"].split(":")
        out.setdefault(flight, []).append(number)
    return out


def test_manifest_csv_import_and_per_flight_replacement(
    app: FastAPI,
    client: TestClient,
    register_lane: Callable[..., str],
    login: Callable[..., str],
) -> None:
    token = register_lane(app, "T1", port="TPE")
    login(client, "super")
    first = _csv([("BR87", "N0"), ("BR87", "N1"), ("BR87", "N2"), ("CI100", "M0")])
    assert _import(client, first, "text/csv")["added"] == 4
    assert _passengers(client) == {"BR87": ["N0", "N1", "N2"], "CI100": ["M0"]}
    [entry] = [
        e for e in client.get("/api/v1/lists/manifests").json()["entries"] if "M0" in e["key"]
    ]
    assert entry["name"] == "PASSENGER M0" and entry["port"] == "TPE"

    # BR87 again as JSON: N1 was offloaded, N3 added; CI100 is not in the import
    again = [
        {
            "flight": "BR87",
            "flight_date": "2026-12-02",
            "port": "TPE",
            "issuing_state": "UTO",
            "document_number": n,
        }
        for n in ("N0", "N2", "N3")
    ]
    result = _import(
        client, json.dumps({"entries": again}), "application/json", "?replace_flights=true"
    )
    assert result["added"] == 3 and result["removed_or_replaced"] == 3
    assert _passengers(client) == {"BR87": ["N0", "N2", "N3"], "CI100": ["M0"]}

    # CI100 again as CSV: M0 offloaded; a merge (no replace_flights) keeps what is there
    _import(client, _csv([("CI100", "M1")]), "text/csv", "?replace_flights=true")
    _import(client, _csv([("BR87", "N9")]), "text/csv")
    assert _passengers(client) == {"BR87": ["N0", "N2", "N3", "N9"], "CI100": ["M1"]}

    # the lane's delta removes the offloaded passengers
    lane = client.get(
        "/api/v1/lanes/T1/lists/manifests?since=1", headers={"Authorization": f"Bearer {token}"}
    ).json()
    salt = bytes.fromhex(lane["salt"])
    removed = set(lane["removed"])
    assert not lane["full"]
    assert {e["key"] for e in lane["added"]} >= {document_key(salt, "N3", "UTO")}
    full = client.get(
        "/api/v1/lanes/T1/lists/manifests", headers={"Authorization": f"Bearer {token}"}
    ).json()
    keys = {e["key"] for e in full["entries"]}
    assert document_key(salt, "N1", "UTO") not in keys
    assert document_key(salt, "M0", "UTO") not in keys
    assert document_key(salt, "M1", "UTO") in keys
    assert removed
    actions = [e["action"] for e in client.get("/api/v1/audit").json()["entries"]]
    assert actions.count("list_manifests_changed") == 4

    bad = client.post(
        "/api/v1/lists/watchlist/import?replace_flights=true",
        content=json.dumps([{"issuing_state": "UTO", "document_number": "X1"}]),
        headers={"content-type": "application/json"},
    )
    assert bad.status_code == 400


def test_csv_with_bare_carriage_returns_is_read_not_a_500(
    app: FastAPI, client: TestClient, login: Callable[..., str]
) -> None:
    login(client, "super")
    body = _csv([("BR87", "N0"), ("BR87", "N1")]).replace("\n", "\r")
    assert _import(client, body, "text/csv")["added"] == 2
    mixed = _csv([("BR87", "N2")]).replace("\n", "\r\n", 1) + "BR87,2026-12-02,TPE,arrival,UTO,N3\r"
    assert _import(client, mixed, "text/csv")["added"] == 2
