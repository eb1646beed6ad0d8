"""How a child process is set up: where its streams go, and that it dies with its parent."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import signal
from pathlib import Path
from typing import IO, Any, Literal

#: Where a stream goes: read and kept ("collect"), our own ("inherit"), nowhere ("devnull"),
#: appended to a file (a Path), or for stderr merged into stdout ("stdout").
Stream = Literal["collect", "inherit", "devnull", "stdout"] | Path

PR_SET_PDEATHSIG = 1


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


# Loaded now: between fork and exec (where die_with_parent runs) nothing may spawn or lock.
_LIBC = _libc()


def die_with_parent() -> None:
    """For ``preexec_fn``: the child gets SIGTERM if its parent dies (Linux), so a launcher
    that is killed outright leaves no simulator, broker or flight process behind."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def target(stream: Stream, files: contextlib.ExitStack) -> int | IO[Any] | None:
    """What ``asyncio.create_subprocess_exec`` takes for ``stream`` (a file opened on ``files``)."""
    if stream == "collect":
        return asyncio.subprocess.PIPE
    if stream == "inherit":
        return None
    if stream == "devnull":
        return asyncio.subprocess.DEVNULL
    if stream == "stdout":
        return asyncio.subprocess.STDOUT
    return files.enter_context(stream.open("ab"))
