"""The bounds of command intake: the incoming queue, the command and refusal rates.

Hostile input never ends the session: every incoming message is bounded before it is
buffered (size, queue length, queued bytes), command intake is rate-limited, and refusals
are reported at a bounded rate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiomqtt

#: Incoming messages buffered while waiting to be handled, at most (aiomqtt's
#: ``max_queued_incoming_messages``), and their payload bytes together at most. What does not
#: fit is dropped unread, before it is buffered.
INTAKE_QUEUE_MESSAGES = 256
INTAKE_QUEUE_BYTES = 4 * 1024 * 1024
#: Commands let through to the dispatcher (duplicates included): this many a second on
#: average, and this many at once. Beyond that a command fails ``RATE_LIMITED``.
COMMAND_RATE_PER_S = 100.0
COMMAND_BURST = 500
#: Refusals (a ``MESSAGE_REJECTED`` or ``AUTH_REFUSED`` event and the FAILED ack of one
#: message) reported one by one: this many a second on average, this many at once. The rest
#: are counted, and summed up in one ``MESSAGE_REJECTED`` at most every REPORT_INTERVAL_S.
REFUSAL_RATE_PER_S = 20.0
REFUSAL_BURST = 100
REPORT_INTERVAL_S = 1.0
#: Messages handled in one turn of the event loop, at most, before others get their turn.
DRAIN_MESSAGES = 64


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` held; :meth:`take` spends one if there is
    one. Real time (``time.monotonic``): floods happen on the wire, not in mission time."""

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate/burst: need rate > 0 and burst >= 1, got {rate}/{burst}")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


def size(payload: Any) -> int:
    """A payload's length in bytes (or characters, for one aiomqtt gave as text)."""
    return len(payload) if isinstance(payload, bytes | bytearray) else len(str(payload))


class IntakeQueue(asyncio.Queue[aiomqtt.Message]):
    """aiomqtt's queue of incoming messages, bounded by ``admit`` (``Intake.admit``), which
    sees each message before it is buffered and may drop it; counts the bytes it holds.

    With a consumer (:meth:`consume`), what is admitted is handed to it in order: at once
    when nothing waits before it (in the socket callback that read it), otherwise from the
    queue, up to DRAIN_MESSAGES a turn of the event loop. That spares the task, the futures
    and the three loop turns per message of aiomqtt's message iterator. Messages wait here
    only while there is no consumer (a session starting) or behind others waiting, within
    the same bounds.
    """

    def __init__(
        self, maxsize: int = 0, *, admit: Callable[[aiomqtt.Message, IntakeQueue], bool]
    ) -> None:
        super().__init__(maxsize)
        self.bytes = 0
        self._admit = admit
        self._consumer: Callable[[aiomqtt.Message], None] | None = None
        self._draining: asyncio.Handle | None = None

    def put_nowait(self, item: aiomqtt.Message) -> None:
        if not self._admit(item, self):
            return
        consumer = self._consumer
        if consumer is not None and self._draining is None and self.empty():
            consumer(item)  # nothing waits before it: handled at once, never buffered
            return
        super().put_nowait(item)
        self.bytes += size(item.payload)
        if consumer is not None and self._draining is None:
            self._draining = asyncio.get_running_loop().call_soon(self._drain)

    def get_nowait(self) -> aiomqtt.Message:
        item = super().get_nowait()
        self.bytes -= size(item.payload)
        return item

    def consume(self, consumer: Callable[[aiomqtt.Message], None] | None) -> None:
        """Hand every message admitted from now on (and those waiting) to ``consumer``, which
        must not raise; None stops that (what waits then stays here)."""
        self._consumer = consumer
        if self._draining is not None:
            self._draining.cancel()
            self._draining = None
        if consumer is not None and not self.empty():
            self._draining = asyncio.get_running_loop().call_soon(self._drain)

    def _drain(self) -> None:
        self._draining = None
        consumer = self._consumer
        for _ in range(DRAIN_MESSAGES):
            if consumer is None or self.empty():
                return
            consumer(self.get_nowait())
            consumer = self._consumer  # (it may have stopped meanwhile)
        if consumer is not None and not self.empty():  # the rest next turn: others run first
            self._draining = asyncio.get_running_loop().call_soon(self._drain)
