"""Virtual time for the simulator: a real-time clock with a scale and a manual test clock.

Everything the boards do in "their" world (physics ticks, telemetry emission, uptime) runs
on virtual seconds from a :class:`Clock`. Two implementations:

* :class:`RealClock` follows the monotonic clock, optionally sped up: virtual seconds =
  ``scale`` x real seconds. Timers run on the asyncio loop, so a callback may run late;
  the boards catch up (physics steps every missed tick, telemetry skips missed slots).
* :class:`ManualClock` stands still until a test calls ``await clock.advance(seconds)``,
  which runs every due timer in time order with ``now()`` set to the timer's own time.
  Nothing sleeps, so physics and telemetry are exactly reproducible.

Link-level effects (baud-rate pacing, reply delay, disconnect outages) are deliberately not
on this clock: they live in real time, like the host's timeouts they exist to exercise.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from collections.abc import Callable
from typing import Protocol

#: The boards' physics tick on a clock up to 10x real time, in virtual seconds.
PHYSICS_TICK_S = 0.01
#: On a clock sped up beyond 10x, a physics tick is what 1 ms of real time is (0.1 s of
#: virtual time at a scale of 100), so that the work per real second stays that of 1000
#: ticks a board; never more than ``MAX_PHYSICS_TICK_S`` (every model is stable there).
TICKS_PER_REAL_S = 1000.0
MAX_PHYSICS_TICK_S = 0.25


def physics_tick_s(scale: float) -> float:
    """The physics tick on a clock of ``scale``: ``PHYSICS_TICK_S`` up to a scale of 10."""
    return min(MAX_PHYSICS_TICK_S, max(PHYSICS_TICK_S, scale / TICKS_PER_REAL_S))


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """What the boards need from time."""

    #: Smallest virtual interval worth a separate wake-up; timers closer than this are
    #: coalesced by their users (0 for a manual clock: every tick runs on its own).
    @property
    def min_step_s(self) -> float: ...

    #: Virtual seconds per real second (1 for a manual clock: its time is the only time).
    #: What must hold in real time (the host watchdog's margin) is scaled by it.
    @property
    def scale(self) -> float: ...

    def now(self) -> float:
        """Virtual seconds since the clock was made."""
        ...

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` once when virtual time reaches ``when`` (at once if past)."""
        ...


class RealClock:
    """Virtual time = ``scale`` x monotonic real time since construction."""

    #: Real seconds between coalesced wake-ups: about the granularity of asyncio timers.
    REAL_GRANULARITY_S = 0.001

    def __init__(self, scale: float = 1.0) -> None:
        if not scale > 0 or scale != scale or scale == float("inf"):
            raise ValueError(f"scale: must be a positive finite number, got {scale}")
        self.scale = scale
        self._t0 = time.monotonic()

    @property
    def min_step_s(self) -> float:
        return self.REAL_GRANULARITY_S * self.scale

    def now(self) -> float:
        return (time.monotonic() - self._t0) * self.scale

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        delay = max(0.0, (when - self.now()) / self.scale)
        return asyncio.get_running_loop().call_later(delay, callback)


class _ManualTimer:
    __slots__ = ("callback", "cancelled", "order", "when")

    def __init__(self, when: float, order: int, callback: Callable[[], None]) -> None:
        self.when = when
        self.order = order
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: _ManualTimer) -> bool:
        return (self.when, self.order) < (other.when, other.order)


class ManualClock:
    """A clock that only moves when told to; timers run inside :meth:`advance`."""

    #: How many timers run between yields to the event loop during a long advance, so that
    #: port I/O (frames written by telemetry) keeps flowing without slowing the common case.
    YIELD_EVERY = 500

    #: Its time is the only time there is: one virtual second per "real" second.
    scale = 1.0

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._timers: list[_ManualTimer] = []
        self._order = itertools.count()

    @property
    def min_step_s(self) -> float:
        return 0.0

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        timer = _ManualTimer(when, next(self._order), callback)
        heapq.heappush(self._timers, timer)
        return timer

    def run_due(self) -> int:
        """Run every timer due now (callbacks may add more); return how many ran."""
        return self._run_until(self._now)

    def _run_until(self, target: float, limit: float = math.inf) -> int:
        ran = 0
        while ran < limit and self._timers and self._timers[0].when <= target:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, timer.when)
            timer.callback()
            ran += 1
        return ran

    def step_to(self, target: float) -> None:
        """Synchronous :meth:`advance` to an absolute time, for code outside an event loop."""
        if target < self._now:
            raise ValueError(f"target: {target} is before now ({self._now})")
        self._run_until(target)
        self._now = target

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, running every due timer in time order."""
        if not seconds >= 0:
            raise ValueError(f"seconds: must be >= 0, got {seconds}")
        target = self._now + seconds
        while self._timers and self._timers[0].when <= target:
            self._run_until(target, limit=self.YIELD_EVERY)
            await asyncio.sleep(0)
        self._now = target
        await asyncio.sleep(0)
