"""Typed requests to the board under test, with the host's retry policy, and their replies
described for a verdict."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

from hal.commands import BY_NAME, BoardInfo
from hal.layout import layout_of
from hal.message import NackCode
from isru.conform.wire import BoardWire, Exchange

#: How long "no reply" is waited for: more than the host's 200 ms reply timeout.
SILENCE_S = 0.3


class StepFailed(Exception):
    """A step cannot go on (the board stopped answering, or is not in the needed state)."""


@dataclass(frozen=True, slots=True)
class Status:
    """A snapshot with the board time (ms) it was taken at."""

    tm: Any
    uptime_ms: int


class Requests:
    """Requests to the board on ``wire``, each with the next sequence number."""

    def __init__(self, wire: BoardWire) -> None:
        self.wire = wire
        self._seq = random.randrange(256)

    def next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    async def send(
        self,
        name: str,
        args: object | None = None,
        *,
        body: bytes | None = None,
        msg_id: int | None = None,
        seq: int | None = None,
        version: int = 1,
        attempts: int = 4,
    ) -> Exchange:
        """One request with the host's retry policy; ``body``/``msg_id`` override the
        catalogue (for malformed requests). Raises :class:`StepFailed` without a reply."""
        exchange = await self.ask(
            name, args, body=body, msg_id=msg_id, seq=seq, version=version, attempts=attempts
        )
        if exchange.reply is None:
            raise StepFailed(f"no reply to {name} after {exchange.attempts} attempt(s) of 200 ms")
        return exchange

    async def ask(
        self,
        name: str,
        args: object | None = None,
        *,
        body: bytes | None = None,
        msg_id: int | None = None,
        seq: int | None = None,
        version: int = 1,
        attempts: int = 4,
    ) -> Exchange:
        """As :meth:`send`, but a missing reply is the rule's failure, not the step's."""
        spec = BY_NAME.get(name)
        if msg_id is None:
            assert spec is not None, name
            msg_id = spec.id
        if body is None:
            body = b"" if args is None else layout_of(type(args)).pack(args)  # type: ignore[type-var]
        return await self.wire.request(
            msg_id,
            body,
            seq=self.next_seq() if seq is None else seq,
            version=version,
            attempts=attempts,
        )

    async def ack(self, name: str, args: object | None = None) -> Exchange:
        """A request that must be ACKed; :class:`StepFailed` naming the NACK otherwise."""
        exchange = await self.send(name, args)
        nack = exchange.nack
        if nack is not None:
            raise StepFailed(f"{name} refused with {nack_name(nack[0])}")
        return exchange

    async def get_info(self) -> BoardInfo:
        exchange = await self.ack("GET_INFO")
        info: BoardInfo = layout_of(BoardInfo).unpack(exchange.body)
        return info

    async def status(self) -> Status:
        exchange = await self.ack("GET_STATUS")
        tm = layout_of(self.wire.telemetry_class).unpack(exchange.body)
        return Status(tm, tm.uptime_ms)

    async def expect_no_reply(self, data: bytes, *, settle_s: float = SILENCE_S) -> list[str]:
        """Write ``data`` and return the replies that came within ``settle_s`` (wall)."""
        mark = self.wire.expect_silence()
        self.wire.write(data)
        await asyncio.sleep(settle_s)
        return [describe_reply(r.message) for r in self.wire.replies_since(mark)]


def nack_name(code: int) -> str:
    try:
        return NackCode(code).name
    except ValueError:
        return f"code {code}"


def describe_reply(message: Any) -> str:
    text = f"{message.type.name} seq={message.seq} id=0x{message.msg_id:02X}"
    if message.type.name == "NACK" and message.body:
        text += f" {nack_name(message.body[0])}"
    return text


def describe_nack(exchange: Exchange) -> str:
    nack = exchange.nack
    if nack is None:
        return "ACK" if exchange.acked else "no reply"
    code, arg = nack
    return nack_name(code) + ("" if arg == 0xFF else f" arg {arg}")
