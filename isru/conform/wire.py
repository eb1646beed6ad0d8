"""The kit's end of one board's line: raw frames out, every reply and telemetry packet in.

The port is opened exactly as ``hal.SerialLink`` opens it (``serial.serial_for_url`` through
pyserial-asyncio-fast), so a device path, a pty and ``socket://host:port`` all work. Unlike
the link, the wire sends whatever bytes a rule needs (bad CRCs, version 2 headers, the same
``seq`` twice) and keeps every frame the board sends, with its arrival time.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import serial
import serial_asyncio_fast

from hal.errors import PortError, ProtocolError
from hal.framing import FrameDecoder, encode_frame
from hal.layout import layout_of
from hal.message import Message, MsgType

T = TypeVar("T")

#: The host's reply timeout per attempt and its attempts (SerialLink: retries=3).
HOST_TIMEOUT_S = 0.2
HOST_ATTEMPTS = 4


@dataclass(frozen=True, slots=True)
class Received:
    """One frame from the board: the decoded message, its payload bytes, when it came."""

    message: Message
    payload: bytes
    at: float


@dataclass(frozen=True, slots=True)
class Packet:
    """One telemetry packet: its frame and the decoded snapshot."""

    frame: Received
    tm: Any

    @property
    def seq(self) -> int:
        return self.frame.message.seq


@dataclass(slots=True)
class Exchange:
    """One request and what came back to it."""

    seq: int
    msg_id: int
    frame: bytes
    reply: Received | None = None
    #: ``time.monotonic()`` when the last attempt was written.
    sent_at: float = 0.0
    attempts: int = 0
    latency_s: float | None = None

    @property
    def acked(self) -> bool:
        return self.reply is not None and self.reply.message.type is MsgType.ACK

    @property
    def nack(self) -> tuple[int, int] | None:
        """``(code, arg_index)`` of a NACK reply (arg 0xFF as is), else None."""
        if self.reply is None or self.reply.message.type is not MsgType.NACK:
            return None
        body = self.reply.message.body
        return (body[0] if body else -1, body[1] if len(body) > 1 else -1)

    @property
    def body(self) -> bytes:
        return b"" if self.reply is None else self.reply.message.body


@dataclass(slots=True)
class WireLog:
    """Everything the board sent that a whole-run rule looks at."""

    replies: list[Received] = field(default_factory=list)
    telemetry: list[Packet] = field(default_factory=list)
    #: Replies nobody asked for (or one reply too many), and frames that are not messages.
    unexpected: list[str] = field(default_factory=list)
    bad_telemetry: list[str] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)


class _Protocol(asyncio.Protocol):
    def __init__(self, wire: BoardWire) -> None:
        self._wire = wire

    def data_received(self, data: bytes) -> None:
        self._wire._on_bytes(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._wire.lost = True
        self._wire._notify()


class BoardWire:
    """One board's port; ``packet_id`` and ``telemetry_class`` say how to read its stream."""

    def __init__(
        self, url: str, *, baudrate: int, packet_id: int, telemetry_class: type[Any]
    ) -> None:
        self.url = url
        self.baudrate = baudrate
        self.packet_id = packet_id
        self.telemetry_class = telemetry_class
        self.log = WireLog()
        self.decoder = FrameDecoder()
        self.lost = False
        self._transport: asyncio.BaseTransport | None = None
        self._changed = asyncio.Event()
        self._expected: Counter[tuple[int, int]] = Counter()

    async def open(self) -> None:
        """Open the port; :class:`PortError` naming the URL when it cannot be opened."""
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await serial_asyncio_fast.create_serial_connection(
                loop, lambda: _Protocol(self), self.url, baudrate=self.baudrate
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise PortError(self.url, (text or type(exc).__name__).split("\n")[0]) from None
        self._transport = transport

    def close(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()

    # --- output ----------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self._transport is None or self.lost:
            raise ConnectionError(f"{self.url}: the port is closed")
        self._transport.write(data)  # type: ignore[attr-defined]

    async def request(
        self,
        msg_id: int,
        body: bytes = b"",
        *,
        seq: int,
        version: int = 1,
        attempts: int = HOST_ATTEMPTS,
        timeout_s: float = HOST_TIMEOUT_S,
        frame: bytes | None = None,
    ) -> Exchange:
        """Send a request (``frame`` as is, if given) and wait for the reply echoing its
        ``seq`` and ``id``, resending the same bytes like the host (4 attempts of 200 ms)."""
        if frame is None:
            frame = encode_frame(Message(MsgType.REQUEST, seq, msg_id, body, version).encode())
        exchange = Exchange(seq, msg_id, frame)
        start = len(self.log.replies)
        for _ in range(attempts):
            exchange.attempts += 1
            sent = exchange.sent_at = time.monotonic()
            self._expected[(seq, msg_id)] += 1
            self.write(frame)
            reply = await self.wait_until(lambda: self._reply_for(start, seq, msg_id), timeout_s)
            if reply is not None:
                exchange.reply = reply
                exchange.latency_s = max(0.0, reply.at - sent)
                self.log.latencies_s.append(exchange.latency_s)
                return exchange
        return exchange

    def expect_silence(self) -> int:
        """Mark the start of a window in which no reply may come; returns the mark."""
        return len(self.log.replies)

    def replies_since(self, mark: int) -> list[Received]:
        return self.log.replies[mark:]

    # --- input -----------------------------------------------------------------------

    def _reply_for(self, start: int, seq: int, msg_id: int) -> Received | None:
        for reply in self.log.replies[start:]:
            if (reply.message.seq, reply.message.msg_id) == (seq, msg_id):
                return reply
        return None

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until(self, check: Callable[[], T | None], timeout_s: float) -> T | None:
        """``check()``'s first non-None value, re-checked on every frame; None on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            result = check()
            if result is not None:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            try:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for drops a cancel (Ctrl-C)
                # that lands in the same turn as a frame (CPython gh-86296).
                async with asyncio.timeout(remaining):
                    await self._changed.wait()
            except TimeoutError:
                return check()

    def _on_bytes(self, data: bytes) -> None:
        now = time.monotonic()
        for payload in self.decoder.feed(data):
            try:
                message = Message.decode(payload)
            except ProtocolError as exc:
                self.log.unexpected.append(f"frame {payload[:8].hex(' ')}: {exc.reason}")
                continue
            received = Received(message, payload, now)
            if message.type is MsgType.TELEMETRY:
                self._on_telemetry(received)
            elif message.type in (MsgType.ACK, MsgType.NACK):
                self._on_reply(received)
            else:
                self.log.unexpected.append(f"a {message.type.name} frame from the board")
        self._notify()

    def _on_reply(self, received: Received) -> None:
        key = (received.message.seq, received.message.msg_id)
        if self._expected[key] > 0:
            self._expected[key] -= 1
        else:
            m = received.message
            self.log.unexpected.append(f"{m.type.name} seq={m.seq} id=0x{m.msg_id:02X} unasked")
        self.log.replies.append(received)

    def _on_telemetry(self, received: Received) -> None:
        message = received.message
        if message.msg_id != self.packet_id:
            self.log.bad_telemetry.append(f"packet id 0x{message.msg_id:02X}")
            return
        try:
            tm = layout_of(self.telemetry_class).unpack(message.body)
        except ProtocolError as exc:
            self.log.bad_telemetry.append(exc.reason)
            return
        self.log.telemetry.append(Packet(received, tm))
