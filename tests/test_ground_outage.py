"""The ground archive across a broker outage, end to end through the SIL harness."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ground import GroundClient
from ground.archive import Archive
from ground.recorder import record
from isru.testing import Sil


@pytest.mark.sil(time_scale=10)
async def test_ground_outage_archive_after_a_broker_outage_has_no_duplicates_and_no_gaps(
    sil: Sil, tmp_path: Path
) -> None:
    broker = sil.stack.mosquitto
    assert broker is not None, "this test needs the stack's own mosquitto"
    path = tmp_path / "archive.db"
    stop = asyncio.Event()
    committed = asyncio.Event()
    recorder = asyncio.create_task(
        record(
            broker=sil.stack.broker,
            vehicle=sil.stack.vehicle,
            archive_path=path,
            stop=stop,
            on_commit=lambda _archive: committed.set(),
        )
    )
    await asyncio.wait_for(committed.wait(), 20)  # the recorder is in and storing
    await sil.send_and_await("MODE.IDLE")
    await sil.send_and_await("ELEC.START", current_a=2.0)
    before = max(e.seq for e in sil.client.events)
    # A persistent session: the broker keeps REPLAY_DONE for it even when the vehicle is back
    # and done replaying before this client has reconnected (a clean session would miss it).
    async with GroundClient(
        broker=sil.stack.broker,
        vehicle=sil.stack.vehicle,
        identifier="outage-watcher",
        clean_session=False,
    ) as watcher:
        await broker.stop()
        # The vehicle goes on without a broker: what it sends meanwhile waits in its outbox.
        await broker.start()
        replay = await watcher.await_event("REPLAY_DONE", since=before, timeout_s=60)
    assert replay.args["count"] > 0
    await sil.send_and_await("ELEC.STOP", timeout=20)
    final = sil.values["elec.uptime_ms"]
    await sil.wait_telemetry(f"elec.uptime_ms > {final + 2000}", timeout=20)
    stop.set()
    await asyncio.wait_for(recorder, 20)
    with Archive(path, vehicle=sil.stack.vehicle) as archive:
        gaps = archive.gaps()
        counts = archive.counts()
        rows = archive.db.execute(
            "SELECT stream, seq, count(*) FROM telemetry GROUP BY stream, seq HAVING count(*) > 1"
        ).fetchall()
    assert all(not missing for missing in gaps.values()), gaps
    assert rows == [], "a sample was stored twice"
    assert counts["telemetry"] > 0


@pytest.mark.sil(time_scale=10)
async def test_ground_outage_persistent_client_closed_mid_stream_misses_no_sample(
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
