"""What every board driver shares: typed calls over a link and the latest telemetry snapshot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar, Generic, TypeVar

from hal.commands import BY_NAME, BoardInfo, BoardKind, TelemetryRate
from hal.errors import HalError, ProtocolError
from hal.layout import layout_of
from hal.link import SerialLink
from hal.message import Message
from hal.telemetry import ElecTelemetry, OvenTelemetry, PacketId, ScoopTelemetry

TM = TypeVar("TM", ScoopTelemetry, ElecTelemetry, OvenTelemetry)


class WrongBoard(HalError):
    """The port answers as another board than the driver expects."""

    def __init__(self, url: str, expected: BoardKind, found: int) -> None:
        super().__init__(f"{url}: expected the {expected.name} board, found board {found}")
        self.url = url
        self.expected = expected
        self.found = found


class BoardDriver(Generic[TM]):
    """Base of the per-board drivers. Subclasses set the board, packet and telemetry class."""

    board: ClassVar[BoardKind]
    packet: ClassVar[PacketId]
    telemetry_class: ClassVar[type[Any]]

    def __init__(self, link: SerialLink) -> None:
        self.link = link
        self.latest: TM | None = None
        #: ``time.monotonic()`` when :attr:`latest` arrived.
        self.latest_at: float | None = None
        self.decode_errors = 0
        self._layout = layout_of(self.telemetry_class)
        self._waiters: list[tuple[Callable[[TM], bool], asyncio.Future[TM]]] = []
        self._subscribers: list[Callable[[TM], None]] = []
        self._remove_listener = link.add_listener(self._on_message)

    def close(self) -> None:
        """Stop listening to the link (the link itself belongs to its owner)."""
        self._remove_listener()

    # --- telemetry -------------------------------------------------------------------

    def _on_message(self, message: Message) -> None:
        if message.msg_id != self.packet:
            return
        try:
            snapshot: TM = self._layout.unpack(message.body)
        except ProtocolError:
            self.decode_errors += 1
            return
        self._accept(snapshot)

    def _accept(self, snapshot: TM) -> None:
        self.latest, self.latest_at = snapshot, time.monotonic()
        for subscriber in tuple(self._subscribers):
            subscriber(snapshot)
        for waiter in tuple(self._waiters):
            predicate, future = waiter
            if not future.done() and predicate(snapshot):
                future.set_result(snapshot)

    def listen(self, listener: Callable[[TM], None]) -> Callable[[], None]:
        """Call ``listener`` with every snapshot from now on; returns its remover."""
        self._subscribers.append(listener)
        return lambda: self._subscribers.remove(listener)

    async def wait_for(self, predicate: Callable[[TM], bool], *, timeout_s: float) -> TM:
        """The first snapshot, from now on, for which ``predicate`` holds.

        Raises ``TimeoutError`` after ``timeout_s``.
        """
        future: asyncio.Future[TM] = asyncio.get_running_loop().create_future()
        waiter = (predicate, future)
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout_s):
                return await future
        finally:
            self._waiters.remove(waiter)

    async def telemetry(self, *, maxsize: int = 1024) -> AsyncIterator[TM]:
        """Every snapshot from now on; the oldest is dropped if the reader lags."""
        queue: asyncio.Queue[TM] = asyncio.Queue(maxsize)

        def put(snapshot: TM) -> None:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(snapshot)

        remove = self.listen(put)
        try:
            while True:
                yield await queue.get()
        finally:
            remove()

    # --- commands every board has ----------------------------------------------------

    async def _call(self, name: str, args: object | None = None) -> bytes:
        return await self.link.request(BY_NAME[name], args)

    async def info(self) -> BoardInfo:
        """Identify the board; raise :class:`WrongBoard` if it is not this driver's."""
        info: BoardInfo = layout_of(BoardInfo).unpack(await self._call("GET_INFO"))
        if info.board != self.board:
            raise WrongBoard(self.link.url, self.board, int(info.board))
        return info

    async def set_telemetry_rate(self, rate_hz: float) -> None:
        """Stream telemetry at ``rate_hz`` (0 stops it)."""
        await self._call("SET_TM_RATE", TelemetryRate(rate_hz))

    async def get_status(self) -> TM:
        """Ask for one telemetry packet now; it also updates :attr:`latest`."""
        snapshot: TM = self._layout.unpack(await self._call("GET_STATUS"))
        self._accept(snapshot)
        return snapshot

    async def stop(self) -> None:
        """All actuators off; clears a board FAULT whose cause has gone."""
        await self._call("STOP")

    async def reset(self) -> None:
        """Reboot the board: it comes back with actuators off and boot_count + 1."""
        await self._call("RESET")
