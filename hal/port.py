"""The serial port under a link: its states and counters, opening it, and reopening it."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

import serial
import serial_asyncio_fast
from tenacity import AsyncRetrying, retry_if_exception_type, stop_never, wait_fixed

from hal.errors import PortError


class LinkState(enum.Enum):
    CLOSED = "closed"
    OPENING = "opening"
    OPEN = "open"
    LOST = "lost"


@dataclass(slots=True)
class LinkStats:
    """Counters of one link since it was made; read them at any time."""

    bytes_in: int = 0
    bytes_out: int = 0
    #: Reads from the port: one per wake, which may bring several frames.
    reads: int = 0
    frames_in: int = 0
    frames_out: int = 0
    crc_errors: int = 0
    framing_errors: int = 0
    oversize: int = 0
    protocol_errors: int = 0
    requests: int = 0
    retries: int = 0
    timeouts: int = 0
    nacks: int = 0
    stale_replies: int = 0
    telemetry: int = 0
    telemetry_gaps: int = 0
    losses: int = 0
    reopens: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


#: serial_asyncio_fast reads at most this many bytes at a wake: a read this long may have left
#: more waiting, so no hold follows it.
FULL_READ = 1024


class WireProtocol(asyncio.Protocol):
    """Hands received bytes to ``on_bytes``; calls ``on_lost(self)`` when the port goes.

    With ``hold_s`` above 0, each read is followed by a pause without reading, until the next
    multiple of ``hold_s`` on the event loop's clock (unless ``urgent()`` says a reply is
    awaited, or the read filled its buffer): whatever the board sends meanwhile waits in the
    kernel's buffer and is read in one wake when the pause ends, together with every other
    port held alike, or at once when :meth:`read_now` is called (a request is sent)."""

    def __init__(
        self,
        on_bytes: Callable[[bytes], None],
        on_lost: Callable[[WireProtocol], None],
        *,
        hold_s: float = 0.0,
        urgent: Callable[[], bool] = lambda: False,
    ) -> None:
        self._on_bytes = on_bytes
        self._on_lost = on_lost
        self._hold_s = hold_s
        self._urgent = urgent
        self._transport: asyncio.ReadTransport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._hold: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._loop = asyncio.get_running_loop()

    def data_received(self, data: bytes) -> None:
        self._on_bytes(data)
        transport, loop = self._transport, self._loop
        if (
            self._hold_s > 0
            and self._hold is None
            and len(data) < FULL_READ
            and transport is not None
            and loop is not None
            and not transport.is_closing()
            and not self._urgent()
        ):
            transport.pause_reading()
            # The pause ends on a grid of ``hold_s`` steps of the loop's clock, so that every
            # board held alike is read again in the same wake.
            hold_s = self._hold_s
            self._hold = loop.call_at((loop.time() // hold_s + 1) * hold_s, self.read_now)

    def read_now(self) -> None:
        """End the pause, if there is one: what waits is read at the next wake."""
        hold, self._hold = self._hold, None
        if hold is not None:
            hold.cancel()
            transport = self._transport
            if transport is not None and not transport.is_closing():
                transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._hold is not None:
            self._hold.cancel()
            self._hold = None
        self._on_lost(self)


async def open_port(url: str, baudrate: int, protocol: WireProtocol) -> asyncio.BaseTransport:
    """Open ``url`` with ``serial.serial_for_url``; raise :class:`PortError` naming why not."""
    loop = asyncio.get_running_loop()
    try:
        transport, _ = await serial_asyncio_fast.create_serial_connection(
            loop, lambda: protocol, url, baudrate=baudrate
        )
    except (serial.SerialException, OSError, ValueError) as exc:
        raise PortError(url, describe(exc)) from None
    return transport  # type: ignore[no-any-return]


async def until_open(open_once: Callable[[], Awaitable[None]], *, every_s: float) -> None:
    """Call ``open_once`` until it does not raise :class:`PortError`, every ``every_s``."""
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(PortError),
        wait=wait_fixed(every_s),
        stop=stop_never,
        sleep=asyncio.sleep,  # real time: the port needs it to return
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            await open_once()


def describe(exc: BaseException) -> str:
    """The first line of why ``exc`` happened, for a user."""
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return (text or type(exc).__name__).split("\n")[0]
