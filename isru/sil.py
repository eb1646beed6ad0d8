"""``isru sil``: the one-command SIL stack: broker, simulated boards and `isru flight`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import signal
import sys
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import aiomqtt

from ground import GroundClient, GroundError
from ground.console import ConsoleApp
from interface.broker import NODELAY, parse_broker, stop_task
from interface.catalog import DICTIONARY
from interface.sequence import Sequence, SequenceError, format_problems, parse_sequence
from interface.signing import load_key
from isru.broker import BrokerError
from isru.chain_plot import plot_chain
from isru.chain_recorder import ChainRecorder, chain_of_run
from isru.report import ReportRecorder, run_budget_s
from isru.sim_child import SimStartError
from isru.stack import SilError, Stack, sil_stack

__all__ = ["SilError", "Stack", "main", "parser", "sil_stack"]

T = TypeVar("T")

#: After a process of the stack exited during a run: how long the sequence's end event (which
#: a flight that stopped sends first) may still take to arrive.
END_GRACE_S = 5.0
#: Exit status of a --run stopped by a signal before its sequence ended: 128 + the signal.
EXIT_SIGNALLED = 128


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
    result.add_argument(
        "--report-plot",
        type=Path,
        metavar="FILE.png",
        help="with --run: also plot the oven's temperatures, pressure and water collected",
    )
    result.add_argument(
        "--ice-wt-pct",
        type=float,
        metavar="PCT",
        help="water ice in the regolith the simulated scoop digs, wt%% (default: the "
        "simulator's 5.6)",
    )
    return result


async def _live_view(stack: Stack) -> None:
    """One status line a second from the telemetry, until stopped (cancelled); raises
    SilError when a process of the stack exits on its own, MqttError when the broker goes."""
    host, port = parse_broker(stack.broker)
    latest: dict[str, Any] = {}
    async with aiomqtt.Client(host, port, socket_options=NODELAY) as client:
        await client.subscribe(f"isru/{stack.vehicle}/tm/+", qos=0)

        async def collect() -> None:
            async for message in client.messages:
                latest.update(json.loads(message.payload)["values"])  # type: ignore[arg-type]

        async with _background(collect()) as collector, _background(stack.watch()) as watch:
            while not (collector.done() or watch.done()):
                print(_line(latest), flush=True)
                await asyncio.wait({collector, watch}, timeout=1.0)
            if watch.done():
                raise SilError(watch.result())
            collector.result()  # its error: the broker went away
            raise SilError("telemetry ended")


@contextlib.asynccontextmanager
async def _background(coroutine: Coroutine[Any, Any, T]) -> AsyncIterator[asyncio.Task[T]]:
    """``coroutine`` as a task for the block's duration, cancelled and awaited after it.

    Its own outcome after the block is dropped (the block read what it needed), but not a
    cancellation of ours: a stop that comes while the task is being ended still stops us."""
    task = asyncio.create_task(coroutine)
    try:
        yield task
    finally:
        task.add_done_callback(_retrieved)
        with contextlib.suppress(Exception):
            await stop_task(task)


def _retrieved(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()  # read, so that asyncio does not print it as never retrieved


def _line(values: dict[str, Any]) -> str:
    if not values:
        return "waiting for telemetry"
    v = values.get
    return (
        f"mode {v('core.mode', '?'):<9} "
        f"scoop {v('scoop.state', '?'):<8} load {v('scoop.load_mass_g', 0):6.1f} g"
        f" | cell {v('elec.state', '?'):<7} {v('elec.cell_current_a', 0):4.1f} A"
        f"  H2 {v('elec.h2_pressure_kpa', 0):6.1f} kPa"
        f" | oven {v('oven.state', '?'):<12} {v('oven.sample_temp_c', 0):6.1f} degC"
        f" {v('oven.chamber_pressure_kpa', 0):6.3f} kPa"
        f"  water {v('oven.water_collected_g', 0):5.2f} g"
    )


async def _run_sequence(stack: Stack, options: argparse.Namespace, sequence: Sequence) -> int:
    """Run one sequence on the stack to its end; print (and write) the report.

    Ends with SilError when a process of the stack exits before the sequence ended (a flight
    that stops aborts its sequence first: that end is still reported)."""
    key = load_key(options.key) if options.key else None
    async with GroundClient(broker=stack.broker, vehicle=stack.vehicle, key=key) as client:
        await client.wait_telemetry("scoop.link_up == true and elec.link_up == true", timeout_s=30)
        recorder = ReportRecorder(client, sequence=sequence.name)
        chain = ChainRecorder(client)
        await client.upload_sequence(sequence.name, options.run.read_text())
        mark = await client.start_sequence(sequence.name)
        budget = run_budget_s(sequence, time_scale=options.time_scale)
        ending = client.wait_sequence_end(sequence.name, since=mark, timeout_s=budget)
        async with _background(ending) as end_task, _background(stack.watch()) as watch:
            await asyncio.wait({end_task, watch}, return_when=asyncio.FIRST_COMPLETED)
            if not end_task.done():
                await asyncio.wait({end_task}, timeout=END_GRACE_S)
            if not end_task.done():
                raise SilError(f"{watch.result()} before sequence {sequence.name} ended")
            try:
                end, status = end_task.result()
            except TimeoutError:
                raise SilError(
                    f"sequence {sequence.name} did not end within {budget:.0f} s"
                ) from None
        report = recorder.finish(end, status)
        recorder.close()
        chain.close()
        report.chain = await chain_of_run(
            stack.sim, chain, cell_charge_ah=report.charge_ah, cell_energy_wh=report.energy_wh
        )
    print(report.text(), flush=True)
    if options.report_json:
        options.report_json.write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    if options.report_plot:
        try:
            series = report.chain.series if report.chain is not None else {}
            plot_chain(series, options.report_plot, title=f"sequence {sequence.name}")
        except ValueError as exc:
            print(f"isru sil: no plot: {exc}", file=sys.stderr)
    return 0 if report.outcome == "COMPLETED" else 1


class _Stop:
    """A stop asked for by a signal (SIGINT, SIGTERM, SIGHUP) or by ``--seconds``.

    The first one cancels the task that starts and runs the stack (starting it, a ``--run``,
    the status lines, waiting headless), so that it unwinds at once and stops flight,
    simulator and broker in that order. While the console runs (``cancels`` False) it only
    sets :attr:`event`, and the console closes itself. Later stops change nothing: the stack
    is stopping already, and its own shutdown is not interrupted.
    """

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task = task
        self.event = asyncio.Event()
        self.signum: int | None = None
        self.cancels = True

    @property
    def requested(self) -> bool:
        return self.event.is_set()

    def request(self, signum: int | None = None) -> None:
        if self.requested:
            return
        self.signum = signum
        self.event.set()
        if self.cancels:
            self.task.cancel()

    def hold(self) -> None:
        """From now on a stop does not cancel (the stack is stopping in order already)."""
        self.cancels = False


async def _run(options: argparse.Namespace, sequence: Sequence | None = None) -> int:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    stop = _Stop(task)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: the terminal went
        loop.add_signal_handler(signum, stop.request, signum)
    if options.seconds:
        loop.call_later(options.seconds, stop.request)
    try:
        async with sil_stack(
            broker=options.broker,
            vehicle=options.vehicle,
            key=options.key,
            time_scale=options.time_scale,
            embedded_broker=options.embedded_broker,
            announce=True,
            ice_wt_pct=options.ice_wt_pct,
        ) as stack:
            try:
                print("flight  online; Ctrl-C stops everything", flush=True)
                code = await _session(stack, options, sequence, stop)
            finally:
                stop.hold()
    except asyncio.CancelledError:
        if not stop.requested:
            raise
        task.uncancel()
        code = _stopped_code(stop, sequence)
    print("stopped: flight, simulator and broker closed", flush=True)
    return code


def _stopped_code(stop: _Stop, sequence: Sequence | None) -> int:
    """Exit status after a stop: 0, unless it cut a --run short (128 + signal, or 1)."""
    if sequence is None:
        return 0
    why = "--seconds" if stop.signum is None else signal.Signals(stop.signum).name
    print(f"isru sil: stopped by {why} before sequence {sequence.name} ended", file=sys.stderr)
    return 1 if stop.signum is None else EXIT_SIGNALLED + stop.signum


async def _session(
    stack: Stack, options: argparse.Namespace, sequence: Sequence | None, stop: _Stop
) -> int:
    """What runs on the started stack, until it ends or a stop cancels it."""
    if sequence is not None:
        return await _run_sequence(stack, options, sequence)
    if options.headless:
        raise SilError(await stack.watch())  # until stopped, or a process exits on its own
    if sys.stdin.isatty() and sys.stdout.isatty():
        stop.hold()  # the console closes itself on a stop, leaving the terminal as it was
        if not stop.requested:
            await _console(stack, options, stop.event)
        return 0
    await _live_view(stack)  # no terminal (a log, a pipe): status lines until stopped
    return 0


async def _console(stack: Stack, options: argparse.Namespace, stop: asyncio.Event) -> None:
    """The operators' console on the stack, until the operator quits or we are stopped."""
    key = load_key(options.key) if options.key else None
    async with GroundClient(broker=stack.broker, vehicle=stack.vehicle, key=key) as client:
        app = ConsoleApp(client=client, owns_stack=True)
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
    if options.ice_wt_pct is not None and not 0 <= options.ice_wt_pct < 100:
        print("isru sil: --ice-wt-pct must be a percentage from 0 to under 100", file=sys.stderr)
        return 2
    if options.report_plot is not None and (
        options.run is None or options.report_plot.suffix.lower() != ".png"
    ):
        print("isru sil: --report-plot needs --run and a FILE ending in .png", file=sys.stderr)
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
    except KeyboardInterrupt:  # Ctrl-C before the stack's own handling was in place
        return EXIT_SIGNALLED + signal.SIGINT


def _sequence_name(path: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", path.stem)[:64]
    return name or "sequence"
