"""Group commit: the writes of concurrent requests go to the database together.

A request hands its item to :meth:`GroupCommit.submit` and waits for the result. When the
writer is idle the item is written at once (no added latency); while a write is running, the
items that arrive meanwhile wait and are then written together in one transaction, in one
worker thread. Under load this turns N small transactions (each with its commit, its thread
hand-off and, on SQLite, its turn at the write lock) into one, without a timer.

``apply(items)`` runs in a worker thread and returns one result per item in order; a result
that is an exception is raised to that item's request only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from starlette.concurrency import run_in_threadpool

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    def __init__(
        self, apply: Callable[[Sequence[T]], Sequence[R | BaseException]], max_items: int = 256
    ) -> None:
        self._apply = apply
        self._max_items = max_items
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None
        self.groups = 0
        self.items = 0

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, future))
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            group = self._pending[: self._max_items]
            del self._pending[: self._max_items]
            self.groups += 1
            self.items += len(group)
            try:
                results = await run_in_threadpool(self._apply, [item for item, _ in group])
            except Exception as exc:  # the whole group failed: each request learns why
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(group, results, strict=True):
                if future.done():  # the request went away
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
