"""The flight process's CPU at 50 Hz telemetry, alone: prints one JSON object.

The setup of bench/mqtt.py's ``flight_cpu_pct`` without its NOOP and echo rounds: one real
mosquitto, the simulator in its own process, ``isru flight`` with every board's telemetry at
``--hz`` (three boards) and 1 Hz housekeeping. Measured over ``--cpu-seconds`` after the
flight said online and ``--settle-s`` more.

flight_cpu_pct: CPU time of the flight process (user + system) in % of one core.
flight_cpu_s: that CPU time in seconds (the figure to compare on a busy machine), of which
flight_user_s in the process itself and flight_system_s in the kernel on its behalf.
sim_cpu_pct: the simulator's, over the same window.
``--read-hold-s`` and ``--gather-s`` set ``devices.<board>.read_hold_s`` and
``telemetry.gather_s`` (the config's defaults otherwise).
``--profile FILE`` runs the flight under cProfile and writes its statistics to FILE when it
stops (its CPU figure is then the profiler's too).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt

from bench.mqtt import PREFIX, write_config
from interface.broker import NODELAY
from isru.broker import Mosquitto
from isru.children import ChildProcess
from isru.sim_child import SimChild


@contextlib.asynccontextmanager
async def flight(config: Path, profile: str | None) -> AsyncIterator[int]:
    """``isru flight`` (under cProfile with ``profile``) until SIGTERM; yields its pid."""
    prefix = ["-m", "cProfile", "-o", profile] if profile else []
    argv = [sys.executable, *prefix, "-m", "isru.cli", "flight", "--config", str(config)]
    async with ChildProcess(argv, name="flight", stderr="devnull", stop_timeout_s=30) as child:
        assert child.pid is not None
        yield child.pid


def times(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


async def online(client: aiomqtt.Client) -> None:
    async for message in client.messages:
        document = json.loads(message.payload)  # type: ignore[arg-type]
        if document.get("state") == "online":
            return


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hz", type=float, default=50.0)
    parser.add_argument("--cpu-seconds", type=float, default=10.0)
    parser.add_argument("--settle-s", type=float, default=2.0)
    parser.add_argument("--profile", metavar="FILE")
    parser.add_argument("--gather-s", type=float, help="telemetry.gather_s (default: config's)")
    parser.add_argument("--read-hold-s", type=float, help="read_hold_s (default: config's)")
    options = parser.parse_args()
    result: dict[str, object] = {"loadavg_1m": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="isru-bench-") as tmp:
        work = Path(tmp)
        async with (
            Mosquitto(work / "broker") as broker,
            SimChild(args=["--link-dir", str(work)]) as sim,
            aiomqtt.Client(broker.host, broker.port, socket_options=NODELAY) as client,
        ):
            await client.subscribe(f"{PREFIX}/status", qos=1)
            config = work / "flight.toml"
            write_config(
                config,
                sim.urls,
                broker.url,
                work / "state",
                hz=options.hz,
                read_hold_s=options.read_hold_s,
                gather_s=options.gather_s,
            )
            async with flight(config, options.profile) as pid:
                await asyncio.wait_for(online(client), 30)
                await asyncio.sleep(options.settle_s)  # the boards configured, streams on
                assert sim.pid is not None
                start, start_sim, start_wall = times(pid), times(sim.pid), time.perf_counter()
                await asyncio.sleep(options.cpu_seconds)  # the measurement window
                wall = time.perf_counter() - start_wall
                end, end_sim = times(pid), times(sim.pid)
                user, system = end[0] - start[0], end[1] - start[1]
                used, used_sim = user + system, sum(end_sim) - sum(start_sim)
    result["hz"] = options.hz
    result["gather_s"] = options.gather_s
    result["read_hold_s"] = options.read_hold_s
    result["flight_cpu_s"] = round(used, 2)
    result["flight_user_s"] = round(user, 2)
    result["flight_system_s"] = round(system, 2)
    result["flight_cpu_pct"] = round(100 * used / wall, 1)
    result["sim_cpu_pct"] = round(100 * used_sim / wall, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
