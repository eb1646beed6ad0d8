"""The receiving half of a link: bytes to messages, replies to the waiting request, telemetry
to the listeners, everything counted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from hal.errors import ProtocolError
from hal.framing import FrameDecoder
from hal.message import Message, MsgType
from hal.port import LinkStats

MessageListener = Callable[[Message], None]


class Receiver:
    """Decodes what one port sends; :meth:`reset` starts afresh after a reopen."""

    def __init__(self, stats: LinkStats) -> None:
        self.stats = stats
        self.listeners: list[MessageListener] = []
        #: The request waiting for its reply: (seq, command id, future of the reply).
        self.pending: tuple[int, int, asyncio.Future[Message]] | None = None
        self._decoder = FrameDecoder()
        self._last_tm_seq: dict[int, int] = {}

    def reset(self) -> None:
        """A new decoder (its counters from zero) and no telemetry gap tracking yet."""
        self._decoder = FrameDecoder()
        self._last_tm_seq.clear()

    def feed(self, data: bytes) -> None:
        self.stats.bytes_in += len(data)
        self.stats.reads += 1
        for payload in self._decoder.feed(data):
            self.stats.frames_in += 1
            try:
                message = Message.decode(payload)
            except ProtocolError:
                self.stats.protocol_errors += 1
                continue
            self._on_message(message)
        decoder = self._decoder.stats
        self.stats.crc_errors = decoder.crc_errors
        self.stats.framing_errors = decoder.framing_errors
        self.stats.oversize = decoder.oversize

    def _on_message(self, message: Message) -> None:
        if message.type is MsgType.TELEMETRY:
            self._count_telemetry(message)
            for listener in tuple(self.listeners):
                listener(message)
            return
        if message.type not in (MsgType.ACK, MsgType.NACK):
            self.stats.protocol_errors += 1
            return
        pending = self.pending
        if pending is None or pending[:2] != (message.seq, message.msg_id) or pending[2].done():
            self.stats.stale_replies += 1
            return
        pending[2].set_result(message)

    def _count_telemetry(self, message: Message) -> None:
        self.stats.telemetry += 1
        previous = self._last_tm_seq.get(message.msg_id)
        if previous is not None:
            self.stats.telemetry_gaps += (message.seq - previous - 1) & 0xFF
        self._last_tm_seq[message.msg_id] = message.seq

    def fail_pending(self, exc: BaseException) -> None:
        if self.pending is not None and not self.pending[2].done():
            self.pending[2].set_exception(exc)
