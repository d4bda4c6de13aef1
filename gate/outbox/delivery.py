"""Deliver the outbox to central: batches, retry with exponential backoff and jitter.

Events leave the outbox only when central answered for them: accepted and duplicates are
deleted, rejected ones are moved aside (they would be refused forever). Anything else (no
answer, a timeout, 5xx, 429, a killed process) leaves them where they are, to be sent again;
central's idempotent ingest on ``event_id`` turns that into exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from gate.outbox.client import (
    CentralAuthError,
    CentralBackpressure,
    CentralClient,
    CentralError,
    CentralProtocolError,
)
from gate.outbox.store import Outbox

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Backoff:
    """Exponential backoff with "equal jitter": the n-th consecutive failure waits a random
    time between half and all of ``min(cap, base * 2**n)``; a success resets it."""

    base: float = 0.5
    cap: float = 60.0
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * (2 ** min(self.failures, 30)))
        self.failures += 1
        return self.rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.failures = 0


@dataclass
class DeliveryStats:
    delivered: int = 0
    duplicates: int = 0
    rejected: int = 0
    portraits: int = 0
    failures: int = 0
    last_delivery: float | None = None
    """Wall-clock time of the last batch central acknowledged."""
    last_error: str = ""
    link_up: bool | None = None


class Deliverer:
    """Runs in the daemon's event loop; the outbox is called in ``executor`` (one thread)."""

    def __init__(
        self,
        outbox: Outbox,
        client: CentralClient,
        executor: Executor,
        *,
        batch_size: int = 100,
        backoff: Backoff | None = None,
        idle_seconds: float = 1.0,
        portrait_retention_seconds: float = 24 * 3600.0,
        on_link: Callable[[bool, str], None] | None = None,
    ) -> None:
        self.outbox = outbox
        self.client = client
        self.executor = executor
        self.batch_size = batch_size
        self.backoff = backoff or Backoff()
        self.idle_seconds = idle_seconds
        self.portrait_retention_seconds = portrait_retention_seconds
        self.stats = DeliveryStats()
        self._wake = asyncio.Event()
        self._on_link = on_link

    async def _db(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: fn(*args, **kwargs))

    def wake(self) -> None:
        """Call after appending: sends at once instead of at the next idle poll."""
        self._wake.set()

    def _link(self, up: bool, error: str = "") -> None:
        if self.stats.link_up is not up:
            self.stats.link_up = up
            if self._on_link is not None:
                self._on_link(up, error)

    async def run(self) -> None:
        """Deliver until cancelled."""
        while True:
            try:
                sent = await self.deliver_once()
            except CentralError as exc:
                self.stats.failures += 1
                self.stats.last_error = str(exc)
                delay = self.backoff.next_delay()
                if isinstance(exc, CentralBackpressure):
                    delay = max(delay, exc.retry_after)
                if isinstance(exc, CentralAuthError | CentralProtocolError):
                    delay = max(delay, 30.0)
                self._link(False, str(exc))
                log.warning("delivery to central failed, retrying in %.1f s: %s", delay, exc)
                await self._sleep(delay, wakeable=False)
                continue
            if not sent:
                await self._sleep(self.idle_seconds, wakeable=True)

    async def _sleep(self, seconds: float, *, wakeable: bool) -> None:
        if not wakeable:
            await asyncio.sleep(seconds)
            return
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def deliver_once(self) -> int:
        """One batch of events (and then pending portraits); returns how many items went out."""
        batch = await self._db(self.outbox.batch, self.batch_size)
        sent = 0
        if batch:
            result = await self.client.ingest([e.body for e in batch])
            self.backoff.reset()
            self._link(True)
            taken = set(result.accepted) | set(result.duplicates)
            refused: list[tuple[str, str]] = []
            for event_id, index, reason in result.rejected:
                if event_id is None and 0 <= index < len(batch):
                    event_id = batch[index].event_id
                if event_id is not None:
                    refused.append((event_id, reason))
            self.stats.delivered += len(result.accepted)
            self.stats.duplicates += len(result.duplicates)
            self.stats.rejected += len(refused)
            self.stats.last_delivery = time.time()
            await self._db(self.outbox.acknowledge, taken)
            if refused:
                log.error("central rejected %d events for good: %s", len(refused), refused[:3])
                await self._db(self.outbox.reject, refused)
            sent += len(batch)
            unanswered = {e.event_id for e in batch} - taken - {r[0] for r in refused}
            if unanswered and len(unanswered) == len(batch):
                raise CentralProtocolError(
                    f"central answered for none of the {len(batch)} events of a batch"
                )
        if not batch:
            await self._db(self.outbox.expire_portraits, self.portrait_retention_seconds)
        portraits = await self._db(self.outbox.pending_portraits, 5)
        for portrait in portraits:
            await self.client.put_portrait(portrait.transaction_id, portrait.kind, portrait.data)
            await self._db(self.outbox.portrait_delivered, portrait.transaction_id, portrait.kind)
            self.stats.portraits += 1
            sent += 1
            self.backoff.reset()
            self._link(True)
        return sent
