"""Mission time for the flight software: the system clock, a faster one for SIL, a manual one.

Mission time never runs backwards across restarts: ``isru flight`` keeps where its clock
stood (mission time, system time and scale, in the state file) and the next start goes on
from there with :func:`continued_utc` (see :func:`mission_clock`).
"""

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

    #: Mission seconds per real second: 1 but in SIL at a time scale (a manual clock: 1).
    @property
    def scale(self) -> float: ...

    def monotonic(self) -> float: ...

    def utc(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Real time."""

    scale = 1.0

    def monotonic(self) -> float:
        return time.monotonic()

    def utc(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock:
    """Time that runs ``scale`` times faster than real time, for a simulator run at that speed.

    Its UTC starts at ``start_utc`` (default: the system clock now).
    """

    def __init__(self, *, scale: float = 1.0, start_utc: datetime | None = None) -> None:
        if scale <= 0:
            raise ValueError(f"scale: must be positive, got {scale}")
        if start_utc is not None and start_utc.tzinfo is None:
            raise ValueError(f"start_utc: must be timezone-aware, got {start_utc}")
        self.scale = scale
        self._real0 = time.monotonic()
        self._utc0 = start_utc or datetime.now(UTC)

    def monotonic(self) -> float:
        return (time.monotonic() - self._real0) * self.scale

    def utc(self) -> datetime:
        return self._utc0 + timedelta(seconds=self.monotonic())

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.scale)


def continued_utc(*, utc: datetime, wall_utc: datetime, scale: float, now: datetime) -> datetime:
    """Mission time at system time ``now`` of a clock that read ``utc`` at system time
    ``wall_utc`` and runs ``scale`` times as fast as real time, as if it had run all along.

    Never earlier than ``utc`` (the system clock may have been set back meanwhile) nor than
    ``now``: whatever the earlier clock published, the next one starts after it.
    """
    if scale <= 0:
        raise ValueError(f"scale: must be positive, got {scale}")
    # timedelta times float rounds once, to the microsecond; float seconds would lose
    # microseconds beyond 2**53 of them (a few hundred years of mission time).
    elapsed = max(timedelta(0), now - wall_utc)
    return max(now, utc + elapsed * scale)


def mission_clock(
    scale: float,
    *,
    last: tuple[datetime, datetime, float] | None = None,
    now: datetime | None = None,
) -> SystemClock | ScaledClock:
    """The flight software's clock at ``scale``.

    At 1 the system clock (NTP or the RTC keep it right; it is not changed here). Faster, a
    :class:`ScaledClock` that starts where the last one would stand now (``last`` = its
    mission UTC, system UTC and scale at some instant, see :func:`continued_utc`), so
    telemetry, event and ack times never step back across a restart; without ``last``, at the
    system clock.
    """
    if scale <= 0:
        raise ValueError(f"scale: must be positive, got {scale}")
    if scale == 1:
        return SystemClock()
    now = now or datetime.now(UTC)
    start = now
    if last is not None:
        utc, wall_utc, last_scale = last
        start = continued_utc(utc=utc, wall_utc=wall_utc, scale=last_scale, now=now)
    return ScaledClock(scale=scale, start_utc=start)


class ManualClock:
    """Time that moves only when a test calls :meth:`advance`."""

    scale = 1.0

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
