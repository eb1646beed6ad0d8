"""MQTT figures against one real mosquitto, with the simulator and `isru flight` in their own
processes; prints one JSON object. Run it as ``python -m bench.mqtt`` from the repository root.

noop_rtt_p50_ms / noop_rtt_p99_ms: CORE.NOOP published to its COMPLETED ack received.
echo_rtt_p50_ms: a raw QoS 1 echo between two plain clients (TCP_NODELAY): the floor. Echoes
and NOOPs take turns, one each, while the flight runs: both under the same load.
noop_vs_echo: their p50 ratio.
echo3_rtt_p50_ms / noop_vs_echo3: the same with three messages back, made together, timed to
the third, as a command's ACCEPTED, STARTED and COMPLETED are: the floor for a command, with
the broker's and the ground's work for the two acks before the last.
echo3_as_flight_rtt_p50_ms / noop_vs_echo3_as_flight: the three-message echo with its
answers written as the flight writes a command's acks (flight.mqtt.Publisher: one send for
the three, its PUBACKs read from one buffer) and no command handling: what the NOOP costs
beyond that is the flight's own work (checking, dispatching, making the acks).
flight_cpu_pct / flight_rss_mb: the flight process with every board's telemetry at 50 Hz (three
boards: 150 packets a second) and 1 Hz housekeeping, its config's defaults otherwise (the
boards read together once per ``devices.<board>.read_hold_s``, 0.1 s).
flight_cpu_pct_no_hold: the same with each board's packets read as they come
(``read_hold_s = 0``; ``--read-hold`` sets another value).
replay_per_s: outbox replay of 100,000 stored samples once the broker is reachable.
loadavg_1m: the machine's 1-minute load average when the bench started (figures from a busy
machine are not comparable with a quiet one's).
The bench's own client subscribes to status, events and acks only, not to telemetry. Every
client here (the ground, both ends of the echoes) reads as the ground's own clients do: every
packet waiting at each wake, each message handed over as it is decoded (``plain_client``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt

from flight.mqtt import Outbox, Priority, Publisher
from ground.connection import handing_over, read_all_waiting
from interface.broker import NODELAY, parse_broker
from interface.messages import TelemetryMessage
from isru.broker import Mosquitto
from isru.children import ChildProcess
from isru.sim_child import SimChild

#: ``python -m bench.mqtt`` runs from here (as a script, bench/ground.py would shadow ``ground``).
REPOSITORY = Path(__file__).resolve().parent.parent
VEHICLE = "bench"
PREFIX = f"isru/{VEHICLE}"


def write_config(
    path: Path,
    urls: dict[str, str],
    broker: str,
    state: Path,
    hz: float,
    read_hold_s: float | None = None,
    gather_s: float | None = None,
) -> None:
    """The flight's config: every board at ``hz``; ``read_hold_s`` and ``gather_s`` None keep
    the defaults."""
    hold = "" if read_hold_s is None else f"read_hold_s = {read_hold_s}\n"
    gather = "" if gather_s is None else f"gather_s = {gather_s}\n"
    devices = "".join(
        f'[devices.{board}]\nurl = "{urls[board]}"\n{hold}' for board in ("scoop", "elec", "oven")
    )
    path.write_text(
        f"""vehicle = "{VEHICLE}"
{devices}[telemetry]
scoop_hz = {hz}
elec_hz = {hz}
oven_hz = {hz}
core_hz = 1
{gather}[state]
dir = "{state}"
[mqtt]
broker = "{broker}"
allow_unsigned = true
"""
    )


@contextlib.asynccontextmanager
async def flight_process(config: Path) -> AsyncIterator[int]:
    """``isru flight --config CONFIG`` (its log discarded) until SIGTERM; yields its pid."""
    argv = [sys.executable, "-m", "isru.cli", "flight", "--config", str(config)]
    async with ChildProcess(argv, name="flight", stderr="devnull", stop_timeout_s=30) as flight:
        assert flight.pid is not None
        yield flight.pid


class Ground:
    """One plain client: subscribes to the vehicle, sends commands, times their acks."""

    def __init__(self, broker: Mosquitto) -> None:
        self.client = plain_client(broker, self.take)
        self.waiters: dict[str, asyncio.Future[float]] = {}
        self.events: list[dict[str, Any]] = []
        self.online = asyncio.Event()
        self.event_arrived = asyncio.Event()

    async def event(self, event_id: str, *, timeout_s: float) -> dict[str, Any]:
        async with asyncio.timeout(timeout_s):
            while True:
                for event in self.events:
                    if event["id"] == event_id:
                        return event
                self.event_arrived.clear()
                await self.event_arrived.wait()

    def take(self, message: aiomqtt.Message) -> None:
        document = json.loads(message.payload)  # type: ignore[arg-type]
        topic = str(message.topic)
        if topic.endswith("/cmd/ack") and document["stage"] in ("COMPLETED", "FAILED"):
            waiter = self.waiters.pop(document["id"], None)
            if waiter is None or waiter.done():
                return
            if document["stage"] == "COMPLETED":
                waiter.set_result(time.perf_counter())
            else:  # (more than the command rate limit allows: --noops too high)
                why = f"{document.get('reason')}: {document.get('detail')}"
                waiter.set_exception(RuntimeError(f"{document['id']} FAILED {why}"))
        elif topic.endswith("/evr"):
            self.events.append(document)
            self.event_arrived.set()
        elif topic.endswith("/status") and document["state"] == "online":
            self.online.set()

    async def noop(self, number: int) -> float:
        command_id = f"bench-{number}"
        arrived: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiters[command_id] = arrived
        sent = time.perf_counter()
        message = json.dumps({"id": command_id, "name": "CORE.NOOP", "args": {}})
        await self.client.publish(f"{PREFIX}/cmd", message, qos=1)
        async with asyncio.timeout(10):
            return (await arrived) - sent


def plain_client(
    broker: Mosquitto | str, take: Callable[[aiomqtt.Message], None]
) -> aiomqtt.Client:
    """A client that reads every packet waiting at each wake and hands each message to
    ``take`` as it is decoded, as the ground's own clients do (``ground.connection``): what is
    timed is the broker and the other end, not aiomqtt's message iterator (a task,
    ``asyncio.wait`` and one wake per message)."""
    host, port = parse_broker(broker) if isinstance(broker, str) else (broker.host, broker.port)
    client = aiomqtt.Client(host, port, socket_options=NODELAY, queue_type=handing_over(take))
    read_all_waiting(client)
    return client


class Echo:
    """A raw QoS 1 echo, timed by :meth:`once`: a publish from here -> the echoer, a plain
    client in a process of its own (as the flight is) -> ``replies`` QoS 1 publishes back,
    made together (a command's three acks are three messages; ``as_flight``: written as the
    flight writes them, see :func:`echoer`) -> the last received here (``async with``: exactly
    ``count`` echoes)."""

    def __init__(
        self, broker: Mosquitto, count: int, replies: int = 1, *, as_flight: bool = False
    ) -> None:
        self.count = count
        self.replies = replies
        self.topic = echo_topic(replies, as_flight=as_flight)
        self.client = plain_client(broker, self.take)
        self.waiting = 0
        self.arrived: asyncio.Future[float] | None = None
        argv = [sys.executable, "-m", "bench.mqtt", "--echoer", broker.url, "--noops", str(count)]
        argv += ["--replies", str(replies), *(["--as-flight"] if as_flight else [])]
        self.echoer = ChildProcess(
            argv, name="echoer", cwd=REPOSITORY, ready=lambda line: line == "ready"
        )

    async def __aenter__(self) -> Echo:
        await self.client.__aenter__()
        await self.client.subscribe(f"{self.topic}/back", qos=1)
        await self.echoer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.echoer.wait()  # it exits after exactly ``count`` echoes
        await self.client.__aexit__(None, None, None)

    def take(self, message: aiomqtt.Message) -> None:
        self.waiting -= 1
        if self.waiting == 0 and self.arrived is not None and not self.arrived.done():
            self.arrived.set_result(time.perf_counter())

    async def once(self, number: int) -> float:
        self.arrived = asyncio.get_running_loop().create_future()
        self.waiting = self.replies
        sent = time.perf_counter()
        await self.client.publish(f"{self.topic}/out", str(number), qos=1)
        async with asyncio.timeout(10):
            return (await self.arrived) - sent


async def echoer(broker: str, count: int, replies: int, *, as_flight: bool) -> None:
    """The echo's other end: ``count`` QoS 1 messages from its ``out`` topic, each answered at
    once with ``replies`` messages to its ``back`` topic: published as a plain aiomqtt client
    does (a task per publish), or (``as_flight``) written as the flight writes a command's
    acks (``flight.mqtt.Publisher``: made in paho's callback, one ``send`` for them all, the
    PUBACKs read from its buffer). Exactly ``count``, then it returns once the broker confirmed
    every answer: cancelling it instead could be lost while it awaits a PUBACK, and it would
    wait for a message forever (stop_task)."""
    topic = echo_topic(replies, as_flight=as_flight)
    confirmed = 0
    all_confirmed = asyncio.Event()

    def on_confirmed(_: object = None) -> None:
        nonlocal confirmed
        confirmed += 1
        if confirmed == count * replies:
            all_confirmed.set()

    def take(message: aiomqtt.Message) -> None:
        payload = message.payload
        assert isinstance(payload, bytes)
        for reply in range(replies):
            if publisher is None:  # the publish runs (and writes) once paho's callback is over
                published = asyncio.ensure_future(client.publish(f"{topic}/back", payload, qos=1))
                published.add_done_callback(on_confirmed)
            else:
                last = reply == replies - 1
                publisher.publish(
                    f"{topic}/back", payload, retain=False, confirmed=on_confirmed, now=last
                )

    client = plain_client(broker, take)
    publisher: Publisher | None = None
    async with client:
        if as_flight:
            publisher = Publisher(client)
        await client.subscribe(f"{topic}/out", qos=1)
        print("ready", flush=True)
        await all_confirmed.wait()


def echo_topic(replies: int, *, as_flight: bool) -> str:
    return f"echo{replies}{'-as-flight' if as_flight else ''}"


async def cpu_pct(pid: int, seconds: float) -> float:
    """The process's CPU use over the next ``seconds``, in % of one core."""
    start_cpu, start = cpu_seconds(pid), time.perf_counter()
    await asyncio.sleep(seconds)  # the measurement window
    used = cpu_seconds(pid) - start_cpu
    return round(100 * used / (time.perf_counter() - start), 1)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noops", type=int, default=500)
    parser.add_argument("--cpu-seconds", type=float, default=10.0)
    parser.add_argument("--replay", type=int, default=100_000)
    parser.add_argument("--read-hold", type=float, default=0.0)
    parser.add_argument("--echoer", metavar="BROKER", help=argparse.SUPPRESS)
    parser.add_argument("--replies", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--as-flight", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.echoer:
        await echoer(options.echoer, options.noops, options.replies, as_flight=options.as_flight)
        return
    result: dict[str, object] = {"loadavg_1m": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="isru-bench-") as tmp:
        work = Path(tmp)
        async with contextlib.AsyncExitStack() as stack:
            broker = await stack.enter_async_context(Mosquitto(work / "broker"))
            sim = await stack.enter_async_context(SimChild(args=["--link-dir", str(work)]))
            ground = Ground(broker)
            client = await stack.enter_async_context(ground.client)
            # Only what the bench reads: a telemetry subscriber here would share the two cores
            # with the flight and the broker (the ground's own figures: bench/ground.py).
            for topic in ("status", "evr", "cmd/ack"):
                await client.subscribe(f"{PREFIX}/{topic}", qos=1)

            state = work / "state"
            config = work / "flight.toml"
            write_config(config, sim.urls, broker.url, state, hz=50)
            async with flight_process(config) as flight_pid:
                await asyncio.wait_for(ground.online.wait(), 30)
                noops, echoes, echoes3, echoes3_as_flight = [], [], [], []
                async with (
                    Echo(broker, options.noops) as echo,
                    Echo(broker, options.noops, replies=3) as echo3,
                    Echo(broker, options.noops, replies=3, as_flight=True) as echo3_as_flight,
                ):
                    for n in range(options.noops):
                        noops.append(await ground.noop(n) * 1000)
                        echoes.append(await echo.once(n) * 1000)
                        echoes3.append(await echo3.once(n) * 1000)
                        echoes3_as_flight.append(await echo3_as_flight.once(n) * 1000)
                cuts = statistics.quantiles(noops[20:], n=100)
                result["echo_rtt_p50_ms"] = round(statistics.median(echoes[20:]), 3)
                result["echo3_rtt_p50_ms"] = round(statistics.median(echoes3[20:]), 3)
                result["echo3_as_flight_rtt_p50_ms"] = round(
                    statistics.median(echoes3_as_flight[20:]), 3
                )
                result["noop_rtt_p50_ms"] = round(statistics.median(noops[20:]), 3)
                result["noop_rtt_p99_ms"] = round(cuts[98], 3)
                result["flight_cpu_pct"] = await cpu_pct(flight_pid, options.cpu_seconds)
                result["flight_rss_mb"] = round(rss_mb(flight_pid), 1)
            noop_p50, echo_p50 = result["noop_rtt_p50_ms"], result["echo_rtt_p50_ms"]
            assert isinstance(noop_p50, float) and isinstance(echo_p50, float)
            result["noop_vs_echo"] = round(noop_p50 / echo_p50, 2)
            echo3_p50 = result["echo3_rtt_p50_ms"]
            assert isinstance(echo3_p50, float)
            result["noop_vs_echo3"] = round(noop_p50 / echo3_p50, 2)
            as_flight_p50 = result["echo3_as_flight_rtt_p50_ms"]
            assert isinstance(as_flight_p50, float)
            result["noop_vs_echo3_as_flight"] = round(noop_p50 / as_flight_p50, 2)

            ground.online.clear()
            write_config(config, sim.urls, broker.url, state, 50, options.read_hold)
            async with flight_process(config) as flight_pid:
                await asyncio.wait_for(ground.online.wait(), 30)
                result["flight_cpu_pct_no_hold"] = await cpu_pct(flight_pid, options.cpu_seconds)

            # Replay: fill the flight's outbox as an outage would, then start it.
            ground.events.clear()
            replay_state = work / "replay-state"
            write_config(config, sim.urls, broker.url, replay_state, hz=1)
            with Outbox(replay_state / "outbox.db") as outbox:
                made = datetime(2026, 11, 21, tzinfo=UTC)
                stamp = TelemetryMessage(time=made, seq=0, values={"x": 1.0})
                payload = stamp.model_copy(update={"replayed": True}).to_json()
                outbox.put_many(
                    (f"{PREFIX}/tm/bench", payload, Priority.LOW) for _ in range(options.replay)
                )
            async with flight_process(config):
                done = await ground.event("REPLAY_DONE", timeout_s=300)
            connected = next(e for e in ground.events if e["id"] == "BROKER_CONNECTED")
            seconds = (
                datetime.fromisoformat(str(done["time"]))
                - datetime.fromisoformat(str(connected["time"]))
            ).total_seconds()
            result["replay_per_s"] = round(options.replay / seconds)
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
