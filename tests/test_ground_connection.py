"""ground.connection against a real mosquitto: a ground client in a busy event loop (the
console's, on a loaded machine) keeps up with a fast stream, and its commands' PUBACKs do not
wait behind a backlog."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from ground.connection import connect, disconnect
from isru.broker import Mosquitto

FLOOD = 1000
#: What one turn of a busy event loop costs besides reading MQTT (a UI's layout and paint).
TURN_S = 0.001


async def test_ground_connection_in_a_busy_loop_reads_a_flood_in_few_turns(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    client = await connect(
        mosquitto.url, "isru/v/#", username=None, login={}, identifier="ground-test"
    )
    turns = 0
    stop = asyncio.Event()
    received = 0
    all_in = asyncio.Event()

    async def busy() -> None:
        nonlocal turns
        while not stop.is_set():
            time.sleep(TURN_S)  # noqa: ASYNC251 - the point: work that holds the loop
            turns += 1
            await asyncio.sleep(0)

    async def read() -> None:
        nonlocal received
        async for message in client.messages:
            if message.topic.matches("isru/v/tm/elec"):
                received += 1
                if received == FLOOD:
                    all_in.set()

    tasks = [asyncio.create_task(busy()), asyncio.create_task(read())]
    try:
        lines = tmp_path / "flood.txt"
        lines.write_text('{"values": {"elec.h2_pressure_kpa": 101.3}}\n' * FLOOD)
        with lines.open("rb") as stdin:
            flood = await asyncio.create_subprocess_exec(
                "mosquitto_pub", "-p", str(mosquitto.port), "-t", "isru/v/tm/elec",
                "-q", "0", "-l", stdin=stdin,
            )  # fmt: skip
            assert await asyncio.wait_for(flood.wait(), 60) == 0
        # The flood is at the broker (telemetry goes at QoS 0); most of it still waits for
        # this client. One packet read per turn, the PUBACK would take about FLOOD turns.
        before = turns
        await asyncio.wait_for(client.publish("isru/v/cmd", b"{}", qos=1), 60)
        assert turns - before < FLOOD / 10, "the PUBACK waited behind the flood, a turn each"
        await asyncio.wait_for(all_in.wait(), 60)
        assert received == FLOOD
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await disconnect(client)
