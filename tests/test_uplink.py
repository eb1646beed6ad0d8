"""The MQTT link against a real mosquitto: commands, acks, telemetry, outage replay, auth."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flight.mqtt import Outbox, Priority, Uplink
from flight.service import command_authenticator
from interface.broker import stop_task
from isru.broker import Mosquitto
from tests.flightstack import Stack, flight_stack
from tests.ground_probe import Probe, ground_probe

VEHICLE = "testbed"
#: Slower than the other stack tests: every packet also crosses the broker, in one process.
TIME_SCALE = 10.0
KEY = bytes(range(32))


@dataclass
class Linked:
    stack: Stack
    uplink: Uplink
    ground: Probe
    broker: Mosquitto


@contextlib.asynccontextmanager
async def linked(
    tmp_path: Path,
    broker: Mosquitto,
    *,
    key: bytes | None = None,
    vehicle: str = VEHICLE,
    login: tuple[str, str] | None = None,
    ground_login: tuple[str, str] | None = None,
    **options: Any,
) -> AsyncIterator[Linked]:
    """A flight stack with its uplink, and a ground probe, on ``broker``. With ``key`` the
    commands must be signed, checked as ``isru flight`` checks them (``flight.service``);
    ``options`` go to :class:`Uplink` (limits, say)."""
    ground_user, ground_password = ground_login or (None, None)
    async with (
        ground_probe(
            broker.host, broker.port, vehicle, username=ground_user, password=ground_password
        ) as ground,
        flight_stack(tmp_path, time_scale=TIME_SCALE) as stack,
    ):
        authenticator = command_authenticator(stack.app, key)
        with Outbox(tmp_path / "outbox.db") as outbox:
            user, password = login or (None, None)
            uplink = Uplink(
                app=stack.app,
                broker=broker.url,
                vehicle=vehicle,
                outbox=outbox,
                authenticator=authenticator,
                username=user,
                password=password,
                **options,
            )
            async with uplink:
                await ground.wait_for(
                    lambda m: m.topic.endswith("/status") and m.payload["state"] == "online"
                )
                yield Linked(stack, uplink, ground, broker)


async def test_uplink_command_from_a_plain_client_gets_every_stage(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    async with linked(tmp_path, mosquitto) as link:
        command_id = await link.ground.command("CORE.NOOP")
        final = await link.ground.final_ack(command_id)
        assert final["stage"] == "COMPLETED"
        assert link.ground.acks(command_id) == ["ACCEPTED", "STARTED", "COMPLETED"]
        status = link.ground.on("status")[-1]
        assert status["mode"] == "SAFE"
        assert status["dict_hash"] == link.stack.app.dictionary.hash
        dictionary = link.ground.on("dict")[-1]
        assert dictionary["hash"] == status["dict_hash"]


async def test_uplink_refused_command_says_why(tmp_path: Path, mosquitto: Mosquitto) -> None:
    async with linked(tmp_path, mosquitto) as link:
        command_id = await link.ground.command("SCOOP.DIG", {"depth_mm": 30})
        final = await link.ground.final_ack(command_id)
        assert final["stage"] == "FAILED"
        assert final["reason"] == "NOT_ALLOWED_IN_MODE"
        assert "SAFE" in final["detail"]


async def test_uplink_telemetry_arrives_at_the_configured_rate(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    async with linked(tmp_path, mosquitto) as link:
        first = await link.ground.wait_for(lambda m: m.topic.endswith("/tm/elec"))
        seq0 = first.payload["seq"]
        last = await link.ground.wait_for(
            lambda m: m.topic.endswith("/tm/elec") and m.payload["seq"] >= seq0 + 50
        )
        from datetime import datetime

        span = datetime.fromisoformat(last.payload["time"]) - datetime.fromisoformat(
            first.payload["time"]
        )
        rate = (last.payload["seq"] - seq0) / span.total_seconds()  # mission time
        # telemetry.elec_hz in the stack's config reached the board, and every packet it made
        # came through, never faster. (Not "at least": at this time scale the board's 10 Hz is
        # 100 packets a real second, which a loaded machine's simulator does not keep up with:
        # it skips the slots it missed.)
        assert link.stack.sim.elec.tm_rate_hz == 10.0
        assert rate <= 10.0 * 1.15
        seqs = {m.payload["seq"] for m in link.ground.received if m.topic.endswith("/tm/elec")}
        assert set(range(seq0, last.payload["seq"] + 1)) <= seqs, "a packet went missing"
        assert "elec.h2_pressure_kpa" in last.payload["values"]
        assert link.ground.on("tm/core"), "housekeeping flows too"


async def test_uplink_duplicate_command_is_acked_again_not_run_twice(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    async with linked(tmp_path, mosquitto) as link:
        await link.ground.command("CORE.NOOP", command_id="same-id")
        await link.ground.final_ack("same-id")
        completed = link.stack.app.dispatcher.completed
        await link.ground.command("CORE.NOOP", command_id="same-id")
        await link.ground.wait_for(
            lambda m: m.topic.endswith("/evr") and m.payload["id"] == "COMMAND_DUPLICATE"
        )
        await link.ground.wait_for(lambda m: link.ground.acks("same-id").count("COMPLETED") == 2)
        assert link.stack.app.dispatcher.completed == completed


async def test_uplink_broker_outage_loses_no_telemetry(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    archive_id = {"identifier": "archive", "clean_session": False}
    async with linked(tmp_path, mosquitto) as link:
        async with ground_probe(mosquitto.host, mosquitto.port, VEHICLE, **archive_id) as first:
            before = await first.wait_for(lambda m: m.topic.endswith("/tm/elec"))
            await mosquitto.stop()
        outage_began = link.stack.events[-1].seq
        uptime = link.stack.app.channels.values["elec.uptime_ms"]
        # The flight software goes on while the broker is away: 3 s of telemetry to the outbox.
        await link.stack.until(lambda v: v["elec.uptime_ms"] > uptime + 3000)
        assert len(link.uplink.outbox) > 0
        await mosquitto.start()
        await link.stack.event("REPLAY_DONE", lambda e: e.seq > outage_began)
        async with ground_probe(mosquitto.host, mosquitto.port, VEHICLE, **archive_id) as again:
            newest = link.uplink.last_seq("elec")
            await again.wait_for(
                lambda m: m.topic.endswith("/tm/elec") and m.payload["seq"] >= newest
            )
            received = first.received + again.received
    elec = [m.payload for m in received if m.topic.endswith("/tm/elec")]
    seqs = {p["seq"] for p in elec}
    start_seq = before.payload["seq"]
    assert set(range(start_seq, newest + 1)) <= seqs, "a telemetry sample went missing"
    # At least once: a message whose PUBACK the stopped broker never saw comes again, so
    # order is checked on each message's first arrival (docs/mqtt.md: de-duplicate by seq).
    replayed = list(dict.fromkeys(p["seq"] for p in elec if p.get("replayed")))
    live = list(dict.fromkeys(p["seq"] for p in elec if not p.get("replayed")))
    assert replayed, "the outage was bridged by the outbox"
    assert replayed == sorted(replayed) and live == sorted(live)  # in order, per stream
    assert len(link.uplink.outbox) == 0
    events = [m.payload["id"] for m in received if m.topic.endswith("/evr")]
    assert "BROKER_LOST" in events  # told after the fact, from the outbox


async def test_uplink_malformed_payloads_are_refused_and_it_keeps_serving(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    bad = [
        b"not json",
        b"[]",
        b'{"id": "x1"}',
        b'{"id": "x2", "name": 5}',
        b'{"id": "x3", "name": "CORE.NOOP", "args": "nope"}',
        b'{"id": "' + b"y" * 100 + b'", "name": "CORE.NOOP"}',
        b"{" * 100_000,
        b"\xff\xfe\x00",
        json.dumps({"id": "x4", "name": "CORE.NOOP", "extra": 1}).encode(),
        # Over the flight's 256 KiB limit, within the broker's (isru.broker.MAX_PACKET_BYTES).
        b"x" * (256 * 1024 + 1),
    ]
    async with linked(tmp_path, mosquitto) as link:
        for payload in bad:
            await link.ground.publish("cmd", payload)
        command_id = await link.ground.command("CORE.NOOP")
        assert (await link.ground.final_ack(command_id))["stage"] == "COMPLETED"
        rejected = [e for e in link.ground.on("evr") if e["id"] == "MESSAGE_REJECTED"]
        assert len(rejected) == len(bad)
        refused = await link.ground.final_ack("x3")
        assert refused["reason"] == "MALFORMED"
        assert "args" in refused["detail"]


async def test_uplink_auth_refuses_replayed_tampered_unsigned_and_stale(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    async with linked(tmp_path, mosquitto, key=KEY) as link:
        ground = link.ground
        good = await ground.command("CORE.NOOP", key=KEY, counter=5)
        assert (await ground.final_ack(good))["stage"] == "COMPLETED"
        replay = await ground.command("CORE.NOOP", key=KEY, counter=5)
        unsigned = await ground.command("CORE.NOOP")
        stale = await ground.command("CORE.NOOP", key=KEY, counter=3)
        tampered_id = "tampered"
        message = {
            "id": tampered_id,
            "name": "CORE.TM_RATE",
            "args": {"board": "elec", "rate_hz": 50},
            "counter": 9,
            "mac": "0" * 64,
        }
        await ground.publish("cmd", json.dumps(message))
        for command_id, reason in (
            (replay, "replayed"),
            (unsigned, "unsigned"),
            (stale, "stale"),
            (tampered_id, "bad_mac"),
        ):
            ack = await ground.final_ack(command_id)
            assert (ack["stage"], ack["reason"]) == ("FAILED", "AUTH"), ack
            assert ack["detail"].startswith(reason)
        assert link.stack.app.state.highest_command_counter == 5
        later = await ground.command("CORE.NOOP", key=KEY, counter=6)
        assert (await ground.final_ack(later))["stage"] == "COMPLETED"
        refusals = [e for e in ground.on("evr") if e["id"] == "AUTH_REFUSED"]
        assert len(refusals) == 4


async def test_uplink_sequence_topics_upload_start_and_report(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    async with linked(tmp_path, mosquitto) as link:
        text = "MODE.IDLE\nCORE.NOOP\nMODE.SAFE\n"
        upload = await link.ground.command(
            "SEQ.UPLOAD", {"name": "short", "text": text}, topic="seq/upload"
        )
        assert (await link.ground.final_ack(upload))["stage"] == "COMPLETED"
        start = await link.ground.command("SEQ.START", {"name": "short"}, topic="seq/start")
        assert (await link.ground.final_ack(start))["stage"] == "COMPLETED"
        done = await link.ground.wait_for(
            lambda m: m.topic.endswith("/seq/status") and m.payload.get("outcome") == "COMPLETED"
        )
        assert done.payload["name"] == "short"
        assert "short" in done.payload["uploaded"]


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
PAYLOADS = st.one_of(
    st.binary(max_size=300),
    JSONISH.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"id": st.text(max_size=70), "name": st.text(max_size=20)},
        optional={"args": JSONISH, "counter": JSONISH, "mac": st.text(max_size=70)},
    ).map(lambda d: json.dumps(d).encode()),
)


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(payloads=st.lists(PAYLOADS, min_size=20, max_size=40))
def test_uplink_fuzzed_payloads_leave_it_serving(
    tmp_path_factory: pytest.TempPathFactory, payloads: list[bytes]
) -> None:
    async def scenario() -> None:
        workdir = tmp_path_factory.mktemp("fuzz")
        async with Mosquitto(workdir / "broker") as broker, linked(workdir, broker) as link:
            for payload in payloads:
                for topic in ("cmd", "seq/start"):
                    await link.ground.publish(topic, payload)
            command_id = await link.ground.command("CORE.NOOP")
            assert (await link.ground.final_ack(command_id))["stage"] == "COMPLETED"
            assert link.stack.app.modes.mode.value == "SAFE"  # nothing fuzzed moved hardware

    asyncio.run(scenario())


async def test_uplink_limits_and_safing_go_on_while_the_broker_is_away(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    archive_id = {"identifier": "events-archive", "clean_session": False}
    async with linked(tmp_path, mosquitto) as link:
        stack = link.stack
        async with ground_probe(mosquitto.host, mosquitto.port, VEHICLE, **archive_id):
            await stack.ok("MODE.IDLE")
            await stack.ok("ELEC.START", current_a=2.0)
            await mosquitto.stop()
        stack.sim.set_drift("elec", "h2_pressure", 20.0)
        red = await stack.event("LIMIT_RED")
        await stack.until(lambda v: v.get("core.mode") == "SAFE" and not v.get("elec.current_on"))
        await mosquitto.start()
        async with ground_probe(mosquitto.host, mosquitto.port, VEHICLE, **archive_id) as again:
            replayed = await again.wait_for(
                lambda m: m.topic.endswith("/evr") and m.payload["id"] == "LIMIT_RED"
            )
    assert replayed.payload.get("replayed") is True
    assert replayed.payload["seq"] == red.seq
    assert replayed.payload["time"] == red.time.isoformat().replace("+00:00", "Z")


async def test_uplink_logs_in_under_the_deployed_acl(tmp_path: Path) -> None:
    acl = (Path(__file__).parents[1] / "deploy" / "mosquitto" / "acl").read_text()
    passwords = {"vehicle-testbed-1": "vehicle-secret", "ground": "ground-secret"}
    async with (
        Mosquitto(tmp_path / "broker", passwords=passwords, acl=acl) as broker,
        linked(
            tmp_path,
            broker,
            vehicle="testbed-1",
            login=("vehicle-testbed-1", "vehicle-secret"),
            ground_login=("ground", "ground-secret"),
        ) as link,
    ):
        command_id = await link.ground.command("CORE.NOOP")
        assert (await link.ground.final_ack(command_id))["stage"] == "COMPLETED"
        await link.ground.wait_for(lambda m: m.topic.endswith("/tm/elec"))


async def test_uplink_stop_task_ends_a_session_whose_cancellation_was_dropped() -> None:
    """As the uplink's session is stopped: the cancellation lands in the loop turn where the
    broker's reply does, asyncio.wait_for on Python 3.11 returns the reply and drops it, and
    the session goes on waiting for messages. stop_task ends it all the same."""
    waiting, reply, messages = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def session() -> None:
        waiting.set()
        await asyncio.wait_for(reply.wait(), 10)  # aiomqtt waiting for a PUBACK
        await messages.wait()  # ``async for message in client.messages``: nothing comes

    task = asyncio.create_task(session())
    await waiting.wait()
    reply.set()  # the PUBACK arrives...
    async with asyncio.timeout(10):
        await stop_task(task)  # ...in the loop turn of the first cancel
    assert task.cancelled()


async def test_uplink_replay_of_many_pages_keeps_order_and_loses_nothing(
    tmp_path: Path, mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More rows than the replay's window and read size: all arrive, in order, and leave."""
    monkeypatch.setattr("flight.mqtt.replay.REPLAY_READ", 100)  # 9 reads, beyond the window
    rows = 900  # under mosquitto's default queue of 1000 for the probe
    with Outbox(tmp_path / "outbox.db") as outbox:
        outbox.put_many(
            (f"isru/{VEHICLE}/tm/bulk", b'{"n": %d, "replayed": true}' % n, Priority.LOW)
            for n in range(rows)
        )
    async with linked(tmp_path, mosquitto) as link:
        done = await link.stack.event("REPLAY_DONE")
        await link.ground.wait_for(
            lambda m: m.topic.endswith("/tm/bulk") and m.payload["n"] == rows - 1
        )
        assert len(link.uplink.outbox) == 0
    bulk = [m.payload for m in link.ground.received if m.topic.endswith("/tm/bulk")]
    assert [p["n"] for p in bulk] == list(range(rows))
    assert all(p["replayed"] is True for p in bulk)
    assert done.args["count"] >= rows


#: Messages made before the first session: its start-up backlog (under STARTUP_BACKLOG_MAX).
LONG_BACKLOG = 1000


async def test_uplink_stopped_while_its_session_starts_says_shutdown_then_offline(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    """A stop that comes after the session said online but before it went live (it is
    still sending the start-up backlog) still sends what the vehicle said last, then the
    retained "offline": the clean disconnect that follows sends no last will."""
    async with (
        ground_probe(mosquitto.host, mosquitto.port, VEHICLE) as ground,
        flight_stack(tmp_path, time_scale=TIME_SCALE) as stack,
    ):
        with Outbox(tmp_path / "outbox.db") as outbox:
            uplink = Uplink(app=stack.app, broker=mosquitto.url, vehicle=VEHICLE, outbox=outbox)
            async with uplink:
                for n in range(LONG_BACKLOG):  # before the session connects: the backlog
                    stack.app.events.emit("OUTBOX_DROPPED", detail=f"filler {n}")
                await ground.wait_for(
                    lambda m: m.topic.endswith("/status") and m.payload["state"] == "online"
                )
                assert not uplink.connected.is_set()  # still starting: the case at hand
                stack.app.events.emit("SHUTDOWN", reason="stopped")
            shutdown = await ground.wait_for(
                lambda m: m.topic.endswith("/evr") and m.payload["id"] == "SHUTDOWN"
            )
            offline = await ground.wait_for(
                lambda m: m.topic.endswith("/status") and m.payload["state"] == "offline"
            )
            assert len(outbox) == 0  # nothing left for the next start: all of it was sent
    assert ground.received.index(shutdown) < ground.received.index(offline)
    assert ground.on("status")[-1]["state"] == "offline"
