"""A loopback TCP server of request lines: each line a client sends gets one reply.

The fault-control port (:mod:`sim.control`) and the camera (:mod:`sim.camera_server`) both
serve this way; a subclass says what a line and an over-long line are answered with. A client
may send any number of lines on one connection; several clients may be connected; a bad line
never closes the connection nor stops the server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib


class LineServer:
    """Serves :meth:`reply` to each line on 127.0.0.1 (port 0: a free port)."""

    def __init__(self, *, port: int, max_line: int) -> None:
        self.port = port
        self.max_line = max_line
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()

    async def reply(self, line: bytes) -> bytes:
        """Everything sent back for one request line (``line`` ends with its newline)."""
        raise NotImplementedError

    def too_long(self) -> bytes:
        """The reply to a line longer than ``max_line`` bytes (the line is skipped)."""
        raise NotImplementedError

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, limit=self.max_line
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._clients):
            task.cancel()
        for task in list(self._clients):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        try:
            while True:
                try:
                    line = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError as exc:
                    line = exc.partial
                    if not line.strip():
                        break
                except asyncio.LimitOverrunError:
                    await _discard_line(reader)
                    writer.write(self.too_long())
                    await writer.drain()
                    continue
                if not line.strip():
                    continue
                writer.write(await self.reply(line))
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._clients.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def _discard_line(reader: asyncio.StreamReader) -> None:
    """Skip the rest of an over-long line."""
    while True:
        try:
            await reader.readuntil(b"\n")
            return
        except asyncio.LimitOverrunError as exc:
            await reader.readexactly(exc.consumed)
        except asyncio.IncompleteReadError:
            return


def tcp_port(text: str) -> int:
    """argparse type of a ``--...-port`` option: a TCP port, 0 for a free one."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port 0..65535, got {text!r}")
    return value
