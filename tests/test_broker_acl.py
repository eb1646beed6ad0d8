"""The shipped mosquitto ACL (deploy/mosquitto/acl), enforced by a real mosquitto.

Negatives are proved, never waited out: a denied message is followed by a barrier the broker
must have handled after it. Either the same client publishes an allowed marker next (the broker
handles one client's packets in order and queues to each subscriber in order, so a subscriber
that gets the marker without the denied message got nothing for it), or a QoS 1 publish is
acknowledged (mosquitto sends PUBACK only once it has routed the message) before an allowed
client sends the marker. For a subscriber, a SUBACK is the barrier: mosquitto writes to one
client in order, so any message routed to it before a later SUBSCRIBE arrives before its SUBACK.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from isru.broker import Mosquitto

#: Real-time bound on any wait for a message: generous, never the thing that passes a test.
WAIT_S = 10.0

ACL = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto" / "acl"
VEHICLE, GROUND, INTRUDER, MONITOR = "vehicle-testbed-1", "ground", "intruder", "monitor"
PASSWORDS = {user: f"{user}-secret" for user in (VEHICLE, GROUND, INTRUDER, MONITOR)}
#: Test-only observer that may read every topic, so a dropped publish has a witness (ground
#: cannot read cmd, the vehicle cannot read tm). Appended after the shipped file, which is used
#: unchanged: every other user's rights are exactly the shipped ones.
MONITOR_ACL = f"\n# test-only observer\nuser {MONITOR}\ntopic read #\n"
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]

T = "isru/testbed-1"


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Mosquitto]:
    acl = ACL.read_text() + MONITOR_ACL
    async with Mosquitto(tmp_path / "mosquitto", passwords=PASSWORDS, acl=acl) as broker:
        yield broker


def client(
    broker: Mosquitto, user: str | None = None, *, password: str | None = None
) -> aiomqtt.Client:
    if user is not None and password is None:
        password = PASSWORDS[user]
    return aiomqtt.Client(
        broker.host,
        broker.port,
        username=user,
        password=password,
        socket_options=NODELAY,
    )


async def receive(subscriber: aiomqtt.Client) -> tuple[str, bytes]:
    async with asyncio.timeout(WAIT_S):
        message = await anext(subscriber.messages)
    assert isinstance(message.payload, bytes)
    return str(message.topic), message.payload


async def nothing_queued(subscriber: aiomqtt.Client) -> None:
    """Assert that the broker has sent ``subscriber`` nothing, using a SUBACK as the barrier."""
    await subscriber.subscribe("barrier/never-published", qos=1)
    assert len(subscriber.messages) == 0


async def test_vehicle_telemetry_reaches_ground_and_commands_reach_vehicle(
    broker: Mosquitto,
) -> None:
    async with client(broker, VEHICLE) as vehicle, client(broker, GROUND) as ground:
        await ground.subscribe("isru/#", qos=1)
        await vehicle.subscribe(f"{T}/cmd", qos=1)
        await vehicle.subscribe(f"{T}/seq/+", qos=1)

        for topic in (f"{T}/status", f"{T}/dict", f"{T}/tm/core", f"{T}/evr", f"{T}/cmd/ack"):
            await vehicle.publish(topic, b"from-vehicle", qos=1)
            assert await receive(ground) == (topic, b"from-vehicle")
        await vehicle.publish(f"{T}/seq/status", b"running", qos=1)
        assert await receive(ground) == (f"{T}/seq/status", b"running")

        for topic in (f"{T}/cmd", f"{T}/seq/upload", f"{T}/seq/start", f"{T}/seq/abort"):
            await ground.publish(topic, b"from-ground", qos=1)
            assert await receive(vehicle) == (topic, b"from-ground")
        # Neither reads what it writes: ground got none of its commands back, the vehicle none of
        # its telemetry (in particular not seq/status, though it subscribed to seq/+).
        await nothing_queued(ground)
        await nothing_queued(vehicle)


async def test_vehicle_cannot_publish_a_command(broker: Mosquitto) -> None:
    async with client(broker, VEHICLE) as vehicle, client(broker, MONITOR) as monitor:
        await monitor.subscribe("isru/#", qos=1)
        for denied in (f"{T}/cmd", f"{T}/seq/start", "isru/other-vehicle/tm/core", "elsewhere"):
            await vehicle.publish(denied, b"forged", qos=1)
            await vehicle.publish(f"{T}/evr", b"marker", qos=1)
            assert await receive(monitor) == (f"{T}/evr", b"marker"), denied
        await nothing_queued(monitor)


async def test_ground_cannot_publish_telemetry(broker: Mosquitto) -> None:
    async with client(broker, GROUND) as ground, client(broker, MONITOR) as monitor:
        await monitor.subscribe("isru/#", qos=1)
        for denied in (f"{T}/tm/core", f"{T}/status", f"{T}/cmd/ack", f"{T}/seq/status"):
            await ground.publish(denied, b"forged", qos=1)
            await ground.publish(f"{T}/cmd", b"marker", qos=1)
            assert await receive(monitor) == (f"{T}/cmd", b"marker"), denied
        await nothing_queued(monitor)


async def test_intruder_can_neither_publish_nor_receive(broker: Mosquitto) -> None:
    async with (
        client(broker, INTRUDER) as intruder,
        client(broker, VEHICLE) as vehicle,
        client(broker, GROUND) as ground,
        client(broker, MONITOR) as monitor,
    ):
        await monitor.subscribe("#", qos=1)
        await intruder.subscribe("#", qos=1)
        await intruder.subscribe(f"{T}/tm/core", qos=1)
        await intruder.subscribe(f"{T}/cmd", qos=1)

        # Publish: the intruder's QoS 1 publish is acknowledged (so routed) before the marker.
        for denied in (f"{T}/cmd", f"{T}/tm/core", "anything"):
            await intruder.publish(denied, b"forged", qos=1)
            await ground.publish(f"{T}/cmd", b"marker", qos=1)
            assert await receive(monitor) == (f"{T}/cmd", b"marker"), denied

        # Receive: traffic in both directions reaches the monitor, then none reached the intruder.
        await vehicle.publish(f"{T}/tm/core", b"telemetry", qos=1)
        assert await receive(monitor) == (f"{T}/tm/core", b"telemetry")
        await ground.publish(f"{T}/cmd", b"command", qos=1)
        assert await receive(monitor) == (f"{T}/cmd", b"command")
        await nothing_queued(intruder)
        await nothing_queued(monitor)


async def test_anonymous_and_wrong_password_are_refused(broker: Mosquitto) -> None:
    with pytest.raises(aiomqtt.MqttCodeError, match=r"(?i)not authori[sz]ed"):
        async with client(broker):
            pass
    with pytest.raises(aiomqtt.MqttCodeError, match=r"(?i)not authori[sz]ed|bad user"):
        async with client(broker, GROUND, password="wrong"):
            pass


async def test_retained_message_survives_a_restart(mosquitto: Mosquitto) -> None:
    url = mosquitto.url
    async with client(mosquitto) as vehicle:
        await vehicle.publish(f"{T}/status", b'{"state": "online"}', qos=1, retain=True)
    await mosquitto.stop()
    await mosquitto.start()
    assert mosquitto.url == url
    async with client(mosquitto) as ground:
        await ground.subscribe(f"{T}/status", qos=1)
        async with asyncio.timeout(WAIT_S):
            message = await anext(ground.messages)
        assert message.retain
        assert message.payload == b'{"state": "online"}'
