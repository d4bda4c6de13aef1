"""Group commit: concurrent writes share transactions, every request gets its own result."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from central.db import events, lanes
from central.group import GroupCommit


def test_items_arriving_during_a_write_are_written_together() -> None:
    groups: list[list[int]] = []

    def apply(items: Sequence[int]) -> list[int | BaseException]:
        groups.append(list(items))
        time.sleep(0.05)  # a slow write: the others queue up meanwhile
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]

    async def main() -> list[Any]:
        group: GroupCommit[int, int] = GroupCommit(apply)
        return await asyncio.gather(*(group.submit(i) for i in range(20)), return_exceptions=True)

    results = asyncio.run(main())
    assert [r for r in results if not isinstance(r, BaseException)] == list(range(0, 200, 20))
    assert all(isinstance(results[i], ValueError) for i in range(1, 20, 2))
    assert sorted(i for g in groups for i in g) == list(range(20))
    assert len(groups) < 20  # not one transaction per item


def test_a_failed_group_fails_only_its_own_requests() -> None:
    calls = 0

    def apply(items: Sequence[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database went away")
        return list(items)

    async def main() -> tuple[Any, Any]:
        group: GroupCommit[int, int] = GroupCommit(apply)
        first = await asyncio.gather(group.submit(1), return_exceptions=True)
        return first, await group.submit(2)

    first, second = asyncio.run(main())
    assert isinstance(first[0], RuntimeError) and second == 2


def test_concurrent_heartbeats_are_all_stored(
    app: FastAPI,
    register_lane: Callable[..., str],
    live_server: Callable[[FastAPI], Any],
) -> None:
    tokens = {f"H{i:02d}": register_lane(app, f"H{i:02d}") for i in range(40)}

    async def beat(http: httpx.AsyncClient, lane: str) -> int:
        r = await http.post(
            f"/api/v1/lanes/{lane}/heartbeat",
            json={"state": "idle", "step": f"s-{lane}", "devices": {"camera": "ok"}},
            headers={"Authorization": f"Bearer {tokens[lane]}"},
        )
        return r.status_code

    with live_server(app) as server:

        async def main() -> list[int]:
            async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
                return await asyncio.gather(*(beat(http, lane) for lane in tokens))

        statuses = asyncio.run(main())
    assert statuses == [200] * len(tokens)
    with app.state.central.db.read() as conn:
        rows = {r.lane_id: r for r in conn.execute(select(lanes))}
    for lane in tokens:
        assert rows[lane].online and rows[lane].step == f"s-{lane}", lane
    group = app.state.central.extras["heartbeats"]
    assert group.items == len(tokens)


def test_concurrent_batches_share_transactions_and_keep_their_own_outcome(
    app: FastAPI,
    register_lane: Callable[..., str],
    make_event: Callable[..., dict[str, Any]],
    live_server: Callable[[FastAPI], Any],
) -> None:
    tokens = {f"B{i}": register_lane(app, f"B{i}") for i in range(8)}  # 8: no 429
    batches = {lane: [make_event(lane, s) for s in range(20)] for lane in tokens}
    batches["B3"][5] = make_event("B0", 5)  # another lane's event: the whole batch is refused
    batches["B4"][7]["seq"] = -1  # one bad event: rejected, the rest kept

    async def send(http: httpx.AsyncClient, lane: str) -> httpx.Response:
        return await http.post(
            "/api/v1/ingest/events",
            json={"events": batches[lane]},
            headers={"Authorization": f"Bearer {tokens[lane]}"},
        )

    with live_server(app) as server:

        async def main() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
                return await asyncio.gather(*(send(http, lane) for lane in tokens))

        answers = dict(zip(tokens, asyncio.run(main()), strict=True))
    assert answers["B3"].status_code == 403
    body = answers["B4"].json()
    assert [r["index"] for r in body["rejected"]] == [7] and len(body["accepted"]) == 19
    for lane in set(tokens) - {"B3", "B4"}:
        assert answers[lane].json()["accepted"] == [e["event_id"] for e in batches[lane]]
    with app.state.central.db.read() as conn:
        stored = dict(
            conn.execute(select(events.c.lane_id, func.count()).group_by(events.c.lane_id)).all()
        )
    assert "B3" not in stored and stored["B4"] == 19 and stored["B0"] == 20
    assert app.state.central.extras["ingest"].items == len(tokens)
