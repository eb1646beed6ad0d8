"""One child process, started, watched and stopped the same way everywhere.

``isru sil`` (broker, simulator, flight), the tests and the benchmarks run their processes
through :class:`ChildProcess`::

    async with ChildProcess(
        [sys.executable, "-m", "sim"], name="simulator", ready=lambda line: line == "ready"
    ) as child:
        ...  # child.stdout_lines, child.stderr_lines, await child.wait(), child.returncode

- It runs in its own session by default (a Ctrl-C in the terminal is ours to handle, and we
  stop our children in order) and gets SIGTERM if we die (Linux ``PR_SET_PDEATHSIG``), so a
  launcher that is killed outright leaves nothing behind.
- ``ready`` is called with each output line (stdout, and stderr too when it is merged) until
  it returns True; :meth:`start` returns then, or raises :class:`ChildStartError` when the
  process exits first or stays silent past ``start_timeout_s`` (it is killed).
- Collected output is read to the end as it comes, always: a full pipe never blocks the
  child. The last ``keep_lines`` lines are kept.
- :meth:`stop` sends SIGTERM and, after ``stop_timeout_s``, SIGKILL (:attr:`forced` says so).
  On a child that has exited already it only reads the rest of its output.
- :meth:`wait_for_line` waits until a collected line (one kept already, or a new one)
  satisfies a test: a stream that says something, without sleeping.
- ``stdin="pipe"`` gives the child a pipe to write to (:attr:`stdin`); by default its stdin is
  ``/dev/null``. :meth:`stop` and :meth:`kill` close the pipe before they signal.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import signal
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from isru.child_output import Lines
from isru.spawn import Stream, die_with_parent, target

__all__ = ["ChildProcess", "ChildStartError", "Stream", "die_with_parent"]

#: How long a child that exited before it was ready may take to hand over the rest of its
#: other stream (read by a task of its own) before the error is made without it.
OUTPUT_GRACE_S = 2.0


class ChildStartError(RuntimeError):
    """The process exited, or stayed silent, before it was ready."""

    def __init__(self, name: str, reason: str, output: str) -> None:
        super().__init__(f"{name} did not start: {reason}\n{output}".rstrip())
        self.name = name
        self.reason = reason
        self.output = output


class ChildProcess:
    """One child process; see the module's docstring."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        name: str,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        stdout: Stream = "collect",
        stderr: Stream = "collect",
        ready: Callable[[str], bool] | None = None,
        start_timeout_s: float = 10.0,
        stop_timeout_s: float = 10.0,
        own_session: bool = True,
        die_with_parent: bool = True,
        keep_lines: int = 20_000,
        stdin: Literal["devnull", "pipe"] = "devnull",
    ) -> None:
        if not argv:
            raise ValueError("argv: must name a program")
        if stdout == "stdout":
            raise ValueError("stdout: 'stdout' is for stderr only")
        self.argv = list(argv)
        self.name = name
        self.env = None if env is None else dict(env)
        self.cwd = cwd
        self.ready = ready
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self._stdout, self._stderr = stdout, stderr
        self._own_session = own_session
        self._die_with_parent = die_with_parent
        self._stdin = stdin
        #: The child's stdin with ``stdin="pipe"`` once started (else None).
        self.stdin: asyncio.StreamWriter | None = None
        self._lines = Lines(name, keep_lines)
        self.stdout_lines = self._lines.stdout
        self.stderr_lines = self._lines.stderr
        #: Whether the last :meth:`stop` had to SIGKILL the process.
        self.forced = False
        self._process: asyncio.subprocess.Process | None = None
        self._readers: list[asyncio.Task[None]] = []
        self._ready: asyncio.Future[None] | None = None

    async def __aenter__(self) -> Self:
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

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    def output(self, lines: int = 40) -> str:
        """The last ``lines`` collected lines (stdout, then stderr), for an error message."""
        return self._lines.text(lines)

    async def start(self) -> None:
        """Start the process; with ``ready``, return once it said so (see the module)."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        self.forced = False
        with contextlib.ExitStack() as files:
            process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE
                if self._stdin == "pipe"
                else asyncio.subprocess.DEVNULL,
                stdout=target(self._stdout, files),
                stderr=target(self._stderr, files),
                env=self.env,
                cwd=self.cwd,
                start_new_session=self._own_session,
                preexec_fn=die_with_parent if self._die_with_parent else None,
            )
        self._process = process
        self.stdin = process.stdin
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future() if self.ready is not None else None
        self._readers = [
            asyncio.create_task(self._read(stream, kept), name=f"{self.name} output")
            for stream, kept in (
                (process.stdout, self.stdout_lines),
                (process.stderr, self.stderr_lines),
            )
            if stream is not None
        ]
        if self._ready is None:
            return
        try:
            async with asyncio.timeout(self.start_timeout_s):
                await self._ready
        except TimeoutError:
            await self.kill()
            reason = f"not ready within {self.start_timeout_s:g} s"
            raise ChildStartError(self.name, reason, self.output()) from None
        except ChildStartError:
            await self.kill()
            raise
        except BaseException:
            # Cancelled (the launcher is being stopped) before ready: nobody will stop() it.
            await self.kill()
            raise

    async def _read(self, stream: asyncio.StreamReader, kept: collections.deque[str]) -> None:
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip("\r\n")
            self._lines.add(text, kept)
            ready = self._ready
            if ready is not None and not ready.done() and self.ready is not None:
                try:
                    if self.ready(text):
                        ready.set_result(None)
                except Exception as exc:  # a line the reader could not take: not started
                    ready.set_exception(ChildStartError(self.name, str(exc), self.output()))
        if self._ready is not None and not self._ready.done() and stream is self._first():
            code = await self.wait()
            # The other stream may not be read to its end yet, and it often says why (a
            # broker's error on stderr): give it a moment.
            others = [r for r in self._readers if r is not asyncio.current_task()]
            if others:
                await asyncio.wait(others, timeout=OUTPUT_GRACE_S)
            if not self._ready.done():
                reason = f"exited with code {code}"
                self._ready.set_exception(ChildStartError(self.name, reason, self.output()))

    def _first(self) -> asyncio.StreamReader | None:
        """The stream ``ready`` reads: stdout when collected, else stderr."""
        process = self._process
        if process is None:
            return None
        return process.stdout if process.stdout is not None else process.stderr

    async def wait(self) -> int:
        """Until the process exits (it must have been started); returns its exit code."""
        if self._process is None:
            raise RuntimeError(f"wait: {self.name} was not started")
        return await self._process.wait()

    async def wait_for_line(self, wanted: Callable[[str], bool], *, timeout_s: float) -> str:
        """The first collected line, kept already or still to come (stdout's before
        stderr's), for which ``wanted`` is true. :class:`TimeoutError` after ``timeout_s``;
        :class:`RuntimeError` with the output when the output ends without one."""
        if self._process is None:
            raise RuntimeError(f"wait_for_line: {self.name} was not started")
        return await self._lines.wait_for(wanted, timeout_s=timeout_s, readers=self._readers)

    async def stop(self, *, timeout_s: float | None = None) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited after ``timeout_s`` (default
        ``stop_timeout_s``); returns its exit code (None if it was never started). On a
        child that has exited it signals nothing and reads the rest of its output."""
        return await self._end(
            signal.SIGTERM, self.stop_timeout_s if timeout_s is None else timeout_s
        )

    async def kill(self) -> int | None:
        """SIGKILL: the process dies at once, as a crash would."""
        return await self._end(signal.SIGKILL, self.stop_timeout_s)

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` if it runs."""
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.send_signal(signum)

    async def _end(self, signum: int, timeout_s: float) -> int | None:
        process = self._process
        if process is None:
            return None
        if self.stdin is not None and not self.stdin.is_closing():
            self.stdin.close()
        self.send_signal(signum)
        try:
            async with asyncio.timeout(timeout_s):
                code = await process.wait()
        except TimeoutError:
            self.forced = True
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            code = await process.wait()
        if self._readers:
            # The pipes end with the process, unless a grandchild still holds them.
            _, late = await asyncio.wait(self._readers, timeout=timeout_s)
            for reader in late:
                reader.cancel()
        return code
