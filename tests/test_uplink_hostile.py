"""Hostile input against the uplink on a real mosquitto: no message ends the session, the
intake is bounded and rate-limited, counters are range-checked and readable, a new key starts a
new counter epoch, and a broker that dies leaves no traceback on the flight's stderr."""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flight.mqtt import Uplink
from flight.mqtt.bounds import IntakeQueue, TokenBucket
from flight.state import StateStore
from ground import GroundClient, GroundError
from interface.messages import MAX_PAYLOAD_BYTES
from interface.signing import MAX_COUNTER, fingerprint, sign
from isru.broker import Mosquitto
from isru.sim_child import SimChild
from tests.flightstack import WAIT_S
from tests.ground_probe import Probe, ground_probe
from tests.test_flight_cli import READY_TIMEOUT_S, flight_process, write_config
from tests.test_uplink import VEHICLE, Linked, linked

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
SURROGATE_ID = b'{"id":"\\ud800","name":"CORE.NOOP","args":{}}'
RAW_SURROGATE_ID = b'{"id":"a\xed\xa0\x80","name":"CORE.NOOP","args":{}}'


def is_event(event_id: str) -> Any:
    return lambda m: m.topic.endswith("/evr") and m.payload["id"] == event_id


def statuses(probe: Probe) -> list[str]:
    return [p["state"] for p in probe.on("status")]


async def noop_completes(link: Linked, **signing: Any) -> None:
    command_id = await link.ground.command("CORE.NOOP", **signing)
    ack = await link.ground.final_ack(command_id)
    assert ack["stage"] == "COMPLETED", ack


# --- one message never ends the session ----------------------------------------------------


@pytest.mark.parametrize("payload", [SURROGATE_ID, RAW_SURROGATE_ID], ids=["escaped", "raw"])
async def test_uplink_hostile_lone_surrogate_id_is_refused_and_the_session_goes_on(
    tmp_path: Path, mosquitto: Mosquitto, payload: bytes
) -> None:
    # The vehicle requires signed commands: the message fails before any signature check.
    async with linked(tmp_path, mosquitto, key=KEY) as link:
        for topic in ("cmd", "seq/start"):
            await link.ground.publish(topic, payload)
        await noop_completes(link, key=KEY, counter=1)
        rejected = [e for e in link.ground.on("evr") if e["id"] == "MESSAGE_REJECTED"]
        assert len(rejected) == 2
        assert all("Invalid JSON" in e["args"]["detail"] for e in rejected), rejected
        assert not [e for e in link.ground.on("evr") if e["id"] == "BROKER_LOST"]
        assert statuses(link.ground) == ["online"] * len(statuses(link.ground))
        assert link.uplink.connected.is_set()


async def test_uplink_hostile_session_failure_says_offline_then_reconnects(
    tmp_path: Path, mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with linked(tmp_path, mosquitto) as link:
        handle = link.uplink.intake.on_message
        failures = iter([RuntimeError("a bug in the session")])

        def buggy(message: aiomqtt.Message) -> None:
            failure = next(failures, None)
            if failure is not None:
                raise failure
            handle(message)

        monkeypatch.setattr(link.uplink.intake, "on_message", buggy)
        await link.ground.publish("cmd", b"{}")
        lost = await link.ground.wait_for(is_event("BROKER_LOST"))
        assert "the session failed (RuntimeError: a bug in the session)" in lost.payload["text"]
        await link.ground.wait_for(lambda m: statuses(link.ground)[-2:] == ["offline", "online"])
        await noop_completes(link)


# --- a property: arbitrary bytes on the command topics --------------------------------------


def _json_string(text: str) -> bytes:
    return json.dumps(text).encode()


SURROGATES = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3)
STRINGS = st.one_of(
    st.text(max_size=12).map(_json_string),
    SURROGATES.map(_json_string),  # \udxxx escapes
    SURROGATES.map(lambda t: b'"' + t.encode("utf-8", "surrogatepass") + b'"'),  # ED A0 80
    st.binary(max_size=8).map(lambda b: b'"' + b.replace(b'"', b"").replace(b"\\", b"") + b'"'),
    st.sampled_from([b'"\xff\xfe"', b'"\xc0\xaf"', b'"\\u0000"', b'"\\x"']),
)
NUMBERS = st.one_of(
    st.integers().map(lambda n: str(n).encode()),
    st.floats().map(lambda f: repr(f).encode()),  # nan, inf: not JSON
    st.sampled_from(
        [
            *(b"NaN", b"-Infinity", b"Infinity", b"1e999", b"-0", b"0.1e-400", b"2.5", b"1E+2"),
            *(str(2**70).encode(), str(2**53).encode(), b"9" * 5000, b"-" + b"9" * 400),
        ]
    ),
)
NAMES = st.one_of(
    st.sampled_from(["CORE.NOOP", "SEQ.UPLOAD", "SEQ.START", "SEQ.ABORT", "CORE.NOPE"]).map(
        _json_string
    ),
    STRINGS,
)
KEYS = st.sampled_from([b'"id"', b'"name"', b'"args"', b'"counter"', b'"mac"', b'"schema"'])
VALUES = st.recursive(
    st.one_of(STRINGS, NUMBERS, st.sampled_from([b"true", b"false", b"null"])),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda items: b"[" + b",".join(items) + b"]"),
        st.lists(st.tuples(STRINGS | KEYS, inner), max_size=4).map(
            lambda pairs: b"{" + b",".join(k + b":" + v for k, v in pairs) + b"}"
        ),
    ),
    max_leaves=10,
)
DEEP = st.integers(1, 20_000).flatmap(
    lambda n: st.sampled_from([b"[" * n + b"]" * n, b'{"a":' * n + b"1" + b"}" * n, b"[" * n])
)
COMMANDS = st.lists(  # keys may repeat: duplicate keys
    st.tuples(KEYS, st.one_of(VALUES, NAMES, DEEP)), min_size=1, max_size=7
).map(lambda pairs: b"{" + b",".join(k + b":" + v for k, v in pairs) + b"}")
PAYLOADS = st.one_of(st.binary(max_size=300), VALUES, DEEP, COMMANDS)
TOPICS = st.sampled_from(["cmd", "seq/upload", "seq/start", "seq/abort", "seq/other"])


@pytest.fixture
async def hostile(tmp_path: Path, mosquitto: Mosquitto) -> AsyncIterator[Linked]:
    """One running flight for every example of the property."""
    async with linked(tmp_path, mosquitto) as link:
        yield link


NOOP_IDS = itertools.count(1)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(st.tuples(TOPICS, PAYLOADS), min_size=1, max_size=25))
async def test_uplink_hostile_arbitrary_bytes_never_end_the_session(
    hostile: Linked, batch: list[tuple[str, bytes]]
) -> None:
    link = hostile
    for topic, payload in batch:
        await link.ground.publish(topic, payload)
    command_id = await link.ground.command("CORE.NOOP", command_id=f"✓noop-{next(NOOP_IDS)}")
    assert (await link.ground.final_ack(command_id))["stage"] == "COMPLETED"
    assert link.uplink.connected.is_set()
    assert not [e for e in link.ground.on("evr") if e["id"] == "BROKER_LOST"]
    assert link.uplink.refused["internal error"] == 0, "a message was not handled cleanly"
    assert link.stack.app.modes.mode.value == "SAFE"  # nothing fuzzed moved hardware


# --- counters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counter", "problem"),
    [
        (b"5.0", "counter: Input should be a valid integer"),
        (b'"5"', "counter: Input should be a valid integer"),
        (b"true", "counter: Input should be a valid integer"),
        (b"0", "counter: Input should be greater than or equal to 1"),
        (str(2**53).encode(), "counter: Input should be less than or equal to 9007199254740991"),
        (str(2**70).encode(), "counter: Input should be less than or equal to 9007199254740991"),
    ],
    ids=["float", "string", "boolean", "zero", "2^53", "2^70"],
)
async def test_uplink_hostile_counter_outside_1_to_2_53_is_refused(
    tmp_path: Path, mosquitto: Mosquitto, counter: bytes, problem: str
) -> None:
    async with linked(tmp_path, mosquitto, key=KEY) as link:
        mac = sign(KEY, vehicle=VEHICLE, counter=7, name="CORE.NOOP", args={})
        message = b'{"id":"c","name":"CORE.NOOP","args":{},"counter":%s,"mac":"%s"}' % (
            counter,
            mac.encode(),
        )
        await link.ground.publish("cmd", message)
        ack = await link.ground.final_ack("c")
        assert (ack["stage"], ack["reason"], ack["detail"]) == ("FAILED", "MALFORMED", problem)
        assert link.stack.app.state.highest_command_counter == 0
        await noop_completes(link, key=KEY, counter=1)  # nobody is locked out


async def test_uplink_hostile_status_carries_the_highest_counter_for_a_restarted_client(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    async with linked(tmp_path, mosquitto, key=KEY) as link:
        assert link.ground.on("status")[-1]["highest_counter"] == 0
        ahead = MAX_COUNTER - 10  # another console, far ahead of this one's clock
        await noop_completes(link, key=KEY, counter=ahead)
        await link.ground.wait_for(
            lambda m: m.topic.endswith("/status") and m.payload.get("highest_counter") == ahead
        )
        async with GroundClient(broker=mosquitto.url, vehicle=VEHICLE, key=KEY) as ground:
            assert ground.vehicle_counter() == ahead
            acks = await ground.send("CORE.NOOP")
            assert acks[-1].stage == "COMPLETED"
            assert link.stack.app.state.highest_command_counter == ahead + 1
            await ground.send("CORE.NOOP")
            await noop_completes(link, key=KEY, counter=MAX_COUNTER)  # the last one there is
            await ground._until(lambda: ground.vehicle_counter() == MAX_COUNTER, WAIT_S)
            with pytest.raises(GroundError, match="install a new command key"):
                await ground.send("CORE.NOOP")


async def test_uplink_hostile_new_key_starts_a_new_counter_epoch(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    # A vehicle whose counter was pushed to the end with the old key.
    store = StateStore.in_dir(tmp_path)
    store.load()
    store.update(highest_command_counter=MAX_COUNTER, command_key=fingerprint(OTHER_KEY))
    async with linked(tmp_path, mosquitto, key=KEY) as link:
        assert link.ground.on("status")[-1]["highest_counter"] == 0
        assert link.stack.app.state.command_key == fingerprint(KEY)
        await noop_completes(link, key=KEY, counter=1)
        old = await link.ground.command("CORE.NOOP", key=OTHER_KEY, counter=MAX_COUNTER)
        ack = await link.ground.final_ack(old)
        assert (ack["reason"], ack["detail"].split(":")[0]) == ("AUTH", "bad_mac")
        async with GroundClient(broker=mosquitto.url, vehicle=VEHICLE, key=KEY) as ground:
            assert (await ground.send("CORE.NOOP"))[-1].stage == "COMPLETED"
    restarted = StateStore.in_dir(tmp_path)
    restarted.load()
    assert restarted.command_key == fingerprint(KEY)
    assert 1 < restarted.highest_command_counter < MAX_COUNTER


async def test_uplink_hostile_state_without_a_recorded_key_keeps_its_counter(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    store = StateStore.in_dir(tmp_path)
    store.load()
    store.update(highest_command_counter=500)  # written by a build that recorded no key
    async with linked(tmp_path, mosquitto, key=KEY) as link:
        assert link.ground.on("status")[-1]["highest_counter"] == 500
        stale = await link.ground.command("CORE.NOOP", key=KEY, counter=400)
        assert (await link.ground.final_ack(stale))["detail"].startswith("stale")
        assert link.stack.app.state.command_key == fingerprint(KEY)


# --- flood: bounded queue, rate limits, summaries -------------------------------------------


async def test_uplink_hostile_command_flood_is_rate_limited_with_a_refusal(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    async with linked(tmp_path, mosquitto) as link:
        now = [0.0]  # the buckets' clock: they refill only when the test says so
        link.uplink.intake.commands = TokenBucket(2.0, 5, clock=lambda: now[0])
        link.uplink.intake.refusals = TokenBucket(20.0, 3, clock=lambda: now[0])
        sent = [f"flood-{n}" for n in range(60)]
        for command_id in sent:
            await link.ground.command("CORE.NOOP", command_id=command_id)
        summary = await link.ground.wait_for(
            lambda m: (
                is_event("MESSAGE_REJECTED")(m)
                and "without a report each" in m.payload["args"]["detail"]
            )
        )
        assert "rate limited" in summary.payload["args"]["detail"]
        await link.ground.wait_for(lambda m: sum(link.uplink.refused.values()) == 55)
        assert link.uplink.refused == {"rate limited": 55}
        completed = [i for i in sent if "COMPLETED" in link.ground.acks(i)]
        assert completed == sent[:5]
        refused = [a for a in link.ground.on("cmd/ack") if a.get("reason") == "RATE_LIMITED"]
        assert len(refused) == 3, "only the refusals within the refusal burst are acked"
        assert "over the command rate limit (2 a second, 5 at once)" in refused[0]["detail"]
        now[0] += 0.5  # one token back: a command sent again later runs
        await noop_completes(link)
        assert link.uplink.refused == {"rate limited": 55}


async def test_uplink_hostile_signed_commands_go_through_a_flood_of_forgeries(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    # Five commands in all, no refill to speak of: forgeries must not take any of them.
    async with linked(
        tmp_path, mosquitto, key=KEY, command_burst=5, command_rate_per_s=1e-6, refusal_burst=5
    ) as link:
        forged = {"name": "CORE.NOOP", "args": {}, "counter": 1, "mac": "0" * 64}
        for number in range(300):
            await link.ground.publish("cmd", json.dumps({"id": f"f{number}", **forged}))
        for counter in range(1, 6):
            await noop_completes(link, key=KEY, counter=counter)
        assert link.uplink.refused["auth"] == 300
        reported = sum(1 for e in link.ground.on("evr") if e["id"] == "AUTH_REFUSED")
        assert reported < 100, "refusals beyond the refusal rate are summed up, not reported"


def _message(topic: str, size: int) -> aiomqtt.Message:
    return aiomqtt.Message(topic, b"x" * size, qos=1, retain=False, mid=1, properties=None)


async def test_uplink_hostile_intake_refuses_oversize_and_overflow_before_buffering(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    async with linked(tmp_path, mosquitto, queue_messages=3, queue_bytes=MAX_PAYLOAD_BYTES) as link:
        cmd = f"isru/{VEHICLE}/cmd"
        queue = IntakeQueue(3, admit=link.uplink.intake.admit)
        queue.put_nowait(_message(cmd, MAX_PAYLOAD_BYTES + 1))
        assert queue.qsize() == 0
        queue.put_nowait(_message(f"isru/{VEHICLE}/seq/status", 10))  # our own echo
        for size in (100, MAX_PAYLOAD_BYTES - 200, 300, 50):
            queue.put_nowait(_message(cmd, size))
        assert (queue.qsize(), queue.bytes) == (3, MAX_PAYLOAD_BYTES - 50)
        queue.put_nowait(_message(cmd, 10))  # full: three messages
        assert queue.qsize() == 3
        assert len(queue.get_nowait().payload) == 100  # type: ignore[arg-type]
        assert queue.bytes == MAX_PAYLOAD_BYTES - 150
        assert link.uplink.refused == {"too big": 1, "queue full": 2}
        details = [e["args"]["detail"] for e in await _events(link, "MESSAGE_REJECTED", 3)]
        assert details[0] == f"{MAX_PAYLOAD_BYTES + 1} bytes is over the 262144-byte limit"
        assert details[1].startswith("dropped unread: 2 messages")
        assert details[2].startswith("dropped unread: 3 messages")


async def _events(link: Linked, event_id: str, count: int) -> list[dict[str, Any]]:
    await link.ground.wait_for(
        lambda m: sum(1 for e in link.ground.on("evr") if e["id"] == event_id) >= count
    )
    return [e for e in link.ground.on("evr") if e["id"] == event_id]


def test_uplink_hostile_token_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    now = [0.0]
    bucket = TokenBucket(10.0, 3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.1
    assert [bucket.take(), bucket.take()] == [True, False]
    now[0] += 100
    assert sum(bucket.take() for _ in range(10)) == 3
    with pytest.raises(ValueError, match="rate/burst"):
        TokenBucket(0, 1)


def test_uplink_hostile_refuses_an_intake_queue_smaller_than_one_message() -> None:
    with pytest.raises(ValueError, match="queue_messages/queue_bytes"):
        Uplink(
            app=None,  # type: ignore[arg-type]
            broker="mqtt://127.0.0.1:1",
            vehicle=VEHICLE,
            outbox=None,  # type: ignore[arg-type]
            queue_bytes=1000,
        )


# --- a broker that dies: no traceback --------------------------------------------------------


async def test_uplink_hostile_flight_cli_broker_killed_and_restarted_leaves_no_traceback(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    telemetry = "[telemetry]\nscoop_hz = 50\nelec_hz = 50\n"
    async with SimChild(args=["--link-dir", str(tmp_path)]) as sim:
        config = write_config(
            tmp_path / "flight.toml", sim.urls, tmp_path / "state", telemetry, mosquitto.url
        )
        async with flight_process(config) as flight:  # its stderr is read all along
            try:
                since = datetime.now(UTC)
                for cycle in range(4):
                    await _noop_once_online(mosquitto, f"cycle-{cycle}", since)
                    await (mosquitto.kill() if cycle % 2 == 0 else mosquitto.stop())
                    since = datetime.now(UTC)
                    await mosquitto.start()
                await _noop_once_online(mosquitto, "after", since)
            finally:
                flight.send_signal(signal.SIGTERM)
                async with asyncio.timeout(READY_TIMEOUT_S):
                    code = await flight.wait()
                await flight.stop()  # exited: the rest of its output
    stderr = "\n".join(flight.stderr_lines)
    assert code == 0, stderr
    assert stderr.count("BROKER_LOST") >= 4, stderr
    for sign_of_a_crash in ("Traceback", "never retrieved", "Exception in callback"):
        assert sign_of_a_crash not in stderr, stderr


async def _noop_once_online(broker: Mosquitto, command_id: str, since: datetime) -> None:
    """Wait for the flight's status online published after ``since`` (it is back on the
    broker), then send a NOOP through a new connection and see it complete."""
    async with ground_probe(broker.host, broker.port, "cli-test") as ground:
        await ground.wait_for(
            lambda m: (
                m.topic.endswith("/status")
                and m.payload["state"] == "online"
                and datetime.fromisoformat(m.payload["time"]) >= since
            )
        )
        await ground.command("CORE.NOOP", command_id=command_id)
        ack = await ground.final_ack(command_id)
        assert ack["stage"] == "COMPLETED", ack


async def test_uplink_hostile_loop_errors_of_the_mqtt_client_are_not_printed() -> None:
    loop = asyncio.get_running_loop()
    uplink = Uplink(app=None, broker="mqtt://127.0.0.1:1", vehicle=VEHICLE, outbox=None)  # type: ignore[arg-type]
    passed_on: list[dict[str, Any]] = []
    uplink._loop_handler = lambda _, context: passed_on.append(context)
    watch = aiomqtt.client._set_client_socket_defaults  # any function of the MQTT client
    # paho asked to watch a socket that the broker's going away had just closed:
    closed = OSError(9, "Bad file descriptor")
    handle = asyncio.Handle(loop.add_writer, (99, watch), loop)
    uplink._loop_error(
        loop, {"message": "Exception in callback", "exception": closed, "handle": handle}
    )
    lost = aiomqtt.MqttCodeError(128, "Unexpected disconnection")
    uplink._loop_error(loop, {"message": "Future exception was never retrieved", "exception": lost})
    assert passed_on == []
    ours = {"message": "Task exception was never retrieved", "exception": ValueError("a bug")}
    uplink._loop_error(loop, ours)
    assert passed_on == [ours]
