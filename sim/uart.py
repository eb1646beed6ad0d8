"""One board's serial line: frames in to the firmware, replies and telemetry out, link faults.

Output goes through, in order: silence (nothing goes out), drop (a whole frame is lost),
corruption (a random bit flipped in a fraction of bytes; the host's CRC catches it), reply
delay, then the line itself. Without a baud rate a frame is written to the port at once.
With one, the line is paced in real time at ``baud / 10`` bytes per second (8N1), with a
small FIFO-like allowance (64 bytes, about one frame) written ahead so that asyncio timer
jitter does not leave the line idle; replies overtake queued telemetry. Telemetry waits
in a queue of two at most (one being sent, one ready); a packet that finds it full is not
made, so a high telemetry rate streams back to back as fast as the line allows.

A port that cannot take a frame (a pty nobody reads, a TCP client that stalls, a link in
its outage) loses it, as a UART with nobody listening would.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from hal.framing import FrameDecoder, encode_frame
from hal.message import Message
from sim.faults import LinkFaults
from sim.firmware import Firmware

log = logging.getLogger(__name__)

FIFO_BYTES = 64
TELEMETRY_BACKLOG = 2

#: Writes one frame's bytes to the port; False when the port could not take them.
PortWrite = Callable[[bytes], bool]


@dataclass(slots=True)
class LineStats:
    frames_in: int = 0
    replies_out: int = 0
    telemetry_out: int = 0
    bytes_out: int = 0
    dropped_by_fault: int = 0
    dropped_by_port: int = 0
    corrupted_bytes: int = 0
    ignored_silent: int = 0


class Uart:
    """Connects a firmware to a port's byte stream."""

    def __init__(
        self,
        firmware: Firmware,
        *,
        baud: int | None = None,
        faults: LinkFaults | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if baud is not None and baud <= 0:
            raise ValueError(f"baud: must be > 0, got {baud}")
        self.firmware = firmware
        self.baud = baud
        self.faults = faults or LinkFaults()
        self.stats = LineStats()
        self._rng = rng or random.Random(0)
        self._decoder = FrameDecoder()
        self._port_write: PortWrite = lambda _data: False
        self._replies: collections.deque[bytes] = collections.deque()
        self._telemetry: collections.deque[bytes] = collections.deque()
        self._wake = asyncio.Event()
        self._pump_task: asyncio.Task[None] | None = None
        self._line_free_at = 0.0
        self._pending_delays: set[asyncio.TimerHandle] = set()
        firmware.emit = self.send_telemetry

    def attach(self, port_write: PortWrite) -> None:
        """Where output bytes go from now on."""
        self._port_write = port_write

    def start(self) -> None:
        if self.baud is not None and self._pump_task is None:
            self._pump_task = asyncio.get_running_loop().create_task(self._pump())

    async def close(self) -> None:
        for handle in self._pending_delays:
            handle.cancel()
        self._pending_delays.clear()
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump_task
            self._pump_task = None

    # -- input -----------------------------------------------------------------------

    def receive(self, data: bytes) -> None:
        """Bytes from the host: decode frames and answer each request."""
        for payload in self._decoder.feed(data):
            self.stats.frames_in += 1
            if self.faults.silent:
                self.stats.ignored_silent += 1
                continue
            try:
                reply = self.firmware.handle_payload(payload)
            except Exception:  # a firmware bug must not kill the port's reader
                log.exception("%s firmware failed on %s", self.firmware.kind.name, payload.hex())
                continue
            if reply is not None:
                self._send_reply(encode_frame(reply))

    # -- output ----------------------------------------------------------------------

    def send_telemetry(self, message: Message) -> bool:
        """The firmware's emit hook: False when the paced line has no room for it now."""
        if self.baud is not None and len(self._telemetry) >= TELEMETRY_BACKLOG:
            return False
        frame = self._through_faults(encode_frame(message.encode()))
        if frame is None:
            return True  # made and sent, then lost on the line
        self.stats.telemetry_out += 1
        if self.baud is None:
            self._write(frame)
        else:
            self._telemetry.append(frame)
            self._wake.set()
        return True

    def _send_reply(self, frame: bytes) -> None:
        faulted = self._through_faults(frame)
        if faulted is None:
            return
        self.stats.replies_out += 1
        if self.faults.delay_ms > 0:
            loop = asyncio.get_running_loop()
            handle: asyncio.TimerHandle | None = None

            def release() -> None:
                assert handle is not None
                self._pending_delays.discard(handle)
                self._queue_reply(faulted)

            handle = loop.call_later(self.faults.delay_ms / 1000.0, release)
            self._pending_delays.add(handle)
        else:
            self._queue_reply(faulted)

    def _queue_reply(self, frame: bytes) -> None:
        if self.faults.silent:
            return  # went silent while the reply was held back
        if self.baud is None:
            self._write(frame)
        else:
            self._replies.append(frame)
            self._wake.set()

    def _through_faults(self, frame: bytes) -> bytes | None:
        faults = self.faults
        if faults.silent:
            return None
        if faults.drop > 0 and self._rng.random() < faults.drop:
            self.stats.dropped_by_fault += 1
            return None
        if faults.corrupt <= 0:
            return frame
        data = bytearray(frame)
        for i in range(len(data)):
            if self._rng.random() < faults.corrupt:
                data[i] ^= 1 << self._rng.randrange(8)
                self.stats.corrupted_bytes += 1
        return bytes(data)

    def _write(self, frame: bytes) -> None:
        if self._port_write(frame):
            self.stats.bytes_out += len(frame)
        else:
            self.stats.dropped_by_port += 1

    async def _pump(self) -> None:
        """Paced output: keep the line busy while anything is queued, replies first."""
        assert self.baud is not None
        loop = asyncio.get_running_loop()
        bytes_per_s = self.baud / 10.0
        fifo_s = FIFO_BYTES / bytes_per_s
        while True:
            if not self._replies and not self._telemetry:
                self._wake.clear()
                await self._wake.wait()
                continue
            now = loop.time()
            self._line_free_at = max(self._line_free_at, now)
            ahead = self._line_free_at - now
            if ahead > fifo_s:
                # Sleep only until the FIFO has room, then look again: a reply that came
                # in meanwhile goes before the telemetry that was waiting.
                await asyncio.sleep(ahead - fifo_s)
                continue
            frame = self._replies.popleft() if self._replies else self._telemetry.popleft()
            self._write(frame)
            self._line_free_at += len(frame) / bytes_per_s
