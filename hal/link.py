"""The async serial link to one board: requests matched to replies, telemetry, reconnect."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from types import TracebackType

from hal.commands import CommandSpec
from hal.errors import DeviceNack, DeviceTimeout, LinkDown, PortError
from hal.framing import encode_frame
from hal.layout import layout_of
from hal.message import Message, MsgType, NackCode, parse_nack
from hal.port import LinkState, LinkStats, WireProtocol, open_port, until_open
from hal.receiver import MessageListener, Receiver

__all__ = ["LinkState", "LinkStats", "MessageListener", "SerialLink"]

#: The longest ``read_hold_s``: what a board sends meanwhile must fit in the kernel's buffer
#: (4 KiB for a tty: 0.36 s of a line at 115200 baud kept full).
MAX_READ_HOLD_S = 0.25


class SerialLink:
    """One board on one port, opened by URL with ``serial.serial_for_url``.

    ``/dev/ttyUSB0``, ``/dev/serial/by-id/...``, a pty path and ``socket://host:port`` all
    work. Requests are stop-and-wait: one outstanding at a time, retried with the same
    sequence number so the device can answer a duplicate from its cache. When the port
    vanishes the link fails what is pending with :class:`LinkDown` and reopens the same URL
    every ``reconnect_s`` until it is back.

    ``read_hold_s`` (0: off) trades telemetry latency for CPU: after each read the link reads
    nothing for that long, so that a fast telemetry stream is read several frames per wake
    instead of one; replies are not held (a request ends the pause, and none starts while a
    reply is awaited). A frame waits at most ``read_hold_s`` (what it says is that much late,
    and its reception time with it); at telemetry rates below ``1 / read_hold_s`` almost
    nothing waits.
    """

    def __init__(
        self,
        *,
        url: str,
        baudrate: int = 115200,
        timeout_s: float = 0.2,
        retries: int = 3,
        reconnect_s: float = 0.25,
        read_hold_s: float = 0.0,
        wait_open: bool = True,
    ) -> None:
        if not url:
            raise ValueError("url: must not be empty")
        if baudrate <= 0:
            raise ValueError(f"baudrate: must be positive, got {baudrate}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s: must be positive, got {timeout_s}")
        if retries < 0:
            raise ValueError(f"retries: must be 0 or more, got {retries}")
        if reconnect_s <= 0:
            raise ValueError(f"reconnect_s: must be positive, got {reconnect_s}")
        if not 0 <= read_hold_s <= MAX_READ_HOLD_S:
            raise ValueError(f"read_hold_s: must be 0 to {MAX_READ_HOLD_S} s, got {read_hold_s}")
        self.url = url
        self.baudrate = baudrate
        self.timeout_s = timeout_s
        self.retries = retries
        self.reconnect_s = reconnect_s
        self.read_hold_s = read_hold_s
        self._wait_open = wait_open
        self.stats = LinkStats()
        self._rx = Receiver(self.stats)
        self._state = LinkState.CLOSED
        self._state_changed = asyncio.Event()
        self._transport: asyncio.BaseTransport | None = None
        self._protocol: WireProtocol | None = None
        self._lost = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._request_lock = asyncio.Lock()
        # A random first sequence number: a device still holding a cached reply from an
        # earlier host session is unlikely to mistake our first request for a retry.
        self._seq = random.randrange(256)
        self._state_listeners: list[Callable[[LinkState], None]] = []
        self.last_error = ""

    # --- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> SerialLink:
        if self._wait_open:
            await self._open()
        self._supervisor = asyncio.create_task(self._supervise(), name=f"link {self.url}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the port and stop reconnecting."""
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        self._drop_transport()
        self._fail_pending()
        self._set_state(LinkState.CLOSED)

    @property
    def state(self) -> LinkState:
        return self._state

    @property
    def is_open(self) -> bool:
        return self._state is LinkState.OPEN

    async def wait_state(self, state: LinkState, *, timeout_s: float) -> None:
        """Return once the link is in ``state``; raise TimeoutError after ``timeout_s``."""
        async with asyncio.timeout(timeout_s):
            while self._state is not state:
                self._state_changed.clear()
                await self._state_changed.wait()

    def add_listener(self, listener: MessageListener) -> Callable[[], None]:
        """Call ``listener`` with every TELEMETRY message; returns a function that removes it."""
        self._rx.listeners.append(listener)
        return lambda: self._rx.listeners.remove(listener)

    def add_state_listener(self, listener: Callable[[LinkState], None]) -> Callable[[], None]:
        """Call ``listener`` with each new :class:`LinkState`; returns its remover."""
        self._state_listeners.append(listener)
        return lambda: self._state_listeners.remove(listener)

    async def telemetry(self, *, maxsize: int = 1024) -> AsyncIterator[Message]:
        """Every TELEMETRY message from now on; the oldest is dropped if the reader lags."""
        queue: asyncio.Queue[Message] = asyncio.Queue(maxsize)

        def put(message: Message) -> None:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(message)

        remove = self.add_listener(put)
        try:
            while True:
                yield await queue.get()
        finally:
            remove()

    # --- requests --------------------------------------------------------------------

    async def request(
        self, command: CommandSpec, args: object | None = None, *, timeout_s: float | None = None
    ) -> bytes:
        """Send ``command`` with ``args`` (an instance of ``command.args``); return the ACK body.

        Raises :class:`DeviceNack` when the device refuses, :class:`DeviceTimeout` after every
        retry went unanswered, :class:`LinkDown` when the port is gone.
        """
        if command.args is None:
            if args is not None:
                raise ValueError(f"args: {command.name} takes no arguments")
            body = b""
        else:
            if not isinstance(args, command.args):
                raise TypeError(f"args: {command.name} takes {command.args.__name__}")
            body = layout_of(command.args).pack(args)
        reply = await self.request_raw(
            command_id=command.id, body=body, name=command.name, timeout_s=timeout_s
        )
        return reply.body

    async def request_raw(
        self, *, command_id: int, body: bytes, name: str = "", timeout_s: float | None = None
    ) -> Message:
        """Send a request with an already packed body; return the ACK message."""
        name = name or f"command 0x{command_id:02x}"
        timeout = self.timeout_s if timeout_s is None else timeout_s
        async with self._request_lock:
            self._seq = (self._seq + 1) & 0xFF
            seq = self._seq
            frame = encode_frame(Message(MsgType.REQUEST, seq, command_id, body).encode())
            self.stats.requests += 1
            attempts = 1 + self.retries
            for attempt in range(attempts):
                if attempt:
                    self.stats.retries += 1
                reply = await self._attempt(frame, seq, command_id, timeout)
                if reply is None:
                    continue
                if reply.type is MsgType.NACK:
                    self.stats.nacks += 1
                    code, arg_index = parse_nack(reply.body)
                    raise DeviceNack(name, code, _nack_name(code), arg_index)
                return reply
            self.stats.timeouts += 1
            raise DeviceTimeout(name, attempts, timeout)

    async def _attempt(
        self, frame: bytes, seq: int, command_id: int, timeout_s: float
    ) -> Message | None:
        transport = self._transport
        if self._state is not LinkState.OPEN or transport is None:
            raise LinkDown(self.url)
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._rx.pending = (seq, command_id, future)
        if self._protocol is not None:
            self._protocol.read_now()  # the reply is read as soon as it comes
        try:
            transport.write(frame)  # type: ignore[attr-defined]
            self.stats.frames_out += 1
            self.stats.bytes_out += len(frame)
            async with asyncio.timeout(timeout_s):
                return await future
        except TimeoutError:
            return None
        finally:
            self._rx.pending = None

    # --- opening and reopening -------------------------------------------------------

    async def _open(self) -> None:
        self._set_state(LinkState.OPENING)
        protocol = WireProtocol(
            self._rx.feed,
            self._on_connection_lost,
            hold_s=self.read_hold_s,
            urgent=lambda: self._rx.pending is not None,
        )
        try:
            transport = await open_port(self.url, self.baudrate, protocol)
        except PortError as exc:
            self.last_error = exc.reason
            self._set_state(LinkState.LOST)
            raise
        self._rx.reset()
        self._transport, self._protocol = transport, protocol
        self._lost.clear()
        self._set_state(LinkState.OPEN)

    async def _supervise(self) -> None:
        ever_opened = self._state is LinkState.OPEN
        while True:
            if self._state is LinkState.OPEN:
                await self._lost.wait()
                self.stats.losses += 1
                self._drop_transport()
                self._fail_pending()
                self._set_state(LinkState.LOST)
                await asyncio.sleep(self.reconnect_s)  # real time: the port needs it to return
            await until_open(self._open, every_s=self.reconnect_s)
            if ever_opened:
                self.stats.reopens += 1
            ever_opened = True

    def _on_connection_lost(self, protocol: WireProtocol) -> None:
        if protocol is self._protocol:
            self._lost.set()

    def _drop_transport(self) -> None:
        transport, self._transport, self._protocol = self._transport, None, None
        if transport is not None:
            transport.close()

    def _fail_pending(self) -> None:
        self._rx.fail_pending(LinkDown(self.url))

    def _set_state(self, state: LinkState) -> None:
        if state is self._state:
            return
        self._state = state
        self._state_changed.set()
        for listener in tuple(self._state_listeners):
            listener(state)


def _nack_name(code: int) -> str:
    try:
        return NackCode(code).name
    except ValueError:
        return f"code {code}"
