"""The virtual-time event loop (simulator/vtime.py): the clock jumps over idle waits, stands
still while worker threads compute, charges their computing, and lets jobs sleep in virtual
time."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time

from simulator import vtime


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_an_idle_wait_takes_no_wall_time() -> None:
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        t0, w0 = loop.time(), time.monotonic()
        await asyncio.sleep(3600)
        return loop.time() - t0, time.monotonic() - w0

    virtual, wall = vtime.run(main())
    assert 3600 <= virtual < 3600.01
    assert wall < 1.0


def test_timeouts_are_on_the_virtual_clock() -> None:
    async def main() -> bool:
        try:
            async with asyncio.timeout(10):
                await asyncio.sleep(11)
        except TimeoutError:
            return True
        return False

    assert vtime.run(main())


def test_a_worker_job_holds_the_clock_and_is_charged_its_computing() -> None:
    async def main() -> tuple[float, int]:
        loop = asyncio.get_running_loop()
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.001)
                ticks += 1

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        t0 = loop.time()
        await asyncio.to_thread(_spin, 0.1)
        task.cancel()
        return loop.time() - t0, ticks

    elapsed, ticks = vtime.run(main())
    # 0.1 s of computing arrives 0.1 s later on the clock, and the clock did not run ahead
    # (a ticker every 1 ms saw about 100 ticks, not thousands) while the thread computed
    assert 0.09 < elapsed < 0.5
    assert ticks < 200


def test_thread_sleep_waits_in_virtual_time_without_holding_the_clock() -> None:
    def job() -> None:
        for _ in range(10):
            vtime.thread_sleep(60.0)

    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        t0, w0 = loop.time(), time.monotonic()
        other = asyncio.create_task(asyncio.sleep(300))  # the rest of the world goes on
        await asyncio.to_thread(job)
        assert other.done()
        return loop.time() - t0, time.monotonic() - w0

    virtual, wall = vtime.run(main())
    assert 600 <= virtual < 601
    assert wall < 2.0


def test_a_job_queued_behind_a_sleeping_job_does_not_stop_the_clock() -> None:
    pool = concurrent.futures.ThreadPoolExecutor(1)

    async def main() -> float:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        first = loop.run_in_executor(pool, vtime.thread_sleep, 5.0)
        second = loop.run_in_executor(pool, lambda: "done")
        assert await asyncio.wait_for(second, 60) == "done"
        await first
        return loop.time() - t0

    try:
        assert 5.0 <= vtime.run(main()) < 6.0
    finally:
        pool.shutdown()


def test_outside_a_virtual_loop_thread_sleep_is_a_real_sleep() -> None:
    start = time.monotonic()
    vtime.thread_sleep(0.05)
    assert time.monotonic() - start >= 0.05
    assert vtime.current_loop() is None


def test_code_polling_for_a_strictly_later_time_does_not_spin_for_ever() -> None:
    """Regression: the gate driver's timer polled until "now > deadline" with the deadline at
    the current instant; with ready callbacks the clock never moved and the loop spun."""

    async def main() -> int:
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        rounds = 0
        while not loop.time() > deadline:
            await asyncio.sleep(0)
            rounds += 1
            assert rounds < 1000
        return rounds

    assert vtime.run(main()) >= 1
