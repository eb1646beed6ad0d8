"""A mosquitto (isru.broker) in a child process for the benchmarks, so that draining its
log costs the measured process nothing. ``python -m bench.broker_child DIR`` prints the
broker's port and runs until its stdin closes."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from isru.broker import Mosquitto


async def serve_broker(workdir: Path) -> None:
    """The child's side: start mosquitto, print its port, run until stdin closes."""
    async with Mosquitto(workdir) as broker:
        print(broker.port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


@contextlib.asynccontextmanager
async def broker_process(workdir: Path) -> AsyncIterator[int]:
    """The parent's side: a child running :func:`serve_broker`; yields the broker's port."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.broker_child",
        str(workdir),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        async with asyncio.timeout(30):
            port = int(await process.stdout.readline())
        yield port
    finally:
        process.stdin.close()
        async with asyncio.timeout(30):
            await process.wait()


if __name__ == "__main__":
    asyncio.run(serve_broker(Path(sys.argv[1])))
