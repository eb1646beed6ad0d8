"""Where a board's bytes meet the host: a pseudo-terminal or a loopback TCP port.

:class:`PtyPort` makes a pty pair, sets the slave raw at once (no echo, no line editing) and
keeps the slave open itself, so the master never reads EIO when the host closes and reopens
the device. The host opens the slave path (or the ``link_path`` symlink, re-pointed
atomically whenever the pty changes). When nobody reads, the pty buffer fills and further
frames are lost (counted), like a UART with nobody listening.

:class:`TcpPort` serves the board on 127.0.0.1; the host opens ``socket://127.0.0.1:PORT``.
One client at a time: a new connection replaces the previous one, so a host that lost its
connection without the sim noticing can always come back.

``disconnect(seconds)`` makes the port vanish (pty closed and symlink removed, or TCP
listener and client closed) and brings it back after ``seconds`` of real time: a new pty
(symlink re-pointed) or the same TCP port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from collections.abc import Callable
from pathlib import Path

Receive = Callable[[bytes], None]

#: A TCP client further behind than this loses frames rather than growing the buffer.
TCP_BUFFER_LIMIT = 64 * 1024


class Port:
    """Common outage handling; subclasses open and close the real thing."""

    def __init__(self, receive: Receive) -> None:
        self.receive = receive
        self.opened = asyncio.Event()
        self._reopen: asyncio.TimerHandle | None = None
        self._closed_for_good = False

    @property
    def url(self) -> str:
        raise NotImplementedError

    async def open(self) -> None:
        raise NotImplementedError

    def _shut(self) -> None:
        raise NotImplementedError

    def write(self, data: bytes) -> bool:
        raise NotImplementedError

    def disconnect(self, seconds: float) -> None:
        """Vanish now, come back after ``seconds`` (real time)."""
        self._shut()
        self.opened.clear()
        if self._reopen is not None:
            self._reopen.cancel()
        loop = asyncio.get_running_loop()
        self._reopen = loop.call_later(seconds, lambda: loop.create_task(self._come_back()))

    async def _come_back(self) -> None:
        self._reopen = None
        if not self._closed_for_good:
            await self.open()

    async def close(self) -> None:
        self._closed_for_good = True
        if self._reopen is not None:
            self._reopen.cancel()
            self._reopen = None
        self._shut()
        self.opened.clear()


class PtyPort(Port):
    """A board on a pseudo-terminal, optionally behind a stable symlink."""

    def __init__(self, receive: Receive, *, link_path: Path | None = None) -> None:
        super().__init__(receive)
        self.link_path = link_path
        self.slave_path = ""
        self._link_target = ""
        self._master = -1
        self._slave = -1

    @property
    def url(self) -> str:
        return str(self.link_path) if self.link_path is not None else self.slave_path

    async def open(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.slave_path = os.ttyname(slave)
        asyncio.get_running_loop().add_reader(master, self._readable)
        if self.link_path is not None:
            self._link_target = held_path(slave, self.slave_path)
            point_symlink(self.link_path, self._link_target)
        self.opened.set()

    def _shut(self) -> None:
        if self._master < 0:
            return
        asyncio.get_running_loop().remove_reader(self._master)
        os.close(self._master)
        os.close(self._slave)
        self._master = self._slave = -1
        if self.link_path is not None:
            remove_symlink(self.link_path, self._link_target)

    def _readable(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return  # EIO cannot happen while we hold the slave; ignore it if it does
        if data:
            self.receive(data)

    def write(self, data: bytes) -> bool:
        if self._master < 0:
            return False
        try:
            written = os.write(self._master, data)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return False
        if written < len(data):
            # The buffer filled mid-frame. The host's decoder discards the torn frame at
            # the next delimiter, which we send at once so the following frame is clean.
            with contextlib.suppress(OSError):
                os.write(self._master, b"\x00")
            return False
        return True


class TcpPort(Port):
    """A board on a loopback TCP port (0 picks a free one, kept across outages)."""

    def __init__(self, receive: Receive, *, port: int = 0) -> None:
        super().__init__(receive)
        self.port = port
        self._server: asyncio.Server | None = None
        self._client: asyncio.Transport | None = None

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _TcpClient(self), "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self.opened.set()

    def _connected(self, transport: asyncio.Transport) -> None:
        if self._client is not None:
            self._client.close()
        self._client = transport

    def _lost(self, transport: asyncio.Transport) -> None:
        if self._client is transport:
            self._client = None

    def _shut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._client is not None:
            self._client.abort()
            self._client = None

    def write(self, data: bytes) -> bool:
        client = self._client
        if client is None or client.is_closing():
            return False
        if client.get_write_buffer_size() > TCP_BUFFER_LIMIT:
            return False
        client.write(data)
        return True


class _TcpClient(asyncio.Protocol):
    def __init__(self, port: TcpPort) -> None:
        self.port = port
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.port._connected(transport)

    def data_received(self, data: bytes) -> None:
        if self.port._client is self.transport:
            self.port.receive(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.port._lost(self.transport)


def held_path(fd: int, path: str) -> str:
    """A path to the open file ``fd`` (at ``path``) that lives as long as this process holds
    it: ``/proc/<pid>/fd/<fd>`` where there is a ``/proc``, else ``path``.

    A symlink to it dangles once the simulator is gone, even killed (SIGKILL removes no
    symlink), instead of pointing at a pty number the system may give to another program:
    a host reconnecting meanwhile would open that program's pty and read its bytes."""
    held = f"/proc/{os.getpid()}/fd/{fd}"
    return held if os.path.exists(held) else path


def point_symlink(link: Path, target: str) -> None:
    """Make ``link`` point at ``target`` atomically (a reader never sees it missing)."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)


def remove_symlink(link: Path, target: str) -> None:
    """Remove ``link`` if it still points at ``target`` (another sim may own it now)."""
    with contextlib.suppress(OSError):
        if os.readlink(link) == target:
            link.unlink()
