"""Serial link figures over real ptys, with the simulator in its own process; prints one JSON.

rtt_p50_ms / rtt_p99_ms / requests_per_s: GET_STATUS round trips, telemetry off, no pacing.
frame_overhead_bytes: wire bytes of a scoop telemetry frame minus its value bytes.
line_use / frames_intact: the scoop board streaming as fast as it can with 115200-baud
pacing; the fraction of the line's 11,520 B/s that arrived, and whether every frame did.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from hal import ScoopDriver, SerialLink
from hal.framing import encode_frame
from hal.layout import layout_of
from hal.message import Message, MsgType
from hal.telemetry import PacketId, ScoopFlags, ScoopState, ScoopTelemetry
from isru.sim_child import SimChild

BAUD = 115200


def frame_overhead_bytes() -> int:
    snapshot = ScoopTelemetry(1, 1000, ScoopState.IDLE, ScoopFlags.HOMED, *([1.5] * 8))
    body = layout_of(ScoopTelemetry).pack(snapshot)
    frame = encode_frame(Message(MsgType.TELEMETRY, 1, PacketId.SCOOP, body).encode())
    return len(frame) - len(body)


async def round_trips(requests: int) -> dict[str, float]:
    async with SimChild() as sim, SerialLink(url=sim.urls["scoop"]) as link:
        scoop = ScoopDriver(link)
        await scoop.set_telemetry_rate(0)
        for _ in range(50):  # warm up caches and the pty path
            await scoop.get_status()
        samples = []
        started = time.perf_counter()
        for _ in range(requests):
            t0 = time.perf_counter()
            await scoop.get_status()
            samples.append((time.perf_counter() - t0) * 1000)
        elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(samples, n=100)
    return {
        "rtt_p50_ms": round(statistics.median(samples), 3),
        "rtt_p99_ms": round(cuts[98], 3),
        "requests_per_s": round(requests / elapsed, 1),
    }


async def line_use(seconds: float) -> dict[str, float | bool]:
    async with (
        SimChild(args=["--baud", str(BAUD)]) as sim,
        SerialLink(url=sim.urls["scoop"], timeout_s=1.0) as link,
    ):
        scoop = ScoopDriver(link)
        await scoop.set_telemetry_rate(1000)
        await scoop.wait_for(lambda _: True, timeout_s=5)  # streaming has begun
        before = link.stats.as_dict()
        started = time.perf_counter()
        await asyncio.sleep(seconds)  # the measurement window itself
        elapsed = time.perf_counter() - started
        after = link.stats.as_dict()
        await scoop.set_telemetry_rate(0)
    delta = {key: after[key] - before[key] for key in after}
    errors = delta["crc_errors"] + delta["framing_errors"] + delta["oversize"]
    return {
        "line_use": round(delta["bytes_in"] / elapsed / (BAUD / 10), 3),
        "frames_intact": errors == 0 and delta["telemetry_gaps"] == 0 and delta["telemetry"] > 0,
        "telemetry_frames_per_s": round(delta["telemetry"] / elapsed, 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=5.0)
    options = parser.parse_args()
    result: dict[str, object] = {}
    result.update(await round_trips(options.requests))
    result["frame_overhead_bytes"] = frame_overhead_bytes()
    result.update(await line_use(options.seconds))
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
