"""The shipped broker (deploy/mosquitto: mosquitto.conf and acl, unchanged but for the site's
ports and paths, see tests/deployed_broker.py), enforced by a real mosquitto: the ACL, the
vehicle's client id that no other account can take, the packet-size bound, the queue of a
persistent session.

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
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from interface.messages import MAX_PAYLOAD_BYTES
from isru.broker import PACKET_OVERHEAD_BYTES, Mosquitto
from tests import deployed_broker
from tests.deployed_broker import (
    ACL,
    LONGEST_TOPIC,
    WAIT_S,
    Certificates,
    DeployedConfig,
    make_certificates,
    publish_refused,
    receive,
)

VEHICLE, GROUND, INTRUDER, MONITOR = "vehicle-testbed-1", "ground", "intruder", "monitor"
PASSWORDS = {user: f"{user}-secret" for user in (VEHICLE, GROUND, INTRUDER, MONITOR)}
#: Test-only observer that may read every topic, so a dropped publish has a witness (ground
#: cannot read cmd, the vehicle cannot read tm). Appended after the shipped file, which is used
#: unchanged: every other user's rights are exactly the shipped ones.
MONITOR_ACL = f"\n# test-only observer\nuser {MONITOR}\ntopic read #\n"

T = "isru/testbed-1"
#: The client id flight/mqtt/session.py connects with.
FLIGHT_ID = "isru-flight-testbed-1"
#: mosquitto's default max_queued_messages, which the shipped config raises.
DEFAULT_QUEUE = 1000


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def deployed(certificates: Certificates) -> DeployedConfig:
    return DeployedConfig(certificates)


@pytest.fixture
async def broker(tmp_path: Path, deployed: DeployedConfig) -> AsyncIterator[Mosquitto]:
    acl = ACL.read_text() + MONITOR_ACL
    workdir = tmp_path / "mosquitto"
    async with Mosquitto(workdir, passwords=PASSWORDS, acl=acl, config=deployed) as broker:
        yield broker


def client(
    broker: Mosquitto,
    user: str | None = None,
    *,
    password: str | None = None,
    tls: DeployedConfig | None = None,
    identifier: str | None = None,
    clean_session: bool | None = None,
) -> aiomqtt.Client:
    """A client of the loopback listener, or of the TLS one with ``tls``."""
    if user is not None and password is None:
        password = PASSWORDS[user]
    return deployed_broker.client(
        broker, user, password, tls=tls, identifier=identifier, clean_session=clean_session
    )


async def nothing_queued(subscriber: aiomqtt.Client) -> None:
    """Assert that the broker has sent ``subscriber`` nothing, using a SUBACK as the barrier."""
    await subscriber.subscribe("barrier/never-published", qos=1)
    assert len(subscriber.messages) == 0


async def test_broker_acl_vehicle_telemetry_reaches_ground_and_commands_reach_vehicle(
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


async def test_broker_acl_vehicle_cannot_publish_a_command(broker: Mosquitto) -> None:
    async with client(broker, VEHICLE) as vehicle, client(broker, MONITOR) as monitor:
        await monitor.subscribe("isru/#", qos=1)
        for denied in (f"{T}/cmd", f"{T}/seq/start", "isru/other-vehicle/tm/core", "elsewhere"):
            await vehicle.publish(denied, b"forged", qos=1)
            await vehicle.publish(f"{T}/evr", b"marker", qos=1)
            assert await receive(monitor) == (f"{T}/evr", b"marker"), denied
        await nothing_queued(monitor)


async def test_broker_acl_ground_cannot_publish_telemetry(broker: Mosquitto) -> None:
    async with client(broker, GROUND) as ground, client(broker, MONITOR) as monitor:
        await monitor.subscribe("isru/#", qos=1)
        for denied in (f"{T}/tm/core", f"{T}/status", f"{T}/cmd/ack", f"{T}/seq/status"):
            await ground.publish(denied, b"forged", qos=1)
            await ground.publish(f"{T}/cmd", b"marker", qos=1)
            assert await receive(monitor) == (f"{T}/cmd", b"marker"), denied
        await nothing_queued(monitor)


async def test_broker_acl_intruder_can_neither_publish_nor_receive(broker: Mosquitto) -> None:
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


async def test_broker_acl_anonymous_and_wrong_password_are_refused(broker: Mosquitto) -> None:
    with pytest.raises(aiomqtt.MqttCodeError, match=r"(?i)not authori[sz]ed"):
        async with client(broker):
            pass
    with pytest.raises(aiomqtt.MqttCodeError, match=r"(?i)not authori[sz]ed|bad user"):
        async with client(broker, GROUND, password="wrong"):
            pass


async def test_broker_acl_retained_message_survives_a_restart(broker: Mosquitto) -> None:
    url = broker.url
    async with client(broker, VEHICLE) as vehicle:
        await vehicle.publish(f"{T}/status", b'{"state": "online"}', qos=1, retain=True)
    await broker.stop()
    await broker.start()
    assert broker.url == url
    async with client(broker, GROUND) as ground:
        await ground.subscribe(f"{T}/status", qos=1)
        async with asyncio.timeout(WAIT_S):
            message = await anext(ground.messages)
        assert message.retain
        assert message.payload == b'{"state": "online"}'


async def test_broker_acl_tls_listener_takes_the_same_logins(
    broker: Mosquitto, deployed: DeployedConfig
) -> None:
    async with client(broker, GROUND, tls=deployed) as ground, client(broker, VEHICLE) as vehicle:
        await ground.subscribe(f"{T}/status", qos=1)
        await vehicle.publish(f"{T}/status", b"over-tls", qos=1)
        assert await receive(ground) == (f"{T}/status", b"over-tls")
    with pytest.raises(aiomqtt.MqttCodeError, match=r"(?i)not authori[sz]ed|bad user"):
        async with client(broker, GROUND, password="wrong", tls=deployed):
            pass


@pytest.mark.parametrize("over_tls", [False, True], ids=["loopback", "tls"])
async def test_broker_acl_vehicle_client_id_cannot_be_taken_by_ground(
    broker: Mosquitto, deployed: DeployedConfig, over_tls: bool
) -> None:
    tls = deployed if over_tls else None

    def flight() -> aiomqtt.Client:  # as flight/mqtt/connect.py connects
        return client(broker, VEHICLE, identifier=FLIGHT_ID, clean_session=False)

    async with flight() as vehicle:
        await vehicle.subscribe(f"{T}/cmd", qos=1)
        # A clean session under the vehicle's id: on plain mosquitto this kicks the vehicle off
        # and discards its session (tests/test_broker.py shows it).
        hijack = client(broker, GROUND, tls=tls, identifier=FLIGHT_ID, clean_session=True)
        async with hijack as ground:
            await ground.publish(f"{T}/cmd", b"while-ground-claims-the-id", qos=1)
            assert await receive(vehicle) == (f"{T}/cmd", b"while-ground-claims-the-id")
        await vehicle.publish(f"{T}/evr", b"still-connected", qos=1)

    # The vehicle's persistent session survived: a command sent while it was away is queued.
    async with client(broker, GROUND, tls=tls, identifier=FLIGHT_ID) as ground:
        await ground.publish(f"{T}/cmd", b"queued", qos=1)
    async with flight() as vehicle:
        assert await receive(vehicle) == (f"{T}/cmd", b"queued")
    assert not any("already connected" in line for line in broker.log)


async def test_broker_acl_deployed_oversize_publish_never_reaches_a_subscriber(
    broker: Mosquitto, deployed: DeployedConfig
) -> None:
    largest = b"a" * MAX_PAYLOAD_BYTES  # the largest payload the flight software accepts
    oversize = b"b" * (MAX_PAYLOAD_BYTES + PACKET_OVERHEAD_BYTES)
    # One connection at a time for the ground account: its client id is its user name.
    async with client(broker, MONITOR) as monitor:
        await monitor.subscribe(LONGEST_TOPIC, qos=1)
        async with client(broker, GROUND) as ground:
            await ground.publish(LONGEST_TOPIC, largest, qos=1)
        assert await receive(monitor) == (LONGEST_TOPIC, largest)

        # Over TLS, as a ground console would send it; the broker disconnects the sender.
        async with client(broker, GROUND, tls=deployed) as offender:
            await publish_refused(offender, LONGEST_TOPIC, oversize)
        async with client(broker, GROUND) as ground:
            await ground.publish(LONGEST_TOPIC, b"after", qos=1)
        assert await receive(monitor) == (LONGEST_TOPIC, b"after")


async def test_broker_acl_recorder_session_keeps_more_than_the_default_queue(
    broker: Mosquitto,
) -> None:
    count = DEFAULT_QUEUE + 500  # mosquitto's default would drop the last ~500

    # The recorder's own client id, as ground/recorder.py sends it; the broker uses the account.
    def record() -> aiomqtt.Client:
        return client(
            broker, GROUND, identifier="isru-ground-recorder-testbed-1", clean_session=False
        )

    async with record() as recorder:
        await recorder.subscribe(f"{T}/tm/#", qos=1)
    async with client(broker, VEHICLE) as vehicle:
        for start in range(0, count, 100):
            await asyncio.gather(
                *(
                    vehicle.publish(f"{T}/tm/elec", b"%d" % n, qos=1)
                    for n in range(start, start + 100)
                )
            )
    async with record() as recorder:
        got = [(await receive(recorder))[1] for _ in range(count)]
    assert got == [b"%d" % n for n in range(count)]
