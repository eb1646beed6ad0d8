"""``isru sil``: the one-command SIL stack: broker, simulated boards and `isru flight`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt

from flight.auth import load_key
from flight.catalog import DICTIONARY
from flight.schemas import NODELAY, parse_broker
from flight.sequence import Sequence, SequenceError, format_problems, parse_sequence
from ground.client import GroundClient
from ground.console import ConsoleApp
from ground.messages import GroundError
from isru.broker import BrokerError, EmbeddedBroker, Mosquitto, mosquitto_available
from isru.report import ReportRecorder, run_budget_s
from sim.child import SimChild, SimStartError, die_with_parent

ONLINE_TIMEOUT_S = 30.0


class SilError(Exception):
    """The stack could not be started; the message says which part and why."""


def parser() -> argparse.ArgumentParser:
    result = argparse.ArgumentParser(
        prog="isru sil",
        description="Start a broker, the simulated boards and the flight software together.",
    )
    result.add_argument("--broker", help="use this broker (mqtt://host:port) instead of our own")
    result.add_argument(
        "--embedded-broker",
        action="store_true",
        help="use the embedded amqtt broker even when mosquitto is installed",
    )
    result.add_argument("--vehicle", default="sil", help="vehicle id (default: sil)")
    result.add_argument(
        "--headless",
        action="store_true",
        help="no console and no status lines: run until stopped (without --headless and "
        "without a terminal, status lines are printed instead of the console)",
    )
    result.add_argument("--key", type=Path, help="command key file: commands must be signed")
    result.add_argument("--time-scale", type=float, default=1.0, help="simulated speed-up")
    result.add_argument("--seconds", type=float, default=0.0, help="stop after this long")
    result.add_argument(
        "--run", type=Path, metavar="FILE.seq", help="with --headless: run this sequence, report"
    )
    result.add_argument("--report-json", type=Path, metavar="FILE", help="also write the report")
    return result


@contextlib.asynccontextmanager
async def _broker(
    url: str | None, workdir: Path, *, embedded: bool
) -> AsyncIterator[tuple[str, str, Mosquitto | None]]:
    """(url, what, our mosquitto if it is one) of the broker to use: the one named, our
    mosquitto, or an embedded one."""
    if url is not None:
        parse_broker(url)
        yield url, "given", None
    elif mosquitto_available() and not embedded:
        async with Mosquitto(workdir / "broker") as mosquitto:
            yield mosquitto.url, "mosquitto", mosquitto
    else:
        async with EmbeddedBroker() as own:
            yield own.url, "embedded amqtt", None


def _flight_config(
    path: Path,
    *,
    urls: dict[str, str],
    broker: str,
    vehicle: str,
    key: Path | None,
    time_scale: float,
    state: Path,
) -> None:
    mqtt = f'key_file = "{key.resolve()}"' if key else "allow_unsigned = true"
    path.write_text(
        f"""# Written by isru sil for this run.
vehicle = "{vehicle}"
time_scale = {time_scale}
[devices.scoop]
url = "{urls["scoop"]}"
[devices.elec]
url = "{urls["elec"]}"
[state]
dir = "{state}"
[mqtt]
broker = "{broker}"
{mqtt}
"""
    )


class Stack:
    """The running stack: where the broker is, the simulator and the flight process."""

    def __init__(
        self,
        *,
        broker: str,
        vehicle: str,
        workdir: Path,
        sim: SimChild,
        mosquitto: Mosquitto | None = None,
    ) -> None:
        self.broker = broker
        #: Our own mosquitto, when the stack started one: tests stop and start it.
        self.mosquitto = mosquitto
        self.vehicle = vehicle
        self.workdir = workdir
        self.sim = sim
        self.flight: asyncio.subprocess.Process | None = None

    @property
    def flight_log(self) -> Path:
        return self.workdir / "flight.log"


@contextlib.asynccontextmanager
async def sil_stack(
    *,
    broker: str | None = None,
    vehicle: str = "sil",
    key: Path | None = None,
    time_scale: float = 1.0,
    embedded_broker: bool = False,
    announce: bool = False,
) -> AsyncIterator[Stack]:
    """Broker, simulator (with its fault control port) and flight, started in that order
    and stopped in the reverse; the flight process is stopped with SIGTERM so it safes."""
    if time_scale <= 0:
        raise ValueError(f"time_scale: must be positive, got {time_scale}")
    with tempfile.TemporaryDirectory(prefix="isru-sil-") as tmp:
        workdir = Path(tmp)
        sim_args = ["--link-dir", str(workdir), "--time-scale", str(time_scale)]
        async with (
            _broker(broker, workdir, embedded=embedded_broker) as (url, what, mosquitto),
            SimChild(args=[*sim_args, "--control-port", "0"]) as sim,
        ):
            stack = Stack(
                broker=url, vehicle=vehicle, workdir=workdir, sim=sim, mosquitto=mosquitto
            )
            config = workdir / "flight.toml"
            _flight_config(
                config,
                urls=sim.urls,
                broker=url,
                vehicle=vehicle,
                key=key,
                time_scale=time_scale,
                state=workdir / "state",
            )
            if announce:
                print(f"broker  {url} ({what})", flush=True)
                print(f"vehicle {vehicle}", flush=True)
            with stack.flight_log.open("wb") as log:
                stack.flight = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "isru.cli",
                    "flight",
                    "--config",
                    str(config),
                    stderr=log,
                    start_new_session=True,  # stopped by us, in order, not by the terminal
                    preexec_fn=die_with_parent,
                )
            try:
                await _wait_online(stack)
                yield stack
            finally:
                await _stop(stack.flight)


async def _wait_online(stack: Stack) -> None:
    host, port = parse_broker(stack.broker)
    topic = f"isru/{stack.vehicle}/status"
    async with aiomqtt.Client(host, port, socket_options=NODELAY) as client:
        await client.subscribe(topic, qos=1)
        try:
            async with asyncio.timeout(ONLINE_TIMEOUT_S):
                async for message in client.messages:
                    status = json.loads(message.payload)  # type: ignore[arg-type]
                    if status.get("state") == "online":
                        return
        except TimeoutError:
            log = stack.flight_log.read_text(errors="replace")[-2000:]
            raise SilError(
                f"flight did not come online within {ONLINE_TIMEOUT_S:g} s:\n{log}"
            ) from None


async def _stop(process: asyncio.subprocess.Process | None) -> None:
    if process is None or process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)  # flight safes the actuators and flushes its state
    try:
        async with asyncio.timeout(15):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()


async def _live_view(stack: Stack, stop: asyncio.Event) -> None:
    """One status line a second from the telemetry, until the console exists."""
    host, port = parse_broker(stack.broker)
    latest: dict[str, Any] = {}
    async with aiomqtt.Client(host, port, socket_options=NODELAY) as client:
        await client.subscribe(f"isru/{stack.vehicle}/tm/+", qos=0)

        async def collect() -> None:
            async for message in client.messages:
                latest.update(json.loads(message.payload)["values"])  # type: ignore[arg-type]

        collector = asyncio.create_task(collect())
        while not stop.is_set():
            print(_line(latest), flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
        collector.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await collector


def _line(values: dict[str, Any]) -> str:
    if not values:
        return "waiting for telemetry"
    v = values.get
    return (
        f"mode {v('core.mode', '?'):<9} "
        f"scoop {v('scoop.state', '?'):<8} load {v('scoop.load_mass_g', 0):6.1f} g"
        f" | cell {v('elec.state', '?'):<7} {v('elec.cell_current_a', 0):4.1f} A"
        f"  H2 {v('elec.h2_pressure_kpa', 0):6.1f} kPa"
    )


async def _run_sequence(stack: Stack, options: argparse.Namespace, sequence: Sequence) -> int:
    """Run one sequence on the stack to its end; print (and write) the report."""
    key = load_key(options.key) if options.key else None
    async with GroundClient(broker=stack.broker, vehicle=stack.vehicle, key=key) as client:
        await client.wait_telemetry("scoop.link_up == true and elec.link_up == true", timeout_s=30)
        recorder = ReportRecorder(client, sequence=sequence.name)
        await client.upload_sequence(sequence.name, options.run.read_text())
        mark = await client.start_sequence(sequence.name)
        budget = run_budget_s(sequence, time_scale=options.time_scale)
        try:
            end, status = await client.wait_sequence_end(
                sequence.name, since=mark, timeout_s=budget
            )
        except TimeoutError:
            raise SilError(f"sequence {sequence.name} did not end within {budget:.0f} s") from None
        report = recorder.finish(end, status)
        recorder.close()
    print(report.text(), flush=True)
    if options.report_json:
        options.report_json.write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    return 0 if report.outcome == "COMPLETED" else 1


async def _run(options: argparse.Namespace, sequence: Sequence | None = None) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: the terminal went
        loop.add_signal_handler(signum, stop.set)
    if options.seconds:
        loop.call_later(options.seconds, stop.set)
    async with sil_stack(
        broker=options.broker,
        vehicle=options.vehicle,
        key=options.key,
        time_scale=options.time_scale,
        embedded_broker=options.embedded_broker,
        announce=True,
    ) as stack:
        print("flight  online; Ctrl-C stops everything", flush=True)
        if sequence is not None:
            code = await _run_sequence(stack, options, sequence)
            print("stopped: flight, simulator and broker closed", flush=True)
            return code
        if options.headless:
            await stop.wait()
        elif sys.stdin.isatty() and sys.stdout.isatty():
            await _console(stack, options, stop)
        else:
            await _live_view(stack, stop)  # no terminal (a log, a pipe): status lines
    print("stopped: flight, simulator and broker closed", flush=True)
    return 0


async def _console(stack: Stack, options: argparse.Namespace, stop: asyncio.Event) -> None:
    """The operators' console on the stack, until the operator quits or we are stopped."""
    key = load_key(options.key) if options.key else None
    async with GroundClient(broker=stack.broker, vehicle=stack.vehicle, key=key) as client:
        app = ConsoleApp(client=client)
        console = asyncio.create_task(app.run_async())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({console, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not console.done():
            app.exit()
        await console
        stopping.cancel()


def main(argv: list[str] | None = None) -> int:
    options = parser().parse_args(argv)
    if options.time_scale <= 0:
        print("isru sil: --time-scale must be positive", file=sys.stderr)
        return 2
    if options.broker is not None:
        try:
            parse_broker(options.broker)
        except ValueError as exc:
            print(f"isru sil: {exc}", file=sys.stderr)
            return 2
    sequence = None
    if options.run is not None:
        if not options.headless:
            print("isru sil: --run needs --headless", file=sys.stderr)
            return 2
        try:
            sequence = parse_sequence(
                options.run.read_text(), name=_sequence_name(options.run), dictionary=DICTIONARY
            )
        except OSError as exc:
            print(f"isru sil: cannot read {options.run}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        except SequenceError as exc:
            print(f"isru sil: {options.run} has problems:", file=sys.stderr)
            print(format_problems(exc.problems), file=sys.stderr)
            return 2
    try:
        return asyncio.run(_run(options, sequence))
    except (SilError, SimStartError, BrokerError, GroundError, aiomqtt.MqttError, OSError) as exc:
        print(f"isru sil: {exc}", file=sys.stderr)
        return 1


def _sequence_name(path: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", path.stem)[:64]
    return name or "sequence"
