"""A flood on the command topic of `isru flight` (real mosquitto in its own process, the
simulator and the flight software in theirs); prints one JSON object.

The flood: --messages messages (10,000) on ``isru/<vehicle>/cmd`` at QoS 1, as fast as one
client publishes them (100 in flight): every 100th a 200 KiB payload, every 100th one just over
the 256 KiB payload limit (still under the broker's packet limit, so it reaches the flight),
the rest valid CORE.NOOPs, garbage, lone-surrogate ids and deep nesting in turn. Meanwhile and
afterwards a console sends one CORE.NOOP every 50 ms (an operator's pace) and times its
COMPLETED ack.

rss_before_mb / rss_peak_mb / rss_after_mb: the flight's resident memory before the flood, the
most seen while the flood and its aftermath ran (sampled every 50 ms), and --after-s seconds
after the flood ended; rss_growth_mb is after minus before.
noop_during_*: console NOOPs sent while the flood was being published (refused = FAILED
RATE_LIMITED, the flood's own NOOPs having used the command rate; lost = no answer in 5 s:
refused while refusals were only summed up, or dropped unread with the intake queue full).
recovered_after_s: time from the end of the flood after which every console NOOP completed
in under 50 ms. noop_after_p99_ms: p99 of the console NOOPs sent from 2 s after the flood on.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import statistics
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import aiomqtt

from bench.broker_child import broker_process
from bench.mqtt import flight_process, rss_mb, write_config
from interface.broker import NODELAY
from interface.messages import MAX_PAYLOAD_BYTES
from isru.sim_child import SimChild

VEHICLE = "bench"
PREFIX = f"isru/{VEHICLE}"
PACE_S = 0.05
ANSWER_S = 5.0
FAST_MS = 50.0
#: The flooder's client: aiomqtt warns about every publish beyond ten in flight.
QUIET = logging.getLogger("bench.flood.mqtt")
QUIET.setLevel(logging.ERROR)


def flood_payload(number: int) -> bytes:
    """The flood's message ``number``."""
    if number % 100 == 0:
        return b"x" * (200 * 1024)
    if number % 100 == 1:
        return b"y" * (MAX_PAYLOAD_BYTES + 100)
    kind = number % 4
    if kind == 0:
        return json.dumps({"id": f"flood-{number}", "name": "CORE.NOOP", "args": {}}).encode()
    if kind == 1:
        return b"\xff\xfe garbage %d" % number
    if kind == 2:
        return b'{"id":"\\ud800","name":"CORE.NOOP","args":{}}'
    return b"[" * 1000 + b"]" * 1000


class Console:
    """Sends paced NOOPs and records (sent at, latency in ms or None, outcome)."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.waiters: dict[str, asyncio.Future[tuple[float, str]]] = {}
        self.online = asyncio.Event()
        self.samples: list[tuple[float, float | None, str]] = []
        self._ids = 0

    async def listen(self) -> None:
        async for message in self.client.messages:
            try:
                document = json.loads(message.payload)  # type: ignore[arg-type]
            except (TypeError, ValueError, RecursionError):
                continue
            topic = str(message.topic)
            if topic.endswith("/status") and document.get("state") == "online":
                self.online.set()
            elif topic.endswith("/cmd/ack") and document.get("stage") in ("COMPLETED", "FAILED"):
                waiter = self.waiters.pop(str(document.get("id")), None)
                if waiter is not None and not waiter.done():
                    outcome = "ok" if document["stage"] == "COMPLETED" else document["reason"]
                    waiter.set_result((time.perf_counter(), outcome))

    async def noop(self) -> tuple[float, float | None, str]:
        self._ids += 1
        command_id = f"console-{self._ids}"
        arrived: asyncio.Future[tuple[float, str]] = asyncio.get_running_loop().create_future()
        self.waiters[command_id] = arrived
        sent = time.perf_counter()
        message = json.dumps({"id": command_id, "name": "CORE.NOOP", "args": {}})
        await self.client.publish(f"{PREFIX}/cmd", message, qos=1)
        try:
            at, outcome = await asyncio.wait_for(arrived, ANSWER_S)
        except TimeoutError:
            self.waiters.pop(command_id, None)
            return sent, None, "lost"
        return sent, (at - sent) * 1000, outcome

    async def paced(self, until: asyncio.Event) -> None:
        """A NOOP every PACE_S (waiting for each answer) until ``until`` is set."""
        while not until.is_set():
            started = time.perf_counter()
            self.samples.append(await self.noop())
            await asyncio.sleep(max(0.0, PACE_S - (time.perf_counter() - started)))


async def flood(client: aiomqtt.Client, count: int) -> int:
    """Publish the flood, 100 in flight; returns the bytes sent."""
    window = asyncio.Semaphore(100)
    sent = 0
    pending: set[asyncio.Task[None]] = set()

    async def one(payload: bytes) -> None:
        try:
            await client.publish(f"{PREFIX}/cmd", payload, qos=1, timeout=60)
        finally:
            window.release()

    for number in range(count):
        payload = flood_payload(number)
        sent += len(payload)
        await window.acquire()
        task = asyncio.create_task(one(payload))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    return sent


async def sample_rss(pid: int, into: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(OSError):
            into.append(rss_mb(pid))
        await asyncio.sleep(0.05)


def percentile(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    if len(values) < 2:
        return round(values[0], 3)
    return round(statistics.quantiles(values, n=100, method="inclusive")[pct - 1], 3)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--after-s", type=float, default=5.0)
    options = parser.parse_args()
    result: dict[str, Any] = {"messages": options.messages}
    with tempfile.TemporaryDirectory(prefix="isru-flood-") as tmp:
        work = Path(tmp)
        async with (
            broker_process(work / "broker") as port,
            SimChild(args=["--link-dir", str(work)]) as sim,
            aiomqtt.Client("127.0.0.1", port, socket_options=NODELAY) as console_client,
            aiomqtt.Client("127.0.0.1", port, socket_options=NODELAY, logger=QUIET) as flooder,
        ):
            console = Console(console_client)
            for suffix in ("status", "cmd/ack"):
                await console_client.subscribe(f"{PREFIX}/{suffix}", qos=1)
            listener = asyncio.create_task(console.listen())
            config = work / "flight.toml"
            write_config(config, sim.urls, f"mqtt://127.0.0.1:{port}", work / "state", hz=10)
            async with flight_process(config) as flight_pid:
                await asyncio.wait_for(console.online.wait(), 30)
                warm = [await console.noop() for _ in range(100)]
                result["noop_before_p50_ms"] = round(
                    statistics.median(s[1] for s in warm if s[1] is not None), 3
                )
                result["rss_before_mb"] = round(rss_mb(flight_pid), 1)
                rss: list[float] = []
                done, flooding = asyncio.Event(), asyncio.Event()
                sampler = asyncio.create_task(sample_rss(flight_pid, rss, done))
                pacer = asyncio.create_task(console.paced(done))
                began = time.perf_counter()
                result["flood_mb"] = round(await flood(flooder, options.messages) / 2**20, 1)
                ended = time.perf_counter()
                flooding.set()
                result["flood_s"] = round(ended - began, 2)
                await asyncio.sleep(options.after_s)  # the aftermath being measured
                done.set()
                await _quietly(pacer)
                await _quietly(sampler)
                result["rss_peak_mb"] = round(max(rss), 1)
                result["rss_after_mb"] = round(rss_mb(flight_pid), 1)
                result["rss_growth_mb"] = round(result["rss_after_mb"] - result["rss_before_mb"], 1)
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
    during = [s for s in console.samples if s[0] < ended]
    after = [s for s in console.samples if s[0] >= ended]
    result["noop_during_sent"] = len(during)
    result["noop_during_completed"] = sum(1 for s in during if s[2] == "ok")
    result["noop_during_refused"] = sum(1 for s in during if s[2] == "RATE_LIMITED")
    result["noop_during_lost"] = sum(1 for s in during if s[2] == "lost")
    result["noop_during_p99_ms"] = percentile([s[1] for s in during if s[2] == "ok" and s[1]], 99)
    slow = [s[0] - ended for s in after if s[2] != "ok" or s[1] is None or s[1] >= FAST_MS]
    result["recovered_after_s"] = round(max(slow, default=0.0), 3)
    late = [s[1] for s in after if s[0] - ended >= 2.0 and s[2] == "ok" and s[1] is not None]
    result["noop_after_count"] = len(late)
    result["noop_after_p99_ms"] = percentile(late, 99)
    print(json.dumps(result))


async def _quietly(task: Awaitable[None]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        await task


if __name__ == "__main__":
    asyncio.run(main())
