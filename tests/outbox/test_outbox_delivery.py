"""Delivery to central: batches, retry with backoff and jitter, exactly once at the stub."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from gate import events
from gate.outbox.client import CentralAuthError, CentralClient, CentralUnavailable
from gate.outbox.delivery import Backoff, Deliverer
from gate.outbox.store import Outbox
from simulator.central import CentralStub

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def state(fields: dict[str, Any]) -> events.LaneStateEvent:
    return events.LaneStateEvent(**fields, state=events.LaneState.IDLE)


def referred(fields: dict[str, Any]) -> events.TransactionEvent:
    return events.TransactionEvent(
        **fields, transaction_id=uuid.uuid4(), decision=events.Decision.REFERRED
    )


class Rig:
    def __init__(self, tmp: Path, token: str = "test-token") -> None:
        self.stub = CentralStub()
        self.outbox = Outbox(tmp / "outbox.sqlite", "lane-1")
        self.client = CentralClient(
            "http://central", "lane-1", token, transport=httpx.ASGITransport(self.stub.app())
        )
        self.executor = ThreadPoolExecutor(1)
        self.links: list[bool] = []
        self.deliverer = Deliverer(
            self.outbox,
            self.client,
            self.executor,
            batch_size=100,
            backoff=Backoff(base=0.01, cap=0.05, rng=random.Random(1)),
            idle_seconds=0.02,
            on_link=lambda up, _: self.links.append(up),
        )

    async def drain(self, timeout: float = 10.0) -> None:
        task = asyncio.create_task(self.deliverer.run())
        try:
            async with asyncio.timeout(timeout):
                while self.outbox.stats().depth or self.outbox.stats().portraits:
                    await asyncio.sleep(0.01)
        finally:
            task.cancel()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    yield r
    asyncio.run(r.client.aclose())
    r.executor.shutdown()
    r.outbox.close()


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


def test_backoff_grows_with_jitter_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(base=0.5, cap=8.0, rng=random.Random(3))
    delays = [backoff.next_delay() for _ in range(8)]
    ceilings = [0.5, 1, 2, 4, 8, 8, 8, 8]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    assert len({round(d, 6) for d in delays[4:]}) == 4  # jitter: capped delays still differ
    backoff.reset()
    assert backoff.next_delay() <= 0.5


async def _test_batches_deliver_every_event_once(rig: Rig) -> None:
    for _ in range(250):
        rig.outbox.append(state, NOW)
    await rig.drain()
    assert rig.stub.seqs() == list(range(250))
    assert rig.stub.requests == 3  # 100 + 100 + 50
    assert rig.deliverer.stats.delivered == 250 and rig.links == [True]


def test_batches_deliver_every_event_once(rig: Rig) -> None:
    run(_test_batches_deliver_every_event_once(rig))


async def _test_central_down_then_back(rig: Rig) -> None:
    for _ in range(5):
        rig.outbox.append(state, NOW)
    rig.stub.faults.fail_next = 4
    await rig.drain()
    assert rig.stub.seqs() == list(range(5))
    assert rig.deliverer.stats.failures == 4
    assert rig.links == [False, True]
    assert rig.deliverer.backoff.failures == 0  # success reset the backoff


def test_central_down_then_back(rig: Rig) -> None:
    run(_test_central_down_then_back(rig))


async def _test_lost_answer_is_resent_and_deduplicated(rig: Rig) -> None:
    for _ in range(10):
        rig.outbox.append(state, NOW)
    rig.stub.faults.lose_answer_next = 2
    await rig.drain()
    assert set(rig.stub.received.values()) == {3}  # sent three times ...
    assert rig.stub.seqs() == list(range(10))  # ... stored once
    assert rig.deliverer.stats.duplicates == 10


def test_lost_answer_is_resent_and_deduplicated(rig: Rig) -> None:
    run(_test_lost_answer_is_resent_and_deduplicated(rig))


async def _test_backpressure_waits_for_retry_after(rig: Rig) -> None:
    rig.outbox.append(state, NOW)
    rig.stub.faults.busy_next = 1
    rig.stub.faults.retry_after = 0.3
    loop = asyncio.get_running_loop()
    started = loop.time()
    await rig.drain()
    assert loop.time() - started >= 0.3
    assert rig.stub.seqs() == [0]


def test_backpressure_waits_for_retry_after(rig: Rig) -> None:
    run(_test_backpressure_waits_for_retry_after(rig))


async def _test_rejected_events_do_not_block_the_queue(rig: Rig) -> None:
    rig.outbox.append(state, NOW)
    # an event central cannot read (written by a broken build): refused for good
    rig.outbox._db.execute("UPDATE events SET body=? WHERE seq=0", ('{"type": "bogus"}',))
    rig.outbox.append(state, NOW)
    await rig.drain()
    assert rig.stub.seqs() == [1]
    assert rig.outbox.stats().rejected == 1 and rig.deliverer.stats.rejected == 1


def test_rejected_events_do_not_block_the_queue(rig: Rig) -> None:
    run(_test_rejected_events_do_not_block_the_queue(rig))


async def _test_portraits_follow_their_event_and_are_deleted(rig: Rig) -> None:
    event = rig.outbox.append(referred, NOW, portraits={"chip": b"\xff\xd8chip", "live": b"live"})
    await rig.drain()
    tx = str(event.transaction_id)
    assert rig.stub.portraits == {(tx, "chip"): b"\xff\xd8chip", (tx, "live"): b"live"}
    assert rig.outbox.stats().portraits == 0


def test_portraits_follow_their_event_and_are_deleted(rig: Rig) -> None:
    run(_test_portraits_follow_their_event_and_are_deleted(rig))


async def _test_client_errors_say_what_to_do(tmp_path: Path) -> None:
    bad = Rig(tmp_path, token="wrong")
    with pytest.raises(CentralAuthError, match=r"check \[central\] token"):
        await bad.client.ingest(["{}"])
    await bad.client.aclose()
    down = CentralClient("http://127.0.0.1:9", "lane-1", "t", timeout=0.5)
    with pytest.raises(CentralUnavailable, match="cannot reach central"):
        await down.heartbeat({})
    await down.aclose()
    bad.executor.shutdown()
    bad.outbox.close()


def test_client_errors_say_what_to_do(tmp_path: Path) -> None:
    run(_test_client_errors_say_what_to_do(tmp_path))


async def _test_commands_and_acks_round_trip(rig: Rig) -> None:
    command_id = rig.stub.command("close_lane", {"note": "x"})
    commands = await rig.client.poll_commands(wait=1)
    assert [(c.command_id, c.action) for c in commands] == [(command_id, "close_lane")]
    assert not commands[0].expired(datetime.now(UTC))
    await rig.client.ack(command_id, "done", "closed")
    assert rig.stub.acks[command_id] == {"result": "done", "detail": "closed"}
    assert await rig.client.poll_commands(wait=0) == []


def test_commands_and_acks_round_trip(rig: Rig) -> None:
    run(_test_commands_and_acks_round_trip(rig))
