"""A minimal scripted device on a real pseudo-terminal, for tests of the link itself."""

from __future__ import annotations

import asyncio
import os
import tty
from collections.abc import Callable
from pathlib import Path

from hal.framing import FrameDecoder, encode_frame
from hal.message import Message

Handler = Callable[[Message], list[Message]]


class PtyDevice:
    """Answers each request frame with whatever ``handler`` returns, on a fresh pty.

    ``link_path`` (optional) is kept pointing at the current pty, like a udev symlink.
    """

    def __init__(self, handler: Handler, *, link_path: Path | None = None) -> None:
        self.handler = handler
        self.link_path = link_path
        self.received: list[Message] = []
        self.request_seen = asyncio.Event()
        self._decoder = FrameDecoder()
        self._master = -1
        self._slave = -1
        self.path = ""

    def open(self) -> str:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        asyncio.get_running_loop().add_reader(self._master, self._readable)
        if self.link_path is not None:
            tmp = self.link_path.with_suffix(".tmp")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(self.path)
            os.replace(tmp, self.link_path)
        return self.path

    def close(self) -> None:
        if self._master >= 0:
            asyncio.get_running_loop().remove_reader(self._master)
            os.close(self._master)
            os.close(self._slave)
            self._master = self._slave = -1

    def send(self, message: Message) -> None:
        os.write(self._master, encode_frame(message.encode()))

    def send_raw(self, data: bytes) -> None:
        os.write(self._master, data)

    def _readable(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except OSError:
            return
        for payload in self._decoder.feed(data):
            message = Message.decode(payload)
            self.received.append(message)
            self.request_seen.set()
            for reply in self.handler(message):
                self.send(reply)
