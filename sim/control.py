"""The run-time fault control server: JSON lines on a loopback TCP port.

Each line a client sends is one fault request (format in :mod:`sim.faults`); each gets one
line back: ``{"ok": true}`` or ``{"ok": false, "error": "<what is wrong>"}``. Bad input
(not JSON, not an object, unknown board or fault, a bad value, an over-long line) gets an
error line; the server and the simulator keep running. Several clients may be connected.

A line ``{"query": "<name>"}`` changes nothing: it is answered ``{"ok": true, "<name>":
{...figures...}}`` (the simulator's truth, :mod:`sim.truth`), or an error line.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from sim.line_server import LineServer

log = logging.getLogger(__name__)

MAX_LINE = 64 * 1024

#: Applies one decoded request; raises ValueError (or TypeError) when it is refused.
Apply = Callable[[object], None]
#: Answers one query by name with its figures; raises ValueError for an unknown one.
Query = Callable[[object], dict[str, object]]


class ControlServer(LineServer):
    """Serves :data:`Apply` over JSON lines on 127.0.0.1."""

    def __init__(self, apply: Apply, *, port: int = 0, query: Query | None = None) -> None:
        super().__init__(port=port, max_line=MAX_LINE)
        self.apply = apply
        self.query = query

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def reply(self, line: bytes) -> bytes:
        return json.dumps(self.answer(line)).encode() + b"\n"

    def too_long(self) -> bytes:
        return json.dumps({"ok": False, "error": "line too long"}).encode() + b"\n"

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
