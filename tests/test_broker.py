"""isru.broker's own mosquitto (SIL, tests, benchmarks): its packet-size bound, proved on a real
broker, and why the deployed broker ties client ids to accounts (which this one does not).

The deployed configuration, deploy/mosquitto, is proved in tests/test_broker_acl.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiomqtt

from interface.messages import MAX_PAYLOAD_BYTES
from isru.broker import MAX_PACKET_BYTES, MAX_QUEUED_MESSAGES, PACKET_OVERHEAD_BYTES, Mosquitto
from tests.deployed_broker import (
    ACL,
    CONF,
    LONGEST_TOPIC,
    NODELAY,
    disconnected,
    publish_refused,
    receive,
)


def anonymous(broker: Mosquitto) -> aiomqtt.Client:
    return aiomqtt.Client(broker.host, broker.port, socket_options=NODELAY)


def test_broker_packet_bound_fits_the_flight_payload_limit() -> None:
    # PUBLISH at QoS 1: fixed header (1 + at most 4 length bytes), topic (2 + name), packet id.
    longest_overhead = 1 + 4 + 2 + len(LONGEST_TOPIC.encode()) + 2
    assert MAX_PACKET_BYTES == MAX_PAYLOAD_BYTES + PACKET_OVERHEAD_BYTES
    assert longest_overhead <= PACKET_OVERHEAD_BYTES
    # The deployed broker has the same bound, and the built-in one has it too.
    assert f"\nmax_packet_size {MAX_PACKET_BYTES}\n" in CONF.read_text()
    assert f"\nmax_packet_size {MAX_PACKET_BYTES}\n" in Mosquitto(Path("/nowhere")).default_config()


async def test_broker_oversize_publish_never_reaches_a_subscriber(mosquitto: Mosquitto) -> None:
    largest = b"a" * MAX_PAYLOAD_BYTES  # the largest payload the flight software accepts
    oversize = b"b" * (MAX_PAYLOAD_BYTES + PACKET_OVERHEAD_BYTES)
    async with anonymous(mosquitto) as subscriber, anonymous(mosquitto) as publisher:
        await subscriber.subscribe(LONGEST_TOPIC, qos=1)
        await publisher.publish(LONGEST_TOPIC, largest, qos=1)
        assert await receive(subscriber) == (LONGEST_TOPIC, largest)

        async with anonymous(mosquitto) as offender:
            await publish_refused(offender, LONGEST_TOPIC, oversize)
        await publisher.publish(LONGEST_TOPIC, b"after", qos=1)
        assert await receive(subscriber) == (LONGEST_TOPIC, b"after")
    assert any("disconnected due to oversize packet" in line for line in mosquitto.log)


async def test_broker_without_the_client_id_rule_lets_ground_take_the_vehicle_id(
    tmp_path: Path,
) -> None:
    # The hazard deploy/mosquitto guards against (use_username_as_clientid): with plain
    # mosquitto any account may connect as isru-flight-<vehicle> and kick the vehicle off.
    passwords = {"vehicle-testbed-1": "v", "ground": "g"}
    async with Mosquitto(tmp_path, passwords=passwords, acl=ACL.read_text()) as broker:
        flight_id = "isru-flight-testbed-1"
        vehicle = aiomqtt.Client(
            broker.host,
            broker.port,
            username="vehicle-testbed-1",
            password="v",
            identifier=flight_id,
            clean_session=False,
            socket_options=NODELAY,
        )
        ground = aiomqtt.Client(
            broker.host,
            broker.port,
            username="ground",
            password="g",
            identifier=flight_id,
            socket_options=NODELAY,
        )
        async with vehicle:
            await vehicle.subscribe("isru/testbed-1/cmd", qos=1)
            async with ground:
                await disconnected(vehicle)
    assert any(f"Client {flight_id} already connected" in line for line in broker.log)


def test_broker_queue_bound_is_the_deployed_one() -> None:
    line = f"\nmax_queued_messages {MAX_QUEUED_MESSAGES}\n"
    assert line in CONF.read_text()
    assert line in Mosquitto(Path("/nowhere")).default_config()


async def test_broker_keeps_more_than_mosquittos_default_for_a_session_away(
    mosquitto: Mosquitto,
) -> None:
    # An archive that is away while a SIL run at a time scale publishes: mosquitto's own bound
    # (1000) would drop the newest of these.
    count = 1500
    archive = {"identifier": "archive-away", "clean_session": False}
    async with aiomqtt.Client(mosquitto.host, mosquitto.port, **archive) as away:
        await away.subscribe("t/away", qos=1)
    async with anonymous(mosquitto) as vehicle:
        for number in range(count):
            await vehicle.publish("t/away", str(number), qos=1)
    async with aiomqtt.Client(mosquitto.host, mosquitto.port, **archive) as back:
        received = []
        async with asyncio.timeout(30):
            async for message in back.messages:
                received.append(int(message.payload))  # type: ignore[arg-type]
                if len(received) == count:
                    break
    assert received == list(range(count))
