"""The simulator as a child process: start ``python -m sim``, read its ports, stop or kill it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from types import TracebackType

from isru.children import ChildProcess, ChildStartError


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
        self._child: ChildProcess | None = None

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
        return None if self._child is None else self._child.pid

    @property
    def returncode(self) -> int | None:
        """The exit code once the process has exited (None while it runs or before start)."""
        return None if self._child is None else self._child.returncode

    async def start(self) -> None:
        """Start the process and wait for its ``ready`` line."""
        self.urls.clear()
        self._child = ChildProcess(
            [sys.executable, "-m", "sim", *self.args],
            name="simulator",
            ready=self._banner_line,
            start_timeout_s=self.start_timeout_s,
        )
        try:
            await self._child.start()
        except ChildStartError as exc:
            reason = "no ready line in time" if exc.reason.startswith("not ready") else exc.reason
            raise SimStartError(reason, "\n".join(self._child.stderr_lines)) from None

    def _banner_line(self, line: str) -> bool:
        """One line of the banner (``scoop <url>``, ``control <host:port>``, ``ready``)."""
        word, _, rest = line.strip().partition(" ")
        if word == "ready":
            return True
        if word == "control":
            host, _, port = rest.rpartition(":")
            self.control = (host, int(port))
        elif rest:
            self.urls[word] = rest
        return False

    async def wait(self) -> int:
        """Until the process exits (it must have been started); returns its exit code."""
        if self._child is None:
            raise RuntimeError("wait: the simulator was not started")
        return await self._child.wait()

    async def stop(self, *, timeout_s: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited after ``timeout_s``; returns its code."""
        return None if self._child is None else await self._child.stop(timeout_s=timeout_s)

    async def kill(self) -> int | None:
        """SIGKILL: the simulator dies at once, as a crashed board would."""
        return None if self._child is None else await self._child.kill()

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
