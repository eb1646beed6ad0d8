"""The outbox's replay after a reconnect: in order, with a window of messages in flight.

The outbox's reads and removes run in a worker thread (the outbox is made for it: its calls
are serialised by a lock, and SQLite does its work without Python's GIL), so the next rows are
read and the confirmed ones removed while the event loop sends and takes PUBACKs.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiomqtt

from flight.mqtt.outbox import Outbox, Row
from flight.mqtt.publisher import Publisher

#: The replay reads the outbox this many rows at a time and keeps up to REPLAY_WINDOW of them
#: in flight (sent, PUBACK awaited); what the broker confirmed is removed a read at a time.
REPLAY_READ = 1000
REPLAY_WINDOW = 256
#: ...and at most this many payload bytes a read, and in flight (image chunks are 64 KiB).
REPLAY_READ_BYTES = 2 * 1024 * 1024
REPLAY_WINDOW_BYTES = 1024 * 1024


async def replay(outbox: Outbox, publisher: Publisher) -> int | None:
    """Send the outbox in order, up to REPLAY_WINDOW messages in flight, removing what the
    broker confirmed; return how many once it is empty. A publish that fails ends it (None):
    the rest (that one too) waits in the outbox for the next session; so does everything if
    the session ends meanwhile (the task is cancelled). A row is removed only once the broker
    has confirmed it; whatever was confirmed is removed before the replay ends, however it
    ends (a crash or a power cut may leave the last ones in: they are sent again)."""
    flying: dict[int, tuple[int, int]] = {}  # message id -> (outbox row id, bytes)
    in_flight = 0  # payload bytes sent and not yet confirmed
    confirmed: list[int] = []
    room = asyncio.Event()
    count = 0
    removing: asyncio.Future[None] | None = None
    fetching: asyncio.Future[list[Row]] | None = None

    def landed(mid: int) -> None:
        nonlocal in_flight
        row_id, size = flying.pop(mid)
        confirmed.append(row_id)
        in_flight -= size
        # wake the sender for half a window at once
        if len(flying) <= REPLAY_WINDOW // 2 and in_flight <= REPLAY_WINDOW_BYTES // 2:
            room.set()

    async def remove() -> None:
        """Remove what is confirmed so far, in the worker thread, after the last removal."""
        nonlocal removing, count
        if removing is not None:
            await asyncio.shield(removing)  # a cancelled replay still lets it finish
        if not confirmed:
            return
        batch = confirmed[:]
        confirmed.clear()
        removing = asyncio.ensure_future(asyncio.to_thread(outbox.remove, batch))
        count += len(batch)

    def full() -> bool:
        return len(flying) >= REPLAY_WINDOW or (bool(flying) and in_flight >= REPLAY_WINDOW_BYTES)

    def peek(after_id: int) -> list[Row]:
        return outbox.peek(REPLAY_READ, after_id=after_id, max_bytes=REPLAY_READ_BYTES)

    try:
        rows = await asyncio.to_thread(peek, 0)
        while rows:
            fetching = asyncio.ensure_future(asyncio.to_thread(peek, rows[-1].id))
            for row in rows:
                while full():
                    room.clear()
                    await room.wait()
                try:
                    mid = publisher.publish(
                        row.topic, row.payload, qos=row.qos, retain=row.retain, confirmed=landed
                    )
                except aiomqtt.MqttError:
                    return None  # not sent: it and the rest wait for the next session
                flying[mid] = (row.id, len(row.payload))
                in_flight += len(row.payload)
            await remove()
            rows = await fetching
        while flying:
            room.clear()
            await room.wait()
        await remove()
        if removing is not None:
            await removing
        return count
    finally:
        if fetching is not None:
            _forget(fetching)
        if removing is not None and not removing.done():
            # The thread removes it all the same: wait for it, so that whoever closes the
            # outbox next finds it done.
            with contextlib.suppress(Exception):
                await asyncio.shield(removing)
        if removing is not None:
            _forget(removing)
        outbox.remove(confirmed)  # confirmed ones are not sent again


def _forget(future: asyncio.Future[Any]) -> None:
    """A background step the replay no longer needs: cancelled, or its error retrieved (asyncio
    would print it, with a traceback, as never retrieved)."""
    if not future.done():
        future.cancel()
    elif not future.cancelled():
        future.exception()
