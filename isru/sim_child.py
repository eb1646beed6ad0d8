"""The simulator as a child process: start ``python -m sim``, read its ports, stop or kill it."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any

from isru.children import ChildProcess, ChildStartError


class SimStartError(RuntimeError):
    """The simulator process exited or stayed silent before it said ``ready``."""

    def __init__(self, reason: str, stderr: str) -> None:
        super().__init__(f"simulator did not start: {reason}\n{stderr}".rstrip())
        self.reason = reason
        self.stderr = stderr


class SimChild(ChildProcess):
    """Runs the simulator in its own process, as ``isru sim`` would.

    ``urls`` maps board name to the URL the host opens; ``control`` is the run-time fault
    control address when ``--control-port`` was given; ``camera`` the simulated camera's
    ``socket://`` URL when ``--camera-port`` was given. ``stop()`` sends SIGTERM, then
    SIGKILL after ``timeout_s`` (10 s); ``kill()`` is a crashed board.
    """

    def __init__(self, *, args: Sequence[str] = (), start_timeout_s: float = 15.0) -> None:
        self.args = list(args)
        super().__init__(
            [sys.executable, "-m", "sim", *self.args],
            name="simulator",
            ready=self._banner_line,
            start_timeout_s=start_timeout_s,
        )
        self.urls: dict[str, str] = {}
        self.control: tuple[str, int] | None = None
        self.camera: str | None = None

    async def start(self) -> None:
        """Start the process and wait for its ``ready`` line."""
        self.urls.clear()
        try:
            await super().start()
        except ChildStartError as exc:
            reason = "no ready line in time" if exc.reason.startswith("not ready") else exc.reason
            raise SimStartError(reason, "\n".join(self.stderr_lines)) from None

    def _banner_line(self, line: str) -> bool:
        """One line of the banner (``scoop <url>``, ``control <host:port>``,
        ``camera <url>``, ``ready``)."""
        word, _, rest = line.strip().partition(" ")
        if word == "ready":
            return True
        if word == "control":
            host, _, port = rest.rpartition(":")
            self.control = (host, int(port))
        elif word == "camera":
            self.camera = rest
        elif rest:
            self.urls[word] = rest
        return False

    async def query(self, name: str) -> dict[str, Any]:
        """The simulator's truth ``name`` (``oven``, ``elec``: docs/sim.md) from the control
        port; RuntimeError when the simulator refuses the query."""
        answer = json.loads(await self.send_control(json.dumps({"query": name})))
        if not answer.get("ok") or not isinstance(answer.get(name), dict):
            raise RuntimeError(f"query {name}: {answer.get('error', answer)}")
        figures: dict[str, Any] = answer[name]
        return figures

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
