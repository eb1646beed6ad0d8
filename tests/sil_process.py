"""`isru sil` as a user starts it, in its own process group, for the tests that start it
whole: its broker, its children, its exit."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from interface.broker import parse_broker

#: Real seconds within which `isru sil` says its flight is up.
START_S = 60.0


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


#: Real seconds within which a stopped `isru sil` has stopped all of its stack.
STOP_S = 10.0


async def banner(process: asyncio.subprocess.Process) -> dict[str, str]:
    """What `isru sil` printed on stdout up to its ``flight`` line: each line's first word,
    and the rest (``broker mqtt://...``, ``vehicle sil``...)."""
    assert process.stdout is not None and process.stderr is not None
    lines: dict[str, str] = {}
    async with asyncio.timeout(START_S):
        while "flight" not in lines:
            line = (await process.stdout.readline()).decode()
            assert line, (await process.stderr.read()).decode()
            word, _, rest = line.strip().partition(" ")
            lines[word] = rest.strip()
    return lines


class SilProcess:
    """`isru sil` as a user starts it, in its own process group (so a test can signal the
    whole group as `timeout`, a CI runner or a terminal would), with its children's pids."""

    def __init__(self, process: asyncio.subprocess.Process, broker: str) -> None:
        self.process = process
        self.host, self.port = parse_broker(broker)
        self.children = children_of(process.pid)

    def child(self, word: str) -> int:
        """The pid of the child whose command line has ``word`` (flight, sim, mosquitto)."""
        for pid in self.children:
            if word.encode() in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
                return pid
        raise AssertionError(f"no {word} among the children {self.children}")

    async def finish(self) -> tuple[int, str, str]:
        """Its exit status, stdout and stderr, once it has exited (within STOP_S)."""
        assert self.process.stdout is not None and self.process.stderr is not None
        async with asyncio.timeout(STOP_S):
            out, err = await asyncio.gather(self.process.stdout.read(), self.process.stderr.read())
            return await self.process.wait(), out.decode(), err.decode()


@contextlib.asynccontextmanager
async def isru_sil(*args: str) -> AsyncIterator[SilProcess]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "isru.cli",
        "sil",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        lines = await banner(process)
        yield SilProcess(process, lines["broker"].split()[0])
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
