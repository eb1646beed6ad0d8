"""The fast QoS 1 publisher (flight/mqtt/publisher.py) on aiomqtt's paho client, against a real
mosquitto: what it sends arrives whole and in order, each message is confirmed once, and
aiomqtt's own publishes still work beside it."""

from __future__ import annotations

import asyncio

import aiomqtt
import pytest

from flight.mqtt import Publisher
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
