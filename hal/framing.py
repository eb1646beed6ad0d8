"""COBS framing with a CRC-16/CCITT-FALSE trailer: bytes on the wire <-> frame payloads."""

from __future__ import annotations

import binascii
from dataclasses import dataclass

from cobs import cobs

#: Largest decoded frame (header + body + CRC). Kept at 254 so COBS adds exactly one byte.
MAX_FRAME = 254
CRC_BYTES = 2
DELIMITER = b"\x00"
#: Wire bytes a frame costs beyond its payload: CRC, one COBS code byte and the delimiter.
FRAMING_OVERHEAD = CRC_BYTES + 2


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor.

    ``binascii.crc_hqx`` is exactly this polynomial, implemented in C.
    """
    return binascii.crc_hqx(data, 0xFFFF)


def encode_frame(payload: bytes) -> bytes:
    """Wrap ``payload`` as one wire frame: COBS(payload + CRC little-endian) + 0x00."""
    if not payload:
        raise ValueError("payload: must not be empty (a message has at least its header)")
    if len(payload) + CRC_BYTES > MAX_FRAME:
        raise ValueError(
            f"payload: {len(payload)} bytes is over the {MAX_FRAME - CRC_BYTES}-byte limit"
        )
    raw = payload + crc16(payload).to_bytes(2, "little")
    encoded: bytes = cobs.encode(raw)
    return encoded + DELIMITER


@dataclass(slots=True)
class DecoderStats:
    """What a :class:`FrameDecoder` has seen since it was made."""

    frames: int = 0
    crc_errors: int = 0
    framing_errors: int = 0
    oversize: int = 0
    bytes_in: int = 0


class FrameDecoder:
    """Stream decoder: feed it any bytes, get back the payloads of intact frames.

    It never raises on input. A frame that fails COBS decoding, is too short, too long
    or fails its CRC is counted and dropped; decoding resumes at the next delimiter.
    """

    def __init__(self, *, max_frame: int = MAX_FRAME) -> None:
        if max_frame < CRC_BYTES + 1:
            raise ValueError(f"max_frame: must be at least {CRC_BYTES + 1}, got {max_frame}")
        self._max_frame = max_frame
        # COBS adds one code byte per started block of 254 bytes.
        self._max_encoded = max_frame + (max_frame + 253) // 254
        self._buffer = bytearray()
        self._discarding = False
        self.stats = DecoderStats()

    def feed(self, data: bytes) -> list[bytes]:
        """Consume ``data`` and return the payloads (CRC stripped) of every complete frame."""
        self.stats.bytes_in += len(data)
        payloads: list[bytes] = []
        start = 0
        while True:
            end = data.find(0, start)
            if end < 0:
                self._append(data[start:])
                return payloads
            if self._buffer or self._discarding:
                self._append(data[start:end])
                payload = self._finish()
            elif end - start > self._max_encoded:  # too long to be a frame
                self.stats.oversize += 1
                payload = None
            else:  # a whole frame in this read: decoded from it, not copied to the buffer
                payload = self._decode(data[start:end])
            if payload is not None:
                payloads.append(payload)
            start = end + 1

    def _append(self, chunk: bytes) -> None:
        if self._discarding or not chunk:
            return
        if len(self._buffer) + len(chunk) > self._max_encoded:
            # Too long to be a frame: drop it all until the next delimiter.
            self._buffer.clear()
            self._discarding = True
            self.stats.oversize += 1
            return
        self._buffer += chunk

    def _finish(self) -> bytes | None:
        encoded = bytes(self._buffer)
        self._buffer.clear()
        if self._discarding:
            self._discarding = False
            return None
        return self._decode(encoded)

    def _decode(self, encoded: bytes) -> bytes | None:
        if not encoded:
            return None  # back-to-back delimiters are idle fill, not errors
        try:
            raw: bytes = cobs.decode(encoded)
        except cobs.DecodeError:
            self.stats.framing_errors += 1
            return None
        if len(raw) > self._max_frame:
            self.stats.oversize += 1
            return None
        if len(raw) <= CRC_BYTES:
            self.stats.framing_errors += 1
            return None
        payload, trailer = raw[:-CRC_BYTES], raw[-CRC_BYTES:]
        if crc16(payload) != int.from_bytes(trailer, "little"):
            self.stats.crc_errors += 1
            return None
        self.stats.frames += 1
        return payload
