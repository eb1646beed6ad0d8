"""A mosquitto (isru.broker) in a child process for the benchmarks, so that draining its
log costs the measured process nothing. ``python -m bench.broker_child DIR`` prints the
broker's port and runs until SIGTERM, when it stops the broker."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from isru.broker import Mosquitto
from isru.children import ChildProcess


async def serve_broker(workdir: Path) -> None:
    """The child's side: start mosquitto, print its port, stop it on SIGTERM."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with Mosquitto(workdir) as broker:
        print(broker.port, flush=True)
        await stop.wait()


@contextlib.asynccontextmanager
async def broker_process(workdir: Path) -> AsyncIterator[int]:
    """The parent's side: a child running :func:`serve_broker`; yields the broker's port."""
    argv = [sys.executable, "-m", "bench.broker_child", str(workdir)]
    async with ChildProcess(
        argv,
        name="broker",
        stderr="inherit",
        ready=str.isdigit,
        start_timeout_s=30,
        stop_timeout_s=30,
    ) as child:
        yield int(next(line for line in child.stdout_lines if line.isdigit()))


if __name__ == "__main__":
    asyncio.run(serve_broker(Path(sys.argv[1])))
