"""A still camera, configured by URL like a serial port: ``/dev/videoN`` or ``socket://HOST:PORT``.

::

    async with open_camera("socket://127.0.0.1:7010") as camera:
        image = await camera.capture(purpose="site")   # CapturedImage (PNG or JPEG bytes)

* A path (``/dev/video0``, ``/dev/v4l/by-id/...``) is a V4L2 capture device read through
  ``linuxpy`` (imported only then): one MJPG frame, a JPEG file (:mod:`hal.camera_v4l2`).
* ``socket://HOST:PORT`` is a camera server speaking the protocol below (the simulator's).

:func:`open_camera` raises :class:`CameraError` at once for a URL that is neither; it opens
nothing. Every other failure (no device, no server, a timeout, a bad answer) is raised by
:meth:`Camera.capture` as a :class:`CameraError` naming the device and why, and the next
capture tries again from scratch (a dropped connection is made again).

Socket protocol (docs/camera.md): the client sends ``{"capture":"<purpose>"}\\n``; the server
answers ``{"media_type":"image/png","width":640,"height":480,"bytes":N}\\n`` and exactly N
bytes of the file, or ``{"error":"<text>"}\\n``. One connection carries many captures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from hal.errors import HalError

#: A header line (its newline included) is at most this long.
MAX_HEADER = 4096
#: An image is at most this many bytes.
MAX_IMAGE = 8 * 1024 * 1024
#: What an image's media type says about its file: suffix and the bytes it starts with.
MEDIA_TYPES = {"image/png": (".png", b"\x89PNG\r\n\x1a\n"), "image/jpeg": (".jpg", b"\xff\xd8")}
#: A purpose: a word that may be part of a file name (``site``, ``scoop``, ``hopper``...).
PURPOSE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
MAX_SIDE = 65535


@dataclass(frozen=True)
class CapturedImage:
    """One photograph: the encoded file and what it is."""

    data: bytes
    media_type: str
    width: int
    height: int
    suffix: str


class CameraError(HalError):
    """A camera that could not deliver an image; ``url`` is the device, ``reason`` why."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"camera {url!r}: {reason}")
        self.url = url
        self.reason = reason


class Camera(Protocol):
    url: str

    async def capture(self, *, purpose: str, timeout_s: float = 5.0) -> CapturedImage: ...


@dataclass(frozen=True)
class ImageHeader:
    """A server's header line: the image that follows it."""

    media_type: str
    width: int
    height: int
    size: int


def parse_header(url: str, line: bytes) -> ImageHeader:
    """The header line ``line`` (newline optional); CameraError naming what is wrong,
    or the server's own text when it is an error line."""
    try:
        header = json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise CameraError(url, f"bad answer from the camera server: {_shown(line)}") from None
    if not isinstance(header, dict):
        raise CameraError(url, f"bad answer from the camera server: {_shown(line)}")
    if "error" in header:
        text = header["error"]
        raise CameraError(url, f"camera server: {text if isinstance(text, str) else _shown(line)}")
    media_type = header.get("media_type")
    if not isinstance(media_type, str) or media_type not in MEDIA_TYPES:
        raise CameraError(url, f"media_type: must be image/png or image/jpeg, got {media_type!r}")
    width = _count(url, header, "width", MAX_SIDE)
    height = _count(url, header, "height", MAX_SIDE)
    size = _count(url, header, "bytes", MAX_IMAGE)
    return ImageHeader(str(media_type), width, height, size)


def _count(url: str, header: dict[str, object], key: str, most: int) -> int:
    value = header.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise CameraError(url, f"{key}: must be an integer 1..{most}, got {value!r}")
    return value


def _shown(line: bytes) -> str:
    text = line.decode("utf-8", "replace").strip()
    return repr(text if len(text) <= 80 else text[:77] + "...")


def make_image(url: str, header: ImageHeader, data: bytes) -> CapturedImage:
    """The image of ``header`` with file ``data``; CameraError when the bytes are not it."""
    suffix, magic = MEDIA_TYPES[header.media_type]
    if not data.startswith(magic):
        raise CameraError(url, f"the {len(data)} bytes received are not a {header.media_type}")
    return CapturedImage(data, header.media_type, header.width, header.height, suffix)


def check_purpose(url: str, purpose: object) -> str:
    if not isinstance(purpose, str) or not PURPOSE.fullmatch(purpose):
        rule = "1..32 of A-Z a-z 0-9 _ . - (a letter or digit first)"
        raise CameraError(url, f"purpose: must be {rule}, got {purpose!r}")
    return purpose


def check_timeout(url: str, timeout_s: object) -> float:
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float):
        raise CameraError(url, f"timeout_s: must be a number > 0, got {timeout_s!r}")
    if not 0 < timeout_s < float("inf"):
        raise CameraError(url, f"timeout_s: must be a number > 0, got {timeout_s!r}")
    return float(timeout_s)


class SocketCamera:
    """A camera server on TCP: one connection, kept between captures, made again after a drop."""

    def __init__(self, url: str, host: str, port: int) -> None:
        self.url = url
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()

    async def capture(self, *, purpose: str, timeout_s: float = 5.0) -> CapturedImage:
        check_purpose(self.url, purpose)
        timeout_s = check_timeout(self.url, timeout_s)
        request = json.dumps({"capture": purpose}, separators=(",", ":")).encode() + b"\n"
        async with self._lock:
            try:
                async with asyncio.timeout(timeout_s):
                    return await self._exchange(request)
            except TimeoutError:
                await self.close()
                raise CameraError(self.url, f"no image within {timeout_s:g} s") from None
            except CameraError:
                raise
            except (OSError, asyncio.IncompleteReadError) as exc:
                await self.close()
                raise CameraError(self.url, _why(exc)) from None
            except asyncio.CancelledError:
                self._drop()  # cancelled mid-answer: the rest of it must not meet the next request
                raise

    async def _exchange(self, request: bytes) -> CapturedImage:
        reused = self._writer is not None
        try:
            return await self._once(request)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            # A kept connection the server dropped since (it restarted): make it again once.
            if not reused or (isinstance(exc, asyncio.IncompleteReadError) and exc.partial):
                raise
            await self.close()
            return await self._once(request)

    async def _once(self, request: bytes) -> CapturedImage:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(
                self.host, self.port, limit=MAX_HEADER
            )
        reader, writer = self._reader, self._writer
        assert reader is not None
        writer.write(request)
        await writer.drain()
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.LimitOverrunError:
            await self.close()
            raise CameraError(self.url, f"header line longer than {MAX_HEADER} bytes") from None
        try:
            header = parse_header(self.url, line)
        except CameraError as exc:
            if not exc.reason.startswith("camera server: "):
                await self.close()  # what follows a bad header cannot be found again
            raise
        data = await reader.readexactly(header.size)
        return make_image(self.url, header, data)

    def _drop(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()

    async def close(self) -> None:
        writer = self._writer
        self._drop()
        if writer is not None:
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def _why(exc: BaseException) -> str:
    if isinstance(exc, asyncio.IncompleteReadError):
        got = len(exc.partial)
        return f"connection closed by the camera server after {got} of {exc.expected} bytes"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the camera server running?)"
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return (text or type(exc).__name__).split("\n")[0]


def parse_url(url: object) -> tuple[str, int] | None:
    """``(host, port)`` of a ``socket://`` URL, None for a device path; CameraError otherwise."""
    if not isinstance(url, str) or not url:
        raise CameraError(str(url), "must be a device path (/dev/video0) or socket://HOST:PORT")
    if url.startswith("/"):
        return None
    expected = "must be a device path (/dev/video0) or socket://HOST:PORT"
    if not url.startswith("socket://"):
        raise CameraError(url, expected)
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise CameraError(url, f"{expected}: {exc}") from None
    if not host or port is None or port == 0 or parts.path or parts.query or parts.fragment:
        raise CameraError(url, expected)
    return host, port


def open_camera(
    url: str, *, width: int = 640, height: int = 480
) -> AbstractAsyncContextManager[Camera]:
    """The camera at ``url``, for ``async with``; CameraError at once for a bad URL or size.
    ``width`` x ``height`` is asked of a V4L2 device (a server renders its own size)."""
    address = parse_url(url)
    for name, side in (("width", width), ("height", height)):
        if isinstance(side, bool) or not isinstance(side, int) or not 1 <= side <= MAX_SIDE:
            raise CameraError(url, f"{name}: must be an integer 1..{MAX_SIDE}, got {side!r}")
    return _opened(url, address, width, height)


@contextlib.asynccontextmanager
async def _opened(
    url: str, address: tuple[str, int] | None, width: int, height: int
) -> AsyncIterator[Camera]:
    if address is None:
        from hal.camera_v4l2 import V4l2Camera

        yield V4l2Camera(url, width, height)
        return
    camera = SocketCamera(url, *address)
    try:
        yield camera
    finally:
        await camera.close()
