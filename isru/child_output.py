"""What a child process said: its last lines kept as they come, and waits for a line."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import Any


class Lines:
    """The kept stdout and stderr lines of the child ``name``, and the waits for a line."""

    def __init__(self, name: str, keep_lines: int) -> None:
        self.name = name
        self.stdout: collections.deque[str] = collections.deque(maxlen=keep_lines)
        self.stderr: collections.deque[str] = collections.deque(maxlen=keep_lines)
        self._waiters: list[tuple[Callable[[str], bool], asyncio.Future[str]]] = []

    def text(self, lines: int = 40) -> str:
        """The last ``lines`` kept lines (stdout, then stderr), for an error message."""
        kept = [*self.stdout, *self.stderr]
        return "\n".join(kept[-lines:])

    def add(self, text: str, kept: collections.deque[str]) -> None:
        """Keep ``text`` in ``kept`` (:attr:`stdout` or :attr:`stderr`) and hand it to the
        waits for a line."""
        kept.append(text)
        for wanted, waiter in self._waiters:
            if not waiter.done():
                try:
                    if wanted(text):
                        waiter.set_result(text)
                except Exception as exc:  # the caller's test failed: theirs to see
                    waiter.set_exception(exc)

    async def wait_for(
        self,
        wanted: Callable[[str], bool],
        *,
        timeout_s: float,
        readers: list[asyncio.Task[None]],
    ) -> str:
        """The first line, kept already or still to come (stdout's before stderr's), for
        which ``wanted`` is true, while ``readers`` read the child's output.
        :class:`TimeoutError` after ``timeout_s``; :class:`RuntimeError` with the output when
        the readers end without one."""
        for line in (*self.stdout, *self.stderr):
            if wanted(line):
                return line
        if not readers:
            raise RuntimeError(f"wait_for_line: {self.name} collects no output")
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters.append((wanted, waiter))
        ended = asyncio.ensure_future(asyncio.wait(readers))
        either: list[asyncio.Future[Any]] = [waiter, ended]
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
            self._waiters.remove((wanted, waiter))
        if not waiter.done():
            raise RuntimeError(f"{self.name}: output ended without the line\n{self.text()}")
        return waiter.result()
