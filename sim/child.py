"""The simulator as a child process: start ``python -m sim``, read its ports, stop or kill it."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import signal
import sys
from collections.abc import Sequence
from types import TracebackType


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


PR_SET_PDEATHSIG = 1


class SimStartError(RuntimeError):
    """The simulator process exited or stayed silent before it said ``ready``."""

    def __init__(self, reason: str, stderr: str) -> None:
        super().__init__(f"simulator did not start: {reason}\n{stderr}".rstrip())
        self.reason = reason
        self.stderr = stderr


class SimChild:
    """Runs the simulator in its own process, as ``isru sim`` would.

    ``urls`` maps board name to the URL the host opens; ``control`` is the run-time fault
    control address when ``--control-port`` was given.
    """

    def __init__(self, *, args: Sequence[str] = (), start_timeout_s: float = 15.0) -> None:
        self.args = list(args)
        self.start_timeout_s = start_timeout_s
        self.urls: dict[str, str] = {}
        self.control: tuple[str, int] | None = None
        self._process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> SimChild:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def returncode(self) -> int | None:
        """The exit code once the process has exited (None while it runs or before start)."""
        return None if self._process is None else self._process.returncode

    async def start(self) -> None:
        """Start the process and wait for its ``ready`` line."""
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "sim",
            *self.args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop it in order
            preexec_fn=die_with_parent,
        )
        try:
            async with asyncio.timeout(self.start_timeout_s):
                await self._read_banner(self._process)
        except (TimeoutError, EOFError) as exc:
            reason = "no ready line in time" if isinstance(exc, TimeoutError) else str(exc)
            await self.kill()
            stderr = await self._drain_stderr()
            raise SimStartError(reason, stderr) from None
        except BaseException:
            # Cancelled (the launcher is being stopped) before ready: nobody will stop() it.
            await self.kill()
            raise

    async def _read_banner(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        self.urls.clear()
        while True:
            line = (await process.stdout.readline()).decode().strip()
            if not line:
                raise EOFError(f"exited with code {await process.wait()}")
            word, _, rest = line.partition(" ")
            if word == "ready":
                return
            if word == "control":
                host, _, port = rest.rpartition(":")
                self.control = (host, int(port))
            elif rest:
                self.urls[word] = rest

    async def _drain_stderr(self) -> str:
        process = self._process
        if process is None or process.stderr is None:
            return ""
        return (await process.stderr.read()).decode(errors="replace")

    async def wait(self) -> int:
        """Until the process exits (it must have been started); returns its exit code."""
        if self._process is None:
            raise RuntimeError("wait: the simulator was not started")
        return await self._process.wait()

    async def stop(self, *, timeout_s: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited after ``timeout_s``; returns its code."""
        process = self._process
        if process is None or process.returncode is not None:
            return None if process is None else process.returncode
        process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(timeout_s):
                return await process.wait()
        except TimeoutError:
            return await self.kill()

    async def kill(self) -> int | None:
        """SIGKILL: the simulator dies at once, as a crashed board would."""
        process = self._process
        if process is None:
            return None
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        return await process.wait()

    async def send_control(self, request: str) -> str:
        """Send one JSON line to the fault control port; return the JSON line answered."""
        if self.control is None:
            raise RuntimeError("control: the simulator was started without --control-port")
        reader, writer = await asyncio.open_connection(*self.control)
        try:
            writer.write(request.encode() + b"\n")
            await writer.drain()
            return (await reader.readline()).decode().strip()
        finally:
            writer.close()
            await writer.wait_closed()
