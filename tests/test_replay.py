"""The outbox's replay (flight/mqtt/replay.py) against a real mosquitto: in order, each row
removed only once the broker confirmed it, and nothing lost when the session ends midway."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import aiomqtt
import pytest

from flight.mqtt import Outbox, Priority, Publisher
from flight.mqtt.replay import replay
from isru.broker import Mosquitto

ROWS = 900  # under mosquitto's default queue of 1000 messages for the ground's client


def _fill(outbox: Outbox) -> None:
    outbox.put_many(("t/tm/bulk", json.dumps({"n": n}).encode(), Priority.LOW) for n in range(ROWS))


def _remaining(outbox: Outbox) -> set[int]:
    return {json.loads(row.payload)["n"] for row in outbox.peek(ROWS)}


async def _collect(client: aiomqtt.Client, into: list[int], changed: asyncio.Event) -> None:
    async for message in client.messages:
        assert isinstance(message.payload, bytes)
        into.append(json.loads(message.payload)["n"])
        changed.set()


async def _until(changed: asyncio.Event, condition: Callable[[], bool], timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            changed.clear()
            await changed.wait()


async def test_replay_sends_everything_in_order_and_empties_the_outbox(
    tmp_path: Path, mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("flight.mqtt.replay.REPLAY_READ", 100)  # 9 reads
    received: list[int] = []
    changed = asyncio.Event()
    with Outbox(tmp_path / "outbox.db") as outbox:
        _fill(outbox)
        async with (
            aiomqtt.Client(mosquitto.host, mosquitto.port) as ground,
            aiomqtt.Client(mosquitto.host, mosquitto.port) as flight,
        ):
            await ground.subscribe("t/tm/bulk", qos=1)
            collector = asyncio.create_task(_collect(ground, received, changed))
            count = await asyncio.wait_for(replay(outbox, Publisher(flight)), 60)
            await _until(changed, lambda: len(received) == ROWS, 30)
            collector.cancel()
        assert count == ROWS and len(outbox) == 0
    assert received == list(range(ROWS))


async def test_replay_ended_midway_removes_only_what_the_broker_confirmed(
    tmp_path: Path, mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The session ends (the replay is cancelled, as end_session does) at its third removal,
    # which is held until then (the replay cannot finish first): what left the outbox
    # reached the broker, and everything else is still in the outbox.
    monkeypatch.setattr("flight.mqtt.replay.REPLAY_READ", 100)
    monkeypatch.setattr("flight.mqtt.replay.REPLAY_WINDOW", 8)  # rows wait to be sent
    removals = 0
    third = asyncio.Event()
    release = threading.Event()
    loop = asyncio.get_running_loop()
    received: list[int] = []
    changed = asyncio.Event()
    with Outbox(tmp_path / "outbox.db") as outbox:
        _fill(outbox)
        remove = outbox.remove

        def counted(ids: Iterable[int]) -> None:
            nonlocal removals
            removals += 1
            if removals == 3:  # in the replay's worker thread
                loop.call_soon_threadsafe(third.set)
                release.wait(30)
            remove(ids)

        monkeypatch.setattr(outbox, "remove", counted)
        async with (
            aiomqtt.Client(mosquitto.host, mosquitto.port) as ground,
            aiomqtt.Client(mosquitto.host, mosquitto.port) as flight,
        ):
            await ground.subscribe("t/tm/bulk", qos=1)
            collector = asyncio.create_task(_collect(ground, received, changed))
            replaying = asyncio.create_task(replay(outbox, Publisher(flight)))
            await asyncio.wait_for(third.wait(), 30)
            replaying.cancel()
            release.set()
            with pytest.raises(asyncio.CancelledError):
                await replaying
            left = _remaining(outbox)
            removed = set(range(ROWS)) - left
            with contextlib.suppress(TimeoutError):
                await _until(changed, lambda: removed <= set(received), 10)
            collector.cancel()
        assert removed <= set(received), "a row left the outbox that the broker never had"
        assert 0 < len(removed) < ROWS
        assert len(outbox) == len(left)
    assert set(received) | left == set(range(ROWS)), "a row was lost"
