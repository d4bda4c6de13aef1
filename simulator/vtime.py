"""A virtual-time asyncio event loop: ``egate sim run --fast`` runs real lane daemons against the
physical model faster than real time.

``loop.time()`` is a virtual clock. When nothing is ready to run, no worker thread is computing
and no simulated byte is in flight, the loop jumps the clock straight to its next timer instead
of sleeping. Everything the lane daemon times (its core's deadlines, ``asyncio.sleep``,
``asyncio.timeout``) and everything the simulated world times (doors, walking, camera frames,
the chip link) is on that clock, so a passage takes the same simulated seconds as in real time.

Computing is not free: a worker-thread job (``run_in_executor``, ``asyncio.to_thread``) stops
the clock while it runs (a job still queued for a busy worker does not), and its result arrives
as many virtual seconds later as the thread was busy (wall time), so software time still lies
on the traveller's path. A job that waits for the simulated world (a camera frame, a chip
exchange) calls :func:`thread_sleep`, which charges the computing so far and sleeps in virtual
time without holding the clock.

Threads that are not worker jobs (a serial driver's reader thread) take part through
:meth:`VirtualTimeLoop.hold` / :meth:`VirtualTimeLoop.release` around data they must hand over
before the clock may move.
"""

from __future__ import annotations

import asyncio
import contextlib
import selectors
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from typing import Any, TypeVar

T = TypeVar("T")
BUSY_POLL_SECONDS = 0.002
"""How often the loop looks again while a thread holds the clock (real seconds)."""
LOOP_ROUND_SECONDS = 1e-6
"""Virtual time one round of the event loop takes."""
STARTING_GRACE_SECONDS = 0.02
"""How long the clock waits for submitted worker jobs to start (real seconds)."""

_local = threading.local()


class _Job:
    """Book-keeping of one worker-thread job: wall seconds spent computing so far."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self.loop = loop
        self.charged = 0.0
        self.segment: float | None = time.perf_counter()

    def take(self) -> float:
        """Computing since the last call (ends the current busy segment)."""
        if self.segment is not None:
            self.charged += time.perf_counter() - self.segment
            self.segment = None
        spent, self.charged = self.charged, 0.0
        return spent


class _Selector(selectors.BaseSelector):
    """The loop's selector: real readiness first; when there is none and nobody holds the
    clock, the virtual clock jumps to the next timer."""

    def __init__(self, inner: selectors.BaseSelector, loop: VirtualTimeLoop) -> None:
        self._inner = inner
        self._loop = loop

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.get_key(fileobj)

    def get_map(self) -> Any:
        return self._inner.get_map()

    def close(self) -> None:
        self._inner.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        # every round of the loop takes a little time, as on a real clock: code that polls
        # until "now > deadline" (strictly) cannot spin for ever at one instant
        self._loop.creep()
        ready = self._inner.select(0)
        if ready or timeout == 0:
            return ready
        loop = self._loop
        grace = STARTING_GRACE_SECONDS
        while True:
            if loop.busy > 0:
                ready = self._inner.select(BUSY_POLL_SECONDS)
            elif loop.starting > 0 and grace > 0:
                # a job handed to a worker thread that has not started yet: give it a moment
                # (one queued behind a job that waits for the clock would wait for ever)
                ready = self._inner.select(BUSY_POLL_SECONDS)
                grace -= BUSY_POLL_SECONDS
            elif timeout is None:  # no timer at all: wait for real I/O
                ready = self._inner.select(0.05)
            else:
                loop.advance_to_next_timer()
                return []
            if ready:
                return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        super().__init__()
        self._vnow = time.monotonic()
        self._busy = 0
        self.starting = 0
        self._busy_lock = threading.Lock()
        self._selector = _Selector(self._selector, self)  # type: ignore[has-type]
        self.jumps = 0

    # ------------------------------------------------------------------ the clock

    def time(self) -> float:
        return self._vnow

    @property
    def busy(self) -> int:
        return self._busy

    def advance_to_next_timer(self) -> None:
        scheduled: list[asyncio.TimerHandle] = self._scheduled  # type: ignore[attr-defined]
        if scheduled:  # a heap whose head _run_once has cleared of cancelled timers
            when = scheduled[0].when()
            if when > self._vnow:
                self._vnow = when
                self.jumps += 1

    def creep(self) -> None:
        self._vnow += LOOP_ROUND_SECONDS

    def hold(self) -> None:
        """Stop the clock until :meth:`release` (any thread)."""
        with self._busy_lock:
            self._busy += 1

    def release(self) -> None:
        with self._busy_lock:
            self._busy -= 1

    # ------------------------------------------------------------------ worker threads

    def run_in_executor(  # type: ignore[override]
        self, executor: Executor | None, func: Callable[..., T], *args: Any
    ) -> asyncio.Future[T]:
        outer: asyncio.Future[T] = self.create_future()
        charge = [0.0]
        started = [False]

        def job() -> T:
            with self._busy_lock:
                self.starting -= 1
                self._busy += 1
                started[0] = True
            record = _Job(self)
            _local.job = record
            try:
                return func(*args)
            finally:
                charge[0] = record.take()
                _local.job = None

        with self._busy_lock:
            self.starting += 1
        inner = super().run_in_executor(executor, job)

        def deliver(done: asyncio.Future[T]) -> None:
            with self._busy_lock:
                if started[0]:
                    self._busy -= 1
                else:  # cancelled before a worker took it
                    self.starting -= 1
            if outer.cancelled():
                return

            def settle() -> None:
                if outer.done():
                    return
                if done.cancelled():
                    outer.cancel()
                elif done.exception() is not None:
                    outer.set_exception(done.exception())  # type: ignore[arg-type]
                else:
                    outer.set_result(done.result())

            if charge[0] > 0:
                self.call_at(self._vnow + charge[0], settle)
            else:
                settle()

        inner.add_done_callback(deliver)
        return outer


def current_loop() -> VirtualTimeLoop | None:
    """The virtual-time loop of the calling worker job or thread, if any."""
    job: _Job | None = getattr(_local, "job", None)
    if job is not None:
        return job.loop
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return loop if isinstance(loop, VirtualTimeLoop) else None


def in_job() -> bool:
    """Whether the calling thread runs a worker job of a virtual-time loop."""
    return getattr(_local, "job", None) is not None


@contextlib.contextmanager
def idle() -> Iterator[None]:
    """The calling worker job waits for the simulated world: the clock may move meanwhile."""
    job: _Job | None = getattr(_local, "job", None)
    if job is None:
        yield
        return
    if job.segment is not None:
        job.charged += time.perf_counter() - job.segment
        job.segment = None
    job.loop.release()
    try:
        yield
    finally:
        job.loop.hold()
        job.segment = time.perf_counter()


@contextlib.contextmanager
def not_charged() -> Iterator[None]:
    """Computing that is not the lane's (the simulated chip's own processing, which the link
    model already times): the clock stays held but the job is not charged for it."""
    job: _Job | None = getattr(_local, "job", None)
    began = time.perf_counter()
    try:
        yield
    finally:
        if job is not None and job.segment is not None:
            job.segment += time.perf_counter() - began


def thread_sleep(seconds: float, *, until: float | None = None) -> None:
    """Sleep ``seconds`` of virtual time from a worker job (or until virtual time ``until``),
    after the computing done so far; outside a virtual-time loop, a real sleep."""
    job: _Job | None = getattr(_local, "job", None)
    if job is None:
        if seconds > 0:
            time.sleep(seconds)
        return
    loop = job.loop
    spent = job.take()
    woken = threading.Event()

    def wake() -> None:
        loop.hold()  # before the thread runs again: the clock must not move while it wakes
        woken.set()

    def arm() -> None:
        at = loop.time() + spent
        at = max(at, until) if until is not None else at + seconds
        loop.call_at(at, wake)

    loop.call_soon_threadsafe(arm)
    loop.release()  # this job waits for the clock now
    while not woken.wait(0.5):
        if loop.is_closed() or not loop.is_running():
            loop.hold()
            break
    job.segment = time.perf_counter()


def run(main: Any) -> Any:
    """``asyncio.run`` on a virtual-time loop."""
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(main)
