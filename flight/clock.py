"""Mission time for the flight software: the system clock, a faster one for SIL, a manual one."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    """What the flight software asks of time. Timeouts, time tags and windows use it."""

    def monotonic(self) -> float: ...

    def utc(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Real time."""

    def monotonic(self) -> float:
        return time.monotonic()

    def utc(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock:
    """Time that runs ``scale`` times faster than real time, for a simulator run at that speed."""

    def __init__(self, *, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError(f"scale: must be positive, got {scale}")
        self.scale = scale
        self._real0 = time.monotonic()
        self._utc0 = datetime.now(UTC)

    def monotonic(self) -> float:
        return (time.monotonic() - self._real0) * self.scale

    def utc(self) -> datetime:
        return self._utc0 + timedelta(seconds=self.monotonic())

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.scale)


class ManualClock:
    """Time that moves only when a test calls :meth:`advance`."""

    def __init__(self, *, start_utc: datetime | None = None) -> None:
        self._now = 0.0
        self._utc0 = start_utc or datetime(2026, 1, 1, tzinfo=UTC)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self._now

    def utc(self) -> datetime:
        return self._utc0 + timedelta(seconds=self._now)

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + max(0.0, seconds), next(self._order), future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move time on by ``seconds``, waking every sleeper due on the way, in order."""
        if seconds < 0:
            raise ValueError(f"seconds: must not be negative, got {seconds}")
        target = self._now + seconds
        await _let_tasks_run()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            if not future.done():
                future.set_result(None)
            await _let_tasks_run()
        self._now = target
        await _let_tasks_run()


async def _let_tasks_run(rounds: int = 8) -> None:
    # Woken tasks run on the next loop iterations; give chains of them a few turns.
    for _ in range(rounds):
        await asyncio.sleep(0)


async def within(clock: Clock, seconds: float, awaitable: asyncio.Future[T]) -> T:
    """``awaitable``'s result, or TimeoutError once ``seconds`` of ``clock`` time have passed.

    ``asyncio.timeout`` counts real time; this counts the mission clock, so a manual clock in
    a test (or a faster one in SIL) governs verification windows and WAIT timeouts.
    """
    timer: asyncio.Future[Any] = asyncio.ensure_future(clock.sleep(seconds))
    racers: set[asyncio.Future[Any]] = {awaitable, timer}
    try:
        done, _ = await asyncio.wait(racers, return_when=asyncio.FIRST_COMPLETED)
        if awaitable in done:
            return awaitable.result()
        raise TimeoutError(f"not within {seconds} s")
    finally:
        timer.cancel()
        if not awaitable.done():
            awaitable.cancel()
