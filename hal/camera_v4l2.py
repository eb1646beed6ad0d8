"""A V4L2 capture device (a USB UVC camera, a Raspberry Pi camera on a driver that encodes
JPEG...) read with ``linuxpy``: one MJPG (or JPEG) frame per capture, kept as a JPEG file.
A device that offers neither is refused by name, with the formats it does offer.

The device is opened for each capture and closed after it: between photographs another
program may use the camera, and a camera unplugged and plugged again works at the next one.
``linuxpy`` is imported at the first capture, so a host without it runs until it photographs.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hal.camera import MAX_IMAGE, CameraError, CapturedImage, check_purpose, check_timeout

#: The pixel formats whose frames are JPEG files, by preference: V4L2's fourcc, linuxpy's name.
JPEG_FORMATS = (("MJPG", "MJPEG"), ("JPEG", "JPEG"))
#: Frames dropped after streaming starts: a UVC camera's first frames are often dark or torn.
WARMUP_FRAMES = 2


class V4l2Camera:
    """The V4L2 device at path ``url``, asked for ``width`` x ``height`` MJPG frames."""

    def __init__(self, url: str, width: int, height: int) -> None:
        self.url = url
        self.width = width
        self.height = height
        self._lock = asyncio.Lock()

    async def capture(self, *, purpose: str, timeout_s: float = 5.0) -> CapturedImage:
        check_purpose(self.url, purpose)
        timeout_s = check_timeout(self.url, timeout_s)
        video = _linuxpy(self.url)
        async with self._lock:
            try:
                async with asyncio.timeout(timeout_s):
                    return await self._grab(video)
            except TimeoutError:
                raise CameraError(self.url, f"no frame within {timeout_s:g} s") from None
            except CameraError:
                raise
            except Exception as exc:  # linuxpy raises OSError, V4L2Error, ValueError...
                raise CameraError(self.url, _why(exc)) from None

    async def _grab(self, video: Any) -> CapturedImage:
        with video.Device(self.url) as device:
            formats = {fmt.pixel_format for fmt in device.info.formats}
            fourcc = next(
                (
                    f
                    for f, name in JPEG_FORMATS
                    if getattr(video.PixelFormat, name, None) in formats
                ),
                None,
            )
            if fourcc is None:
                offered = ", ".join(sorted(_fourcc(f) for f in formats)) or "none"
                raise CameraError(self.url, f"offers no MJPG or JPEG frames (offers {offered})")
            capture = video.VideoCapture(device)
            capture.set_format(self.width, self.height, fourcc)
            fmt = capture.get_format()
            with capture:
                seen = 0
                async for frame in capture:
                    seen += 1
                    if seen > WARMUP_FRAMES:
                        return _image(self.url, bytes(frame), int(fmt.width), int(fmt.height))
        raise CameraError(self.url, "the stream ended before a frame")


def _image(url: str, data: bytes, width: int, height: int) -> CapturedImage:
    if len(data) > MAX_IMAGE:
        raise CameraError(url, f"frame of {len(data)} bytes is over {MAX_IMAGE}")
    if not data.startswith(b"\xff\xd8"):
        raise CameraError(url, "the MJPG frame is not a JPEG")
    return CapturedImage(data, "image/jpeg", width, height, ".jpg")


def _linuxpy(url: str) -> Any:
    """The ``linuxpy.video.device`` module; CameraError naming it when it is not installed."""
    try:
        from linuxpy.video import device  # type: ignore[import-untyped]
    except ImportError:
        raise CameraError(url, "linuxpy is not installed (pip install linuxpy)") from None
    return device


def _fourcc(pixel_format: object) -> str:
    return str(getattr(pixel_format, "name", pixel_format))


def _why(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such device (is the camera plugged in?)"
    if isinstance(exc, PermissionError):
        return "permission denied (is the user in group video?)"
    if isinstance(exc, OSError) and exc.errno == 16:
        return "device busy (another program is using the camera)"
    if isinstance(exc, OSError) and exc.errno == 25:
        return "not a V4L2 capture device"
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return (text or type(exc).__name__).split("\n")[0]
