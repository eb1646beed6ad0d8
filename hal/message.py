"""The protocol message header: version, type, sequence number and id in front of a body."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hal.errors import ProtocolError
from hal.frozen import quick_init

PROTOCOL_VERSION = 1
HEADER_BYTES = 3


class MsgType(enum.IntEnum):
    """What a frame is. Sits in the low nibble of the first header byte."""

    REQUEST = 1
    ACK = 2
    NACK = 3
    TELEMETRY = 4


class NackCode(enum.IntEnum):
    """Why a device refused a request: the first byte of a NACK body."""

    UNKNOWN_COMMAND = 1
    BAD_LENGTH = 2
    OUT_OF_RANGE = 3
    BUSY = 4
    NOT_HOMED = 5
    FAULT = 6
    BAD_VERSION = 7
    INTERLOCK = 8


_MSG_TYPES = {int(t): t for t in MsgType}

#: ``arg_index`` byte of a NACK that is not about one argument.
NO_ARG = 0xFF


@quick_init
@dataclass(frozen=True, slots=True)
class Message:
    """One decoded frame payload.

    ``msg_id`` is the command id for REQUEST, ACK and NACK, and the packet id for TELEMETRY.
    ``seq`` is the request's sequence number (echoed in its ACK/NACK), or for TELEMETRY the
    board's running packet counter. Both wrap at 256.
    """

    type: MsgType
    seq: int
    msg_id: int
    body: bytes = b""
    version: int = PROTOCOL_VERSION

    def encode(self) -> bytes:
        """The frame payload: ``[version<<4 | type, seq, id] + body``."""
        if not 0 <= self.seq <= 0xFF:
            raise ValueError(f"seq: must be 0..255, got {self.seq}")
        if not 0 <= self.msg_id <= 0xFF:
            raise ValueError(f"msg_id: must be 0..255, got {self.msg_id}")
        return bytes(((self.version << 4) | self.type, self.seq, self.msg_id)) + self.body

    @classmethod
    def decode(cls, payload: bytes) -> Message:
        """Parse a frame payload; raise :class:`ProtocolError` naming what is wrong."""
        if len(payload) < HEADER_BYTES:
            raise ProtocolError(f"payload of {len(payload)} bytes is shorter than the header")
        version, type_code = payload[0] >> 4, payload[0] & 0x0F
        if version != PROTOCOL_VERSION:
            raise ProtocolError(f"protocol version {version} is not {PROTOCOL_VERSION}")
        msg_type = _MSG_TYPES.get(type_code)
        if msg_type is None:
            raise ProtocolError(f"unknown message type {type_code}")
        return cls(msg_type, payload[1], payload[2], bytes(payload[HEADER_BYTES:]), version)


def nack_body(code: NackCode, arg_index: int | None = None) -> bytes:
    """The two-byte body of a NACK."""
    return bytes((code, NO_ARG if arg_index is None else arg_index))


def parse_nack(body: bytes) -> tuple[int, int | None]:
    """``(code, arg_index or None)`` from a NACK body; tolerant of a short body."""
    code = body[0] if body else 0
    arg = body[1] if len(body) > 1 else NO_ARG
    return code, None if arg == NO_ARG else arg
