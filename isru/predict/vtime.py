"""Virtual time for a dry run: an event loop whose clock jumps whenever it would wait.

:class:`AutojumpLoop` is an ordinary selector event loop with one change: its ``time()`` is
virtual. When the loop has nothing ready to run it would block in ``select`` until its next
timer; instead it polls the sockets without waiting and, when none has anything to read,
moves virtual time on to that timer (trio's ``MockClock(autojump_threshold=0)`` does the
same). Everything that waits on the loop (``asyncio.sleep``, ``asyncio.timeout``,
``call_later``) then runs on mission time, as fast as the machine allows.

The flight and the simulator talk over loopback TCP (``socket://``): on Linux a loopback
``send`` has put the bytes in the peer's receive queue by the time it returns, so "nothing
readable" means the link is quiet, not that a frame is still on its way. (A pty hands its
bytes over in a kernel worker a little later: polled at once, it can look idle while a frame
is in flight, which would let a request time out in virtual time.) Work handed to a thread
(``run_in_executor``: pyserial-asyncio opens and closes its ports in one) is waited for in
real time, virtual time standing still, so the boards' clocks do not race ahead while a
link opens; the loop hears of that work only once every thread is done, in the order it
was handed over, so that a run repeats exactly whichever thread the machine ran first (three
links opening in a different order once gave the boards' timers another order).

:class:`LoopFlightClock` and :class:`LoopSimClock` give the flight software and the
simulator the loop's time, so both see the same mission clock.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, TypeVarTuple, Unpack

from sim.clock import RealClock

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")

#: Real seconds a loop with no timer, or waiting for a thread, waits for I/O at a time.
IDLE_POLL_S = 0.05


class _JumpingSelector(selectors.BaseSelector):
    """A selector that never waits: it polls, and tells the loop to jump when idle."""

    def __init__(
        self,
        inner: selectors.BaseSelector,
        jump: Callable[[float], None],
        busy: Callable[[], bool],
    ) -> None:
        self._inner = inner
        self._jump = jump
        self._busy = busy

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._inner.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None or self._busy():
            # No timer at all, or a thread at work (its end wakes the loop through its
            # self-pipe): wait for real, and let no virtual time pass meanwhile.
            return self._inner.select(IDLE_POLL_S)
        self._jump(timeout)
        return ready

    def close(self) -> None:
        self._inner.close()

    def get_map(self) -> Any:
        return self._inner.get_map()

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.get_key(fileobj)


class AutojumpLoop(asyncio.SelectorEventLoop):
    """A selector event loop on virtual time that skips every wait with nothing to do."""

    def __init__(self) -> None:
        self._virtual = 0.0
        self._in_threads = 0
        #: Work handed to threads, in order: (the thread's future, the caller's future).
        self._jobs: list[tuple[asyncio.Future[Any], asyncio.Future[Any]]] = []
        selector = _JumpingSelector(selectors.DefaultSelector(), self._advance, self._busy)
        super().__init__(selector)
        self._clock_resolution = 1e-9

    def _advance(self, seconds: float) -> None:
        self._virtual += seconds

    def _busy(self) -> bool:
        return self._in_threads > 0

    def run_in_executor(
        self, executor: Executor | None, func: Callable[[Unpack[_Ts]], _T], *args: *_Ts
    ) -> asyncio.Future[_T]:
        """As the base loop's; virtual time stands still until the thread is done, and its
        outcome is told once no thread is at work, in the order the work was handed over."""
        thread = super().run_in_executor(executor, func, *args)
        caller: asyncio.Future[_T] = self.create_future()
        caller.add_done_callback(lambda done: thread.cancel() if done.cancelled() else None)
        self._in_threads += 1
        self._jobs.append((thread, caller))
        thread.add_done_callback(self._thread_done)
        return caller

    def _thread_done(self, _: asyncio.Future[Any]) -> None:
        self._in_threads -= 1
        if self._in_threads:
            return
        jobs, self._jobs = self._jobs, []
        for thread, caller in jobs:
            if caller.done():
                continue
            if thread.cancelled():
                caller.cancel()
            elif (error := thread.exception()) is not None:
                caller.set_exception(error)
            else:
                caller.set_result(thread.result())

    def time(self) -> float:
        return self._virtual


class LoopFlightClock:
    """The flight software's :class:`flight.clock.Clock` on the running loop's time.

    ``scale`` is the speed-up the flight believes it runs at (``isru sil --time-scale``): it
    stretches what must hold in real time, such as an arm's window, as in SIL at that scale.
    """

    def __init__(self, *, scale: float = 1.0, start_utc: datetime | None = None) -> None:
        self.scale = scale
        self._time = asyncio.get_running_loop().time
        self._t0 = self._time()
        self._utc0 = start_utc or datetime.now(UTC)

    def monotonic(self) -> float:
        return self._time() - self._t0

    def utc(self) -> datetime:
        return self._utc0 + timedelta(seconds=self.monotonic())

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class LoopSimClock:
    """The simulator's :class:`sim.clock.Clock` on the running loop's time.

    ``scale`` is the speed-up of the ``RealClock`` it stands in for: the boards' physics tick
    and timer coalescing follow it (:func:`sim.firmware.physics_tick_s`), so a dry run at
    scale 100 steps the same physics as ``isru sil --time-scale 100``.
    """

    def __init__(self, *, scale: float = 1.0) -> None:
        self.scale = scale
        self.min_step_s = RealClock.REAL_GRANULARITY_S * scale
        self._loop = asyncio.get_running_loop()
        self._time = self._loop.time
        self._t0 = self._time()

    def now(self) -> float:
        return self._time() - self._t0

    def call_at(self, when: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        return self._loop.call_at(self._t0 + when, callback)
