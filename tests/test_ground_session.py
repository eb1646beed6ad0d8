"""A GroundClient's session against the SIL stack: what it hears, and what ends its reading."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiomqtt
import pytest

from ground import GroundClient
from ground.messages import checked
from interface.messages import SequenceStatusMessage, StatusMessage
from isru.testing import Sil


@pytest.mark.sil(time_scale=10)
async def test_ground_session_persistent_client_closed_mid_stream_misses_no_sample(
    sil: Sil,
) -> None:
    # Closed while telemetry pours in (200 messages a second), a persistent client must not
    # drop a message it had acknowledged: the broker would never send it again.
    heard: dict[str, set[int]] = {}
    arrived = asyncio.Event()

    def listener(suffix: str, document: dict[str, Any]) -> None:
        if suffix.startswith("tm/"):
            heard.setdefault(suffix, set()).add(document["seq"])
            arrived.set()

    async def hear(count: int) -> None:
        target = sum(map(len, heard.values())) + count
        async with asyncio.timeout(20):
            while sum(map(len, heard.values())) < target:
                arrived.clear()
                await arrived.wait()

    def reopened() -> GroundClient:
        ground = GroundClient(
            broker=sil.stack.broker,
            vehicle=sil.stack.vehicle,
            identifier="reopened",
            clean_session=False,
        )
        ground.listen(listener)  # before entering: the messages kept for it come at once
        return ground

    for _ in range(12):
        async with reopened():
            await hear(7)
    newest = {stream: max(seqs) for stream, seqs in heard.items()}
    async with reopened():
        async with asyncio.timeout(20):
            while any(max(heard[stream]) <= seq for stream, seq in newest.items()):
                arrived.clear()
                await arrived.wait()
    for stream, seqs in heard.items():
        missing = set(range(min(seqs), max(seqs) + 1)) - seqs
        assert not missing, f"{stream}: samples {sorted(missing)} were acknowledged, never heard"


@pytest.mark.sil(time_scale=10)
async def test_ground_session_listener_error_is_raised_on_close(sil: Sil) -> None:
    raised = asyncio.Event()

    def listener(suffix: str, document: dict[str, Any]) -> None:
        if suffix.startswith("tm/"):
            raised.set()
            raise ValueError("a listener's bug")

    ground = GroundClient(broker=sil.stack.broker, vehicle=sil.stack.vehicle)
    ground.listen(listener)
    with pytest.raises(ValueError, match="a listener's bug"):
        async with ground:
            await asyncio.wait_for(raised.wait(), 20)
    assert not ground.connected


@pytest.mark.sil(time_scale=10)
async def test_ground_session_malformed_vehicle_messages_are_refused_and_it_reads_on(
    sil: Sil,
) -> None:
    # What a broker account could publish on the vehicle's topics: shapes the vehicle never
    # sends. Each is refused (counted, not kept, not given to listeners); reading goes on.
    hostile = [
        ("evr", b'{"seq": "x", "id": "FORGED"}'),
        ("evr", b'{"seq": 1e400, "id": "FORGED"}'),
        ("evr", b'{"seq": 1, "id": "FORGED", "args": 5}'),
        ("tm/elec", b'{"seq": 1, "values": [1, 2]}'),
        ("tm/elec", b'{"seq": 1, "values": {"elec.stack_v": {"x": 1}}}'),
        ("dict", b'{"commands": [1]}'),
        ("dict", b'{"commands": 5}'),
        ("status", b'{"state": "hijacked"}'),
        ("seq/status", b'{"time": "2026-12-07T00:00:00Z", "state": "RUNNING", "step": "x"}'),
    ]
    heard: list[dict[str, Any]] = []
    broker = sil.stack.mosquitto
    assert broker is not None, "this test needs the stack's own mosquitto"
    ground = GroundClient(broker=sil.stack.broker, vehicle=sil.stack.vehicle)
    ground.listen(lambda suffix, document: heard.append(document))
    async with ground, aiomqtt.Client(broker.host, broker.port) as attacker:
        for suffix, payload in hostile:
            await attacker.publish(f"{ground.topics.prefix}/{suffix}", payload, qos=1)
        # A well-formed event after them, from the same client: the broker keeps the order.
        marker = {"time": "2026-12-07T00:00:00Z", "seq": 1, "severity": "INFO", "id": "MARKER"}
        await attacker.publish(f"{ground.topics.prefix}/evr", json.dumps(marker), qos=1)
        await ground.await_event("MARKER", timeout_s=20)
        assert ground.rejected == len(hostile)
        assert "FORGED" not in [event.id for event in ground.events]
        assert not [d for d in heard if d.get("id") == "FORGED" or d.get("commands") in (5, [1])]
        assert not [d for d in heard if isinstance(d.get("values"), list)]
        assert ground.dictionary is not None and ground.dictionary.commands
        assert ground.status["state"] == "online"
        assert ground.sequence_status.get("step") != "x"
        # and the vehicle's own messages are read on
        uptime = (await ground.wait_telemetry("elec.uptime_ms > 0", timeout_s=20))["elec.uptime_ms"]
        await ground.wait_telemetry(f"elec.uptime_ms > {uptime}", timeout_s=20)
        assert (await ground.send("CORE.NOOP", timeout_s=20))[-1].stage == "COMPLETED"


def test_ground_session_status_check_keeps_fields_of_a_newer_vehicle() -> None:
    newer = {"state": "online", "mode": "IDLE", "battery_soc": 0.9}
    assert checked(StatusMessage, newer) is newer
    with pytest.raises(ValueError, match="state"):
        checked(StatusMessage, {"state": "hijacked", "battery_soc": 0.9})
    with pytest.raises(ValueError, match="step"):
        idle = {"time": "2026-12-07T00:00:00Z", "state": "IDLE", "step": []}
        checked(SequenceStatusMessage, idle)
