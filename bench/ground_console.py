"""The ground console under a long telemetry stream; prints one JSON object.

A real mosquitto (isru.broker) and a plain aiomqtt publisher standing in for the vehicle
(the retained ``dict`` and an ``online`` status first, then ``tm/scoop`` and ``tm/elec``
packets with every channel, and an event every 20 packets); the console is the real
``ConsoleApp`` on a connected ``GroundClient``, run headless through Textual's pilot at
80x24, in this process. The broker runs under a child process that drains its log, so that
this process holds only the console (and the small stand-in publisher).

console_rss_mb: this process's resident memory after ``--samples`` telemetry messages
(100,000) streamed through the console as fast as it takes them (at most ``--window``
messages in flight, as a broker queues only so many per subscriber).
console_rss_growth_mb: resident memory after all of them minus after 20% of them (20,000):
flat means every buffer is bounded.
console_lag_ms / console_lag_p95_ms / console_lag_max_ms: while ``--hz`` (50) telemetry
streams for ``--lag-seconds``, from a tm/elec message arriving at the client (its listener)
to the pilot seeing that message's ``elec.h2_pressure_kpa`` in the elec table's value cell
(every message carries a distinct value). The widgets refresh on a 10 Hz timer, so the
expected median is about half a period.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt

from bench.broker_child import broker_process
from ground import GroundClient
from ground.console import ConsoleApp
from ground.console.levels import format_value
from interface.broker import NODELAY
from interface.catalog import DICTIONARY
from interface.dictionary import ChannelDef

VEHICLE = "bench"
PREFIX = f"isru/{VEHICLE}"
LAG_CHANNEL = "elec.h2_pressure_kpa"
TIMEOUT_S = 120.0
#: One event per this many packets: the event log is full (500) long before the first mark.
EVENT_EVERY = 20


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def base_values(packet: str) -> dict[str, Any]:
    """A plausible value of every channel of ``packet``."""
    values: dict[str, Any] = {}
    for channel in DICTIONARY.channels:
        if channel.packet == packet:
            values[channel.name] = _plausible(channel)
    return values


def _plausible(channel: ChannelDef) -> Any:
    if channel.type == "bool":
        return channel.name.endswith("link_up")
    if channel.type == "enum":
        return channel.choices[0]
    if channel.type == "int":
        return 1
    if channel.type == "str":
        return ""
    return 20.0


class Vehicle:
    """The stand-in vehicle: publishes over its own MQTT connection."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.seq = {"scoop": 0, "elec": 0}
        self.event_seq = 0
        self.values = {packet: base_values(packet) for packet in self.seq}

    async def announce(self) -> None:
        await self.client.publish(
            f"{PREFIX}/dict", json.dumps(DICTIONARY.export()), qos=1, retain=True
        )
        status = {
            "state": "online",
            "mode": "SAFE",
            "version": DICTIONARY.version,
            "dict_hash": DICTIONARY.hash,
        }
        await self.client.publish(f"{PREFIX}/status", json.dumps(status), qos=1, retain=True)

    async def telemetry(self, packet: str, **changes: Any) -> None:
        self.seq[packet] += 1
        values = self.values[packet]
        values.update(changes)
        document = {"time": _now(), "seq": self.seq[packet], "values": values}
        await self.client.publish(f"{PREFIX}/tm/{packet}", json.dumps(document), qos=0)

    async def event(self) -> None:
        self.event_seq += 1
        document = {
            "time": _now(),
            "seq": self.event_seq,
            "severity": "WARNING",
            "id": "LIMIT_YELLOW",
            "text": f"elec.cell_temp_c = 71 degC: beyond yellow limit 70 (#{self.event_seq})",
            "args": {"channel": "elec.cell_temp_c"},
        }
        await self.client.publish(f"{PREFIX}/evr", json.dumps(document), qos=0)


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Received:
    """Telemetry messages the client got so far, to pace the publisher on."""

    def __init__(self) -> None:
        self.count = 0
        self._arrived = asyncio.Event()

    def __call__(self, suffix: str, _: dict[str, Any]) -> None:
        if suffix.startswith("tm/"):
            self.count += 1
            self._arrived.set()

    async def reach(self, count: int) -> None:
        async with asyncio.timeout(TIMEOUT_S):
            while self.count < count:
                self._arrived.clear()
                await self._arrived.wait()


async def stream(
    vehicle: Vehicle, received: Received, count: int, window: int, marks: dict[int, float]
) -> None:
    """``count`` telemetry messages as fast as the console takes them; RSS at each mark."""
    for number in range(1, count + 1):
        packet = "elec" if number % 2 else "scoop"
        if packet == "elec":
            await vehicle.telemetry(packet, **{LAG_CHANNEL: 100.0 + (number % 1000) / 10})
        else:
            await vehicle.telemetry(packet, **{"scoop.load_mass_g": float(number % 500)})
        if number % EVENT_EVERY == 0:
            await vehicle.event()
        if number - received.count > window:
            await received.reach(number - window)
        if number in marks:
            await received.reach(number)
            await asyncio.sleep(0.3)  # a few console refreshes
            gc.collect()
            marks[number] = rss_mb()


async def measure_lag(
    app: ConsoleApp, vehicle: Vehicle, hz: float, seconds: float
) -> tuple[list[float], list[float]]:
    """Lag samples (ms) while ``hz`` telemetry streams: (every message: arrival at the client
    to its value or a newer one on screen; every value shown: its arrival to being shown)."""
    client = app.client
    channel = DICTIONARY.channel_index[LAG_CHANNEL]
    table = app.table_of(LAG_CHANNEL)
    numbers: dict[str, int] = {}
    arrived: dict[int, float] = {}

    def heard(suffix: str, document: dict[str, Any]) -> None:
        value = document.get("values", {}).get(LAG_CHANNEL)
        text = None if value is None else format_value(channel, value)
        if suffix == "tm/elec" and text in numbers:
            arrived[numbers[text]] = time.perf_counter()

    remove = client.listen(heard)
    per_message: list[float] = []
    per_shown: list[float] = []
    done = asyncio.Event()

    async def publish() -> None:
        start = time.perf_counter()
        for number in range(int(hz * seconds)):
            delay = start + number / hz - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            # A distinct value per message: 300.0, 300.1, ... (never seen before).
            value = 300.0 + number / 10
            numbers[format_value(channel, value)] = number
            await vehicle.telemetry("elec", **{LAG_CHANNEL: value})
        await asyncio.sleep(0.3)
        done.set()

    publisher = asyncio.create_task(publish())
    shown = table.value_text(LAG_CHANNEL)
    try:
        while not done.is_set():
            await asyncio.sleep(0.001)  # the pilot's poll: what the table shows now
            now_shown = table.value_text(LAG_CHANNEL)
            if now_shown == shown or now_shown not in numbers:
                continue
            shown, seen = now_shown, time.perf_counter()
            latest = numbers[shown]
            if latest in arrived:
                per_shown.append((seen - arrived[latest]) * 1000)
            for number in [n for n in arrived if n <= latest]:
                per_message.append((seen - arrived.pop(number)) * 1000)
        await publisher
    finally:
        remove()
    return per_message, per_shown


def _percentiles(samples: list[float], prefix: str) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        f"{prefix}_ms": round(statistics.median(ordered), 1),
        f"{prefix}_p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
        f"{prefix}_max_ms": round(ordered[-1], 1),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-console-") as workdir:
        async with (
            broker_process(Path(workdir) / "broker") as port,
            aiomqtt.Client("127.0.0.1", port, socket_options=NODELAY) as publisher,
        ):
            vehicle = Vehicle(publisher)
            await vehicle.announce()
            url = f"mqtt://127.0.0.1:{port}"
            async with GroundClient(broker=url, vehicle=VEHICLE) as client:
                received = Received()
                client.listen(received)
                app = ConsoleApp(client=client)
                async with app.run_test(size=(80, 24)) as pilot:
                    await pilot.pause()
                    start_rss = rss_mb()
                    first = max(1, args.samples // 5)
                    marks: dict[int, float] = {first: 0.0, args.samples: 0.0}
                    started = time.perf_counter()
                    await stream(vehicle, received, args.samples, args.window, marks)
                    stream_s = time.perf_counter() - started
                    lags, shown = await measure_lag(app, vehicle, args.hz, args.lag_seconds)
                    await pilot.pause()
                    rows = len(app.event_log.entries)
    if not lags or not shown:
        raise SystemExit("no lag samples: the console never showed the streamed values")
    return {
        "console_rss_mb": round(marks[args.samples], 1),
        "console_rss_growth_mb": round(marks[args.samples] - marks[first], 2),
        "console_rss_start_mb": round(start_rss, 1),
        **_percentiles(lags, "console_lag"),
        **_percentiles(shown, "console_shown_age"),
        "lag_samples": len(lags),
        "telemetry_samples": args.samples,
        "stream_per_s": round(args.samples / stream_s),
        "event_log_entries": rows,
        "refresh_hz": app.refresh_hz,
    }


def parser() -> argparse.ArgumentParser:
    result = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    result.add_argument("--samples", type=int, default=100_000)
    result.add_argument("--window", type=int, default=200)
    result.add_argument("--hz", type=float, default=50.0)
    result.add_argument("--lag-seconds", type=float, default=10.0)
    return result


if __name__ == "__main__":
    options = parser().parse_args(sys.argv[1:])
    print(json.dumps(asyncio.run(main(options))))
