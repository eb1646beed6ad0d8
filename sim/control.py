"""The run-time fault control server: JSON lines on a loopback TCP port.

Each line a client sends is one fault request (format in :mod:`sim.faults`); each gets one
line back: ``{"ok": true}`` or ``{"ok": false, "error": "<what is wrong>"}``. Bad input
(not JSON, not an object, unknown board or fault, a bad value, an over-long line) gets an
error line; the server and the simulator keep running. Several clients may be connected.

A line ``{"query": "<name>"}`` changes nothing: it is answered ``{"ok": true, "<name>":
{...figures...}}`` (the simulator's truth, :mod:`sim.truth`), or an error line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

MAX_LINE = 64 * 1024

#: Applies one decoded request; raises ValueError (or TypeError) when it is refused.
Apply = Callable[[object], None]
#: Answers one query by name with its figures; raises ValueError for an unknown one.
Query = Callable[[object], dict[str, object]]


class ControlServer:
    """Serves :data:`Apply` over JSON lines on 127.0.0.1."""

    def __init__(self, apply: Apply, *, port: int = 0, query: Query | None = None) -> None:
        self.apply = apply
        self.query = query
        self.port = port
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, limit=MAX_LINE
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

    def answer(self, line: bytes) -> dict[str, object]:
        """The reply to one request line."""
        try:
            request = json.loads(line)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            return {"ok": False, "error": f"not JSON: {exc}"}
        try:
            if isinstance(request, dict) and "query" in request:
                return self._query(request)
            self.apply(request)
        except (ValueError, TypeError, KeyError) as exc:
            return {"ok": False, "error": str(exc)}
        except Exception as exc:  # a bug of ours must not take the simulator down
            log.exception("control request %r failed", request)
            return {"ok": False, "error": f"internal error: {exc}"}
        return {"ok": True}

    def _query(self, request: dict[str, object]) -> dict[str, object]:
        extra = sorted(set(request) - {"query"})
        if extra:
            raise ValueError(f"{extra[0]}: a query takes no other key")
        if self.query is None:
            raise ValueError("query: this server answers no queries")
        name = request["query"]
        return {"ok": True, str(name): self.query(name)}

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
                    reply: dict[str, object] = {"ok": False, "error": "line too long"}
                    writer.write(json.dumps(reply).encode() + b"\n")
                    await writer.drain()
                    continue
                if not line.strip():
                    continue
                writer.write(json.dumps(self.answer(line)).encode() + b"\n")
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
