"""The uplink's incoming queue (flight/mqtt/bounds.py IntakeQueue) with a consumer: every
admitted message is handed over exactly once and in order, at once when nothing waits before
it, otherwise a bounded number a loop turn; nothing is handed over while no consumer is set,
and the queue's byte count stays true."""

from __future__ import annotations

import asyncio

import aiomqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flight.mqtt.bounds import DRAIN_MESSAGES, IntakeQueue

Op = str | int  # "on", "off", "turn", or a message of that many bytes


def _message(number: int, size: int) -> aiomqtt.Message:
    payload = f"{number}:".encode().ljust(size, b"x")
    return aiomqtt.Message("t/cmd", payload, qos=1, retain=False, mid=1, properties=None)


def _number(message: aiomqtt.Message) -> int:
    assert isinstance(message.payload, bytes)
    return int(message.payload.split(b":")[0])


async def _play(ops: list[Op]) -> None:
    queue = IntakeQueue(0, admit=lambda message, queue: True)
    handed: list[int] = []
    consuming = False
    put = 0
    for op in ops:
        before = len(handed)
        if op == "on":
            queue.consume(lambda message: handed.append(_number(message)))
            consuming = True
        elif op == "off":
            queue.consume(None)
            consuming = False
        elif op == "turn":
            waiting = queue.qsize()
            await asyncio.sleep(0)  # one turn of the loop: a drain that was due runs
            assert len(handed) - before == (min(waiting, DRAIN_MESSAGES) if consuming else 0)
        else:
            assert isinstance(op, int)
            waited = queue.qsize()
            queue.put_nowait(_message(put, max(op, len(f"{put}:"))))
            put += 1
            # Handled at once only when a consumer is set and nothing waits before it.
            assert len(handed) - before == (1 if consuming and waited == 0 else 0)
        assert handed == list(range(len(handed))), "in order, each once"
        sizes = [len(m.payload) for m in queue._queue]  # type: ignore[attr-defined, arg-type]
        assert queue.bytes == sum(sizes)
    queue.consume(lambda message: handed.append(_number(message)))
    for _ in range(queue.qsize() // DRAIN_MESSAGES + 1):  # the turns the rest needs
        await asyncio.sleep(0)
    assert handed == list(range(put)), "every message handed over once the consumer is back"


OPS = st.lists(
    st.one_of(st.sampled_from(["on", "off", "turn"]), st.integers(min_value=1, max_value=300)),
    max_size=200,
)


@settings(max_examples=150, deadline=None)
@given(ops=OPS)
def test_intake_queue_hands_each_message_over_once_in_order(ops: list[Op]) -> None:
    asyncio.run(_play(ops))


async def test_intake_queue_with_a_consumer_leaves_room_for_others_each_turn() -> None:
    queue = IntakeQueue(0, admit=lambda message, queue: True)
    for number in range(DRAIN_MESSAGES * 2 + 5):
        queue.put_nowait(_message(number, 10))
    handed: list[int] = []
    queue.consume(lambda message: handed.append(_number(message)))
    assert handed == [], "what waited is handed over at the next turn, not inside consume"
    await asyncio.sleep(0)
    assert len(handed) == DRAIN_MESSAGES
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert handed == list(range(DRAIN_MESSAGES * 2 + 5))


async def test_intake_queue_refused_message_never_reaches_the_consumer() -> None:
    queue = IntakeQueue(0, admit=lambda message, queue: _number(message) % 2 == 0)
    handed: list[int] = []
    queue.consume(lambda message: handed.append(_number(message)))
    for number in range(6):
        queue.put_nowait(_message(number, 10))
    assert handed == [0, 2, 4]
    assert queue.empty() and queue.bytes == 0


@pytest.mark.parametrize("stop_at", [0, 1, 2])
async def test_intake_queue_consumer_that_stops_keeps_the_rest_waiting(stop_at: int) -> None:
    queue = IntakeQueue(0, admit=lambda message, queue: True)
    for number in range(4):
        queue.put_nowait(_message(number, 10))
    handed: list[int] = []

    def consumer(message: aiomqtt.Message) -> None:
        handed.append(_number(message))
        if len(handed) > stop_at:
            queue.consume(None)

    queue.consume(consumer)
    await asyncio.sleep(0)
    assert handed == list(range(stop_at + 1))
    assert queue.qsize() == 4 - (stop_at + 1)
