"""The fast QoS 1 publisher (flight/mqtt/publisher.py) on aiomqtt's paho client, against a real
mosquitto: what it sends arrives whole and in order, each message is confirmed once, and
aiomqtt's own publishes still work beside it."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import AsyncIterator, Callable
from typing import cast

import aiomqtt
import pytest

from flight.mqtt import Publisher
from flight.mqtt.bounds import IntakeQueue
from flight.mqtt.wire import serve_messages
from isru.broker import Mosquitto


async def _receive(client: aiomqtt.Client, count: int) -> list[bytes]:
    received = []
    async for message in client.messages:
        assert isinstance(message.payload, bytes)
        received.append(message.payload)
        if len(received) == count:
            return received
    raise AssertionError("the subscription ended")


async def test_publisher_burst_is_confirmed_once_each(mosquitto: Mosquitto) -> None:
    # A burst far beyond one socket buffer in one loop turn: the part that does not fit
    # leaves when the socket is writable again.
    count = 20_000
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as flight:
        publisher = Publisher(flight)
        confirmed: list[int] = []
        all_confirmed = asyncio.Event()

        def landed(mid: int) -> None:
            confirmed.append(mid)
            if len(confirmed) == count:
                all_confirmed.set()

        mids = [
            publisher.publish("t/burst", b"%d:" % n + b"x" * 200, retain=False, confirmed=landed)
            for n in range(count)
        ]
        async with asyncio.timeout(60):
            await all_confirmed.wait()
        assert sorted(confirmed) == sorted(mids) and len(set(mids)) == count
        assert len(publisher) == 0


async def test_publisher_messages_arrive_whole_and_in_order(mosquitto: Mosquitto) -> None:
    # Fewer than the broker queues for one subscriber (mosquitto's max_queued_messages).
    count = 500
    payloads = [b"%d:" % n + b"x" * 200 for n in range(count)]
    async with (
        aiomqtt.Client(mosquitto.host, mosquitto.port) as ground,
        aiomqtt.Client(mosquitto.host, mosquitto.port) as flight,
    ):
        await ground.subscribe("t/order", qos=1)
        publisher = Publisher(flight)
        for payload in payloads:
            publisher.publish("t/order", payload, retain=False, confirmed=lambda _: None)
        async with asyncio.timeout(30):
            received = await _receive(ground, count)
        assert received == payloads


async def test_publisher_leaves_aiomqtt_publishes_working(mosquitto: Mosquitto) -> None:
    async with (
        aiomqtt.Client(mosquitto.host, mosquitto.port) as ground,
        aiomqtt.Client(mosquitto.host, mosquitto.port) as flight,
    ):
        await ground.subscribe("t/#", qos=1)
        publisher = Publisher(flight)
        landed = asyncio.Event()
        publisher.publish("t/fast", b"fast", retain=False, confirmed=lambda _: landed.set())
        async with asyncio.timeout(10):
            await flight.publish("t/aiomqtt", b"slow", qos=1)  # returns on its PUBACK
            await landed.wait()
            received = await _receive(ground, 2)
        assert received == [b"fast", b"slow"]


async def test_publisher_without_connection_raises(mosquitto: Mosquitto) -> None:
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as flight:
        publisher = Publisher(flight)
    with pytest.raises(aiomqtt.MqttCodeError, match="not currently connected"):
        publisher.publish("t/late", b"late", retain=False, confirmed=lambda _: None)


async def test_publisher_payloads_of_every_length_class_arrive_whole(mosquitto: Mosquitto) -> None:
    # The packet's remaining length takes 1, 2 or 3 bytes (MQTT 3.1.1 section 2.2.3): payloads
    # on both sides of each boundary, with a topic of 8 bytes (2 + 8 + 2 + payload).
    sizes = [0, 1, 114, 115, 116, 16370, 16371, 16372, 200_000]
    payloads = [bytes([n % 251]) * size for n, size in enumerate(sizes)]
    async with (
        aiomqtt.Client(mosquitto.host, mosquitto.port) as ground,
        aiomqtt.Client(mosquitto.host, mosquitto.port) as flight,
    ):
        await ground.subscribe("t/length", qos=1)
        publisher = Publisher(flight)
        confirmed: list[int] = []
        all_confirmed = asyncio.Event()

        def landed(mid: int) -> None:
            confirmed.append(mid)
            if len(confirmed) == len(payloads):
                all_confirmed.set()

        mids = [
            publisher.publish("t/length", payload, retain=False, confirmed=landed)
            for payload in payloads
        ]
        async with asyncio.timeout(30):
            received = await _receive(ground, len(payloads))
            await all_confirmed.wait()
        assert [len(r) for r in received] == sizes and received == payloads
        assert sorted(confirmed) == sorted(mids)


async def test_publisher_retained_message_reaches_a_later_subscriber(mosquitto: Mosquitto) -> None:
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as flight:
        publisher = Publisher(flight)
        landed = asyncio.Event()
        publisher.publish("t/kept", b"kept", retain=True, confirmed=lambda _: landed.set())
        async with asyncio.timeout(10):
            await landed.wait()
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as ground:
        await ground.subscribe("t/kept", qos=1)
        async with asyncio.timeout(10):
            message = await anext(ground.messages)
        assert message.payload == b"kept" and message.retain


async def test_publisher_qos_0_and_2_are_confirmed_through_paho(mosquitto: Mosquitto) -> None:
    async with (
        aiomqtt.Client(mosquitto.host, mosquitto.port) as ground,
        aiomqtt.Client(mosquitto.host, mosquitto.port) as flight,
    ):
        await ground.subscribe("t/qos/#", qos=2)
        publisher = Publisher(flight)
        confirmed: set[int] = set()
        both = asyncio.Event()

        def landed(mid: int) -> None:
            confirmed.add(mid)
            if len(confirmed) == 2:
                both.set()

        mids = {
            publisher.publish("t/qos/0", b"zero", retain=False, confirmed=landed, qos=0),
            publisher.publish("t/qos/2", b"two", retain=False, confirmed=landed, qos=2),
        }
        async with asyncio.timeout(10):
            await both.wait()
            received = await _receive(ground, 2)
        assert confirmed == mids and sorted(received) == [b"two", b"zero"]
        assert len(publisher) == 0


async def test_publisher_incoming_messages_between_pubacks_arrive_whole(
    mosquitto: Mosquitto,
) -> None:
    # The flight reads its socket 64 KiB at a time: commands (some larger than one read)
    # arriving among thousands of PUBACKs must reach it whole, in order, each once.
    count = 5000
    incoming = [b"%d:" % n + b"c" * (n * 40_000 % 150_000) for n in range(20)]
    async with (
        aiomqtt.Client(mosquitto.host, mosquitto.port) as ground,
        aiomqtt.Client(mosquitto.host, mosquitto.port) as flight,
    ):
        await flight.subscribe("t/cmd", qos=1)
        publisher = Publisher(flight)
        confirmed: list[int] = []
        all_confirmed = asyncio.Event()

        def landed(mid: int) -> None:
            confirmed.append(mid)
            if len(confirmed) == count:
                all_confirmed.set()

        for n in range(count):
            publisher.publish("t/tm", b"%d" % n + b"x" * 100, retain=False, confirmed=landed)
            if n % 250 == 0:
                await ground.publish("t/cmd", incoming[n // 250], qos=1)
        async with asyncio.timeout(60):
            received = await _receive(flight, len(incoming))
            await all_confirmed.wait()
        assert received == incoming
        assert len(confirmed) == count == len(set(confirmed))


async def test_publisher_refuses_a_topic_with_a_wildcard(mosquitto: Mosquitto) -> None:
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as flight:
        publisher = Publisher(flight)
        with pytest.raises(ValueError, match="cannot be published to"):
            publisher.publish("t/+/x", b"x", retain=False, confirmed=lambda _: None)
        assert len(publisher) == 0


async def test_publisher_sends_while_the_event_loop_is_never_idle(mosquitto: Mosquitto) -> None:
    # A send waits for the loop to have nothing else ready, but only for a few turns: a task
    # that is ready at every turn must not hold the flight's messages back.
    async with (
        aiomqtt.Client(mosquitto.host, mosquitto.port) as ground,
        aiomqtt.Client(mosquitto.host, mosquitto.port) as flight,
    ):
        await ground.subscribe("t/busy", qos=1)
        publisher = Publisher(flight)
        stop = asyncio.Event()

        async def busy() -> None:
            while not stop.is_set():  # noqa: ASYNC110 - the point: ready at every turn
                await asyncio.sleep(0)

        spinner = asyncio.create_task(busy())
        try:
            landed = asyncio.Event()
            publisher.publish("t/busy", b"waits", retain=False, confirmed=lambda _: landed.set())
            async with asyncio.timeout(10):
                received = await _receive(ground, 1)
                await landed.wait()
        finally:
            stop.set()
            await spinner
        assert received == [b"waits"]


async def test_publisher_now_writes_before_returning(mosquitto: Mosquitto) -> None:
    # A command's final ack: it leaves in the same turn, with what waited before it.
    async with (
        aiomqtt.Client(mosquitto.host, mosquitto.port) as ground,
        aiomqtt.Client(mosquitto.host, mosquitto.port) as flight,
    ):
        await ground.subscribe("t/ack", qos=1)
        publisher = Publisher(flight)
        publisher.publish("t/ack", b"ACCEPTED", retain=False, confirmed=lambda _: None)
        assert flight._client.want_write()  # waits for the loop to be idle
        publisher.publish("t/ack", b"COMPLETED", retain=False, confirmed=lambda _: None, now=True)
        assert not flight._client.want_write()  # both written
        async with asyncio.timeout(10):
            received = await _receive(ground, 2)
        assert received == [b"ACCEPTED", b"COMPLETED"]


async def test_publisher_gathered_messages_wait_for_the_window_then_leave_together(
    mosquitto: Mosquitto,
) -> None:
    payloads = [b"tm %d" % n for n in range(5)]
    async with (
        aiomqtt.Client(mosquitto.host, mosquitto.port) as ground,
        aiomqtt.Client(mosquitto.host, mosquitto.port) as flight,
    ):
        await ground.subscribe("t/tm", qos=1)
        publisher = Publisher(flight)
        for payload in payloads:
            publisher.publish("t/tm", payload, retain=False, confirmed=lambda _: None, gather_s=0.2)
        for _ in range(20):  # idle turns: a message that is not gathered would leave now
            await asyncio.sleep(0)
        assert len(flight._client._out_packet) == 1, "all five wait, in one pending write"
        async with asyncio.timeout(10):
            received = await _receive(ground, len(payloads))
        assert received == payloads
        assert not flight._client._out_packet


async def test_publisher_gathered_message_leaves_with_one_that_may_not_wait(
    mosquitto: Mosquitto,
) -> None:
    # The window is far longer than the test's timeout: only the event takes the sample along.
    async with (
        aiomqtt.Client(mosquitto.host, mosquitto.port) as ground,
        aiomqtt.Client(mosquitto.host, mosquitto.port) as flight,
    ):
        await ground.subscribe("t/#", qos=1)
        publisher = Publisher(flight)
        confirmed: list[int] = []
        both = asyncio.Event()

        def landed(mid: int) -> None:
            confirmed.append(mid)
            if len(confirmed) == 2:
                both.set()

        sample = publisher.publish("t/tm", b"sample", retain=False, confirmed=landed, gather_s=600)
        event = publisher.publish("t/evr", b"event", retain=False, confirmed=landed)
        async with asyncio.timeout(10):
            received = await _receive(ground, 2)
            await both.wait()
        assert received == [b"sample", b"event"]
        assert sorted(confirmed) == sorted([sample, event])


@contextlib.asynccontextmanager
async def _flight_reading(
    mosquitto: Mosquitto, answer: Callable[[Publisher, aiomqtt.Message], None]
) -> AsyncIterator[aiomqtt.Client]:
    """A ground subscribed to ``t/out/#`` (yielded) and a flight that answers each message on
    ``t/in`` from inside paho's callback, as the flight handles a command as it is read."""
    intake = functools.partial(IntakeQueue, admit=lambda message, queue: True)
    queue_type = cast(type[asyncio.Queue[aiomqtt.Message]], intake)
    async with (
        aiomqtt.Client(mosquitto.host, mosquitto.port) as ground,
        aiomqtt.Client(mosquitto.host, mosquitto.port, queue_type=queue_type) as flight,
    ):
        await ground.subscribe("t/out/#", qos=1)
        await flight.subscribe("t/in", qos=1)
        publisher = Publisher(flight)
        serving = asyncio.create_task(serve_messages(flight, lambda m: answer(publisher, m)))
        try:
            yield ground
        finally:
            serving.cancel()
            await asyncio.gather(serving, return_exceptions=True)


def test_publisher_final_message_sent_from_a_message_callback_does_not_hang(
    mosquitto: Mosquitto,
) -> None:
    # A command refused as it is read sends its FAILED ack (``now``) from inside paho's
    # on_message, which holds paho's callback lock; a QoS 0 message waiting in paho's queue
    # makes paho's write take that lock again. Run in a thread of its own: a hang fails the
    # test instead of stopping the suite.
    outcome: list[object] = []

    def answer(publisher: Publisher, message: aiomqtt.Message) -> None:
        publisher.publish("t/out/0", b"zero", retain=False, confirmed=_ignore, qos=0)
        publisher.publish("t/out/1", b"ack", retain=False, confirmed=_ignore, now=True)

    async def scenario() -> None:
        async with _flight_reading(mosquitto, answer) as ground:
            await ground.publish("t/in", b"command", qos=1)
            async with asyncio.timeout(10):
                outcome.append(await _receive(ground, 2))

    thread = threading.Thread(target=asyncio.run, args=(scenario(),), daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "the flight's event loop hung in paho's callback lock"
    assert outcome == [[b"zero", b"ack"]]


async def test_publisher_now_from_a_message_callback_leaves_when_the_read_is_over(
    mosquitto: Mosquitto,
) -> None:
    # A command run as it is read (CORE.NOOP): its acks leave as soon as paho's read is over,
    # in the same turn, before anything else the loop has ready.
    unsent_next_turn: list[int] = []

    def answer(publisher: Publisher, message: aiomqtt.Message) -> None:
        publisher.publish("t/out/ack", b"ACCEPTED", retain=False, confirmed=_ignore)
        publisher.publish("t/out/ack", b"COMPLETED", retain=False, confirmed=_ignore, now=True)
        out = publisher._paho._out_packet
        asyncio.get_running_loop().call_soon(lambda: unsent_next_turn.append(len(out)))

    async with _flight_reading(mosquitto, answer) as ground:
        await ground.publish("t/in", b"command", qos=1)
        async with asyncio.timeout(10):
            received = await _receive(ground, 2)
    assert received == [b"ACCEPTED", b"COMPLETED"]
    assert unsent_next_turn == [0]


def _ignore(mid: int) -> None:
    """A confirmation nobody waits for."""
