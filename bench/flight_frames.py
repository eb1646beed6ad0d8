"""CPU per telemetry frame in the flight software, from bytes read to limits checked: one JSON
object.

The simulated boards (in this process, on loopback TCP) and :class:`flight.vehicle.FlightApp`
come up; a few seconds of each board's real telemetry frames are recorded, then fed again,
``--rounds`` times each, straight into the links' receivers (what a wake of the event loop
does with a frame: decode, snapshot, channel values, limits, board supervision, recorders).
The MQTT uplink is not attached: ``downlink_encode_us`` is what its telemetry message costs
per frame (built and serialized), measured apart. CPU time of this thread (``thread_time``):
figures from a busy machine stay comparable.

frame_us: flight CPU per frame, microseconds (median of ``--repeat`` runs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flight.boards import BOARDS
from flight.config import FlightConfig
from flight.mqtt.compose import to_json
from flight.vehicle import FlightApp
from hal.framing import encode_frame
from hal.message import Message
from interface.messages import TelemetryMessage
from sim.launcher import SimBoards


async def record_and_feed(rounds: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="isru-bench-") as tmp:
        work = Path(tmp)
        (work / "sim").mkdir()
        async with SimBoards(tcp=True, state_dir=work / "sim") as sim:
            config = FlightConfig.model_validate(
                {
                    "vehicle": "bench",
                    "devices": {board: {"url": sim.urls[board]} for board in BOARDS},
                    "state": {"dir": str(work / "flight")},
                }
            )
            async with FlightApp(config=config) as app:
                frames: list[tuple[str, bytes]] = []
                heard: list[dict[str, Any]] = []

                def recorder(board: str) -> Any:
                    def record(message: Message) -> None:
                        frames.append((board, encode_frame(message.encode())))

                    return record

                removers = [app.links[b].add_listener(recorder(b)) for b in BOARDS]
                app.channels.listen(lambda packet, values: heard.append(values))
                await asyncio.sleep(3.0)  # real time: the boards stream at 10 Hz
                for remove in removers:
                    remove()
                receivers = {board: app.links[board]._rx for board in BOARDS}
                runs = []
                for _ in range(repeat):
                    start = time.thread_time()
                    for _ in range(rounds):
                        for board, frame in frames:
                            receivers[board].feed(frame)
                    runs.append((time.thread_time() - start) / (rounds * len(frames)))
                values = heard[-1]
                start = time.thread_time()
                for seq in range(2000):
                    made = datetime.now(UTC)
                    to_json(TelemetryMessage(time=made, seq=seq, values=values))
                encode = (time.thread_time() - start) / 2000
    return {
        "frames": len(frames),
        "frame_us": round(statistics.median(runs) * 1e6, 1),
        "downlink_encode_us": round(encode * 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    print(json.dumps(asyncio.run(record_and_feed(options.rounds, options.repeat))))


if __name__ == "__main__":
    main()
