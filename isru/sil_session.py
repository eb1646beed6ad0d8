"""What ``isru sil`` runs on its started stack (the console, status lines, headless or
``--run``), and how a signal or ``--seconds`` stops it."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

from ground import GroundClient
from ground.console import ConsoleApp
from interface.sequence import Sequence
from interface.signing import load_key
from isru.sil_run import run_sequence
from isru.sil_status import live_view
from isru.stack import SilError, Stack, sil_stack

#: Exit status of a --run stopped by a signal before its sequence ended: 128 + the signal.
EXIT_SIGNALLED = 128
#: Where the console keeps the vehicle's images without ``--images-dir``: in the SIL's
#: temporary directory (gone when the SIL stops).
CONSOLE_IMAGES = "console-images"


class Stop:
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


async def run(options: argparse.Namespace, sequence: Sequence | None = None) -> int:
    """Start the stack, run the session on it until it ends or is stopped; the exit status."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    stop = Stop(task)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: the terminal went
        loop.add_signal_handler(signum, stop.request, signum)
    try:
        async with sil_stack(
            broker=options.broker,
            vehicle=options.vehicle,
            key=options.key,
            time_scale=options.time_scale,
            embedded_broker=options.embedded_broker,
            announce=True,
            ice_wt_pct=options.ice_wt_pct,
            cell_params=options.cell_params,
        ) as stack:
            try:
                print("flight  online; Ctrl-C stops everything", flush=True)
                if options.seconds:  # counted from here: a slow start does not eat the run
                    loop.call_later(options.seconds, stop.request)
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


def _stopped_code(stop: Stop, sequence: Sequence | None) -> int:
    """Exit status after a stop: 0, unless it cut a --run short (128 + signal, or 1)."""
    if sequence is None:
        return 0
    why = "--seconds" if stop.signum is None else signal.Signals(stop.signum).name
    print(f"isru sil: stopped by {why} before sequence {sequence.name} ended", file=sys.stderr)
    return 1 if stop.signum is None else EXIT_SIGNALLED + stop.signum


async def _session(
    stack: Stack, options: argparse.Namespace, sequence: Sequence | None, stop: Stop
) -> int:
    """What runs on the started stack, until it ends or a stop cancels it."""
    if sequence is not None:
        return await run_sequence(stack, options, sequence)
    if options.headless:
        raise SilError(await stack.watch())  # until stopped, or a process exits on its own
    if sys.stdin.isatty() and sys.stdout.isatty():
        stop.hold()  # the console closes itself on a stop, leaving the terminal as it was
        if not stop.requested:
            await _console(stack, options, stop.event)
        return 0
    await live_view(stack)  # no terminal (a log, a pipe): status lines until stopped
    return 0


async def _console(stack: Stack, options: argparse.Namespace, stop: asyncio.Event) -> None:
    """The operators' console on the stack, until the operator quits or we are stopped."""
    key = load_key(options.key) if options.key else None
    async with GroundClient(broker=stack.broker, vehicle=stack.vehicle, key=key) as client:
        app = console_app(client, stack, options)
        console = asyncio.create_task(app.run_async())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({console, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not console.done():
            app.exit()
        await console
        stopping.cancel()


def console_images_dir(stack: Stack, options: argparse.Namespace) -> Path:
    """Where the console keeps the images it receives: ``--images-dir``, or the SIL's
    temporary directory."""
    chosen: Path | None = getattr(options, "images_dir", None)
    return chosen if chosen is not None else stack.workdir / CONSOLE_IMAGES


def console_app(client: GroundClient, stack: Stack, options: argparse.Namespace) -> ConsoleApp:
    """The operators' console on the SIL's stack, keeping the vehicle's images (the samples
    tab opens them)."""
    return ConsoleApp(client=client, owns_stack=True, images_dir=console_images_dir(stack, options))
