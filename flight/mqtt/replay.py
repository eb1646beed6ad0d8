"""The outbox's replay after a reconnect: in order, with a window of messages in flight."""

from __future__ import annotations

import asyncio

import aiomqtt

from flight.mqtt.outbox import Outbox
from flight.mqtt.publisher import Publisher

#: The replay reads the outbox this many rows at a time and keeps up to REPLAY_WINDOW of them
#: in flight (sent, PUBACK awaited); what the broker confirmed is removed a read at a time.
REPLAY_READ = 1000
REPLAY_WINDOW = 64


async def replay(outbox: Outbox, publisher: Publisher) -> int | None:
    """Send the outbox in order, up to REPLAY_WINDOW messages in flight, removing what the
    broker confirmed; return how many once it is empty. A publish that fails ends it (None):
    the rest (that one too) waits in the outbox for the next session; so does everything if
    the session ends meanwhile (the task is cancelled)."""
    flying: dict[int, int] = {}  # message id -> outbox row id, until its PUBACK
    confirmed: list[int] = []
    room = asyncio.Event()
    count = 0

    def landed(mid: int) -> None:
        confirmed.append(flying.pop(mid))
        if len(flying) <= REPLAY_WINDOW // 2:  # wake the sender for half a window at once
            room.set()

    def remove() -> None:
        nonlocal count
        outbox.remove(confirmed)  # confirmed ones are not sent again
        count += len(confirmed)
        confirmed.clear()

    after = 0
    try:
        while rows := outbox.peek(REPLAY_READ, after_id=after):
            after = rows[-1].id
            for row in rows:
                while len(flying) >= REPLAY_WINDOW:
                    room.clear()
                    await room.wait()
                try:
                    mid = publisher.publish(
                        row.topic, row.payload, qos=row.qos, retain=row.retain, confirmed=landed
                    )
                except aiomqtt.MqttError:
                    return None  # not sent: it and the rest wait for the next session
                flying[mid] = row.id
            remove()
        while flying:
            room.clear()
            await room.wait()
    finally:
        remove()
    return count
