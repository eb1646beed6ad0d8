"""ManualClock, ScaledClock and ``within``: time moves only by ``await clock.advance(s)``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from flight.clock import ManualClock, ScaledClock, within


async def test_clock_sleepers_wake_in_order_at_their_deadlines() -> None:
    clock = ManualClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.monotonic()))

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("c", 3.0), ("a", 1.0), ("b", 2.0))]
    await clock.advance(0)
    assert woke == []
    await clock.advance(1.5)
    assert woke == [("a", 1.0)]
    await clock.advance(10)
    assert woke == [("a", 1.0), ("b", 2.0), ("c", 3.0)]
    assert clock.monotonic() == 11.5
    await asyncio.gather(*tasks)


async def test_clock_sleeper_added_during_advance_wakes_within_it() -> None:
    clock = ManualClock()
    woke: list[float] = []

    async def chain() -> None:
        await clock.sleep(1)
        woke.append(clock.monotonic())
        await clock.sleep(1)
        woke.append(clock.monotonic())

    task = asyncio.create_task(chain())
    await clock.advance(5)
    assert woke == [1.0, 2.0]
    await task


async def test_clock_utc_follows_mission_time() -> None:
    clock = ManualClock(start_utc=datetime(2030, 5, 1, tzinfo=UTC))
    await clock.advance(90)
    assert clock.utc() == datetime(2030, 5, 1, 0, 1, 30, tzinfo=UTC)


async def test_clock_advance_refuses_negative_time() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        await ManualClock().advance(-1)


@pytest.mark.req("FLT-13")
async def test_clock_within_times_out_on_mission_time() -> None:
    clock = ManualClock()
    never: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(within(clock, 5.0, never))
    await clock.advance(4.5)
    assert not task.done()
    await clock.advance(0.5)
    assert task.done()
    with pytest.raises(TimeoutError, match=r"not within 5\.0 s"):
        task.result()
    assert never.cancelled()


async def test_clock_within_returns_the_result_in_time() -> None:
    clock = ManualClock()
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(within(clock, 5.0, future))
    await clock.advance(1)
    future.set_result(42)
    assert await task == 42


async def test_clock_within_cancelled_caller_cancels_the_awaitable() -> None:
    clock = ManualClock()
    waiting = asyncio.ensure_future(asyncio.Event().wait())
    task = asyncio.create_task(within(clock, 5.0, waiting))
    await clock.advance(1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await clock.advance(0)  # lets the cancelled awaitable finish
    try:
        assert waiting.cancelled()
    finally:
        waiting.cancel()


async def test_clock_within_an_awaitable_already_done_returns_at_once() -> None:
    clock = ManualClock()
    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    future.set_result("ready")
    assert await within(clock, 0.0, future) == "ready"


def test_clock_scaled_refuses_a_non_positive_scale() -> None:
    for scale in (0.0, -2.0):
        with pytest.raises(ValueError, match="scale: must be positive"):
            ScaledClock(scale=scale)


def test_clock_scaled_utc_follows_its_own_monotonic_time() -> None:
    clock = ScaledClock(scale=1000.0)
    first = clock.monotonic()
    utc = clock.utc()
    second = clock.monotonic()
    assert 0.0 <= first <= second
    assert utc.tzinfo is UTC
