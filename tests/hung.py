"""For tests that wait for a child to exit: when it does not, say what it was doing."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from isru.children import ChildProcess

#: Give a child this environment so that SIGABRT makes it print every thread's stack.
FAULTHANDLER = {**os.environ, "PYTHONFAULTHANDLER": "1"}


async def exit_code(child: ChildProcess, *, timeout_s: float) -> int:
    """``child``'s exit code once it exited; after ``timeout_s`` the test fails with the
    child's signal masks and, if it runs with :data:`FAULTHANDLER`, its Python stacks."""
    try:
        async with asyncio.timeout(timeout_s):
            return await child.wait()
    except TimeoutError:
        pass
    masks = _signal_masks(child.pid)
    child.send_signal(signal.SIGABRT)
    await child.stop()
    pytest.fail(f"{child.name} still ran {timeout_s:g} s on ({masks}):\n{child.output(300)}")


def _signal_masks(pid: int | None) -> str:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError as exc:
        return f"no status: {exc}"
    wanted = ("State", "SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt")
    return ", ".join(line for line in status.splitlines() if line.startswith(wanted))
