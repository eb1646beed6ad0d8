"""The ground archive across a broker outage, end to end through the SIL harness."""

from __future__ import annotations

import asyncio
from pathlib import Path

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
