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
    sees each message before it is buffered and may drop it; counts the bytes it holds."""

    def __init__(
        self, maxsize: int = 0, *, admit: Callable[[aiomqtt.Message, IntakeQueue], bool]
    ) -> None:
        super().__init__(maxsize)
        self.bytes = 0
        self._admit = admit

    def put_nowait(self, item: aiomqtt.Message) -> None:
        if self._admit(item, self):
            super().put_nowait(item)
            self.bytes += size(item.payload)

    def get_nowait(self) -> aiomqtt.Message:
        item = super().get_nowait()
        self.bytes -= size(item.payload)
        return item
