"""The HAL's camera client (hal/camera.py, hal/camera_v4l2.py) against camera servers on real
loopback TCP sockets, and its V4L2 path without a camera (CI has none)."""

from __future__ import annotations

import asyncio
import enum
import io
import json
import re
import sys
import types
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from PIL import Image

from hal import CameraError, open_camera
from hal.camera import MAX_IMAGE, parse_header

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def png(colour: tuple[int, int, int] = (10, 200, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), colour).save(out, format="PNG")
    return out.getvalue()


def answer(data: bytes, **header: object) -> bytes:
    fields = {"media_type": "image/png", "width": 8, "height": 6, "bytes": len(data), **header}
    return json.dumps(fields).encode() + b"\n" + data


@asynccontextmanager
async def server(handler: Handler) -> AsyncIterator[str]:
    """A camera server on 127.0.0.1 running ``handler`` per connection; yields its URL."""
    srv = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield f"socket://127.0.0.1:{srv.sockets[0].getsockname()[1]}"
    finally:
        srv.close()


def replying(*replies: bytes, close_after: bool = False) -> tuple[Handler, list[bytes]]:
    """A handler answering the n-th request with ``replies[n]`` (the last one again after),
    closing the connection after each answer with ``close_after``; and the requests seen."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            seen.append(line)
            writer.write(replies[min(len(seen), len(replies)) - 1])
            await writer.drain()
            if close_after:
                break
        writer.close()

    return handle, seen


@pytest.mark.req("HAL-12")
async def test_open_camera_socket_capture_returns_the_servers_png() -> None:
    handler, seen = replying(answer(png()))
    async with server(handler) as url, open_camera(url) as camera:
        image = await camera.capture(purpose="site")
        again = await camera.capture(purpose="scoop")
    assert seen == [b'{"capture":"site"}\n', b'{"capture":"scoop"}\n']
    assert (image.media_type, image.width, image.height, image.suffix) == (
        "image/png",
        8,
        6,
        ".png",
    )
    assert Image.open(io.BytesIO(image.data)).getpixel((0, 0)) == (10, 200, 30)
    assert again == image
    assert camera.url == url


@pytest.mark.req("HAL-12")
@pytest.mark.parametrize(
    "url",
    [
        "",
        "video0",
        "http://127.0.0.1:80",
        "socket://127.0.0.1",
        "socket://:7000",
        "socket://127.0.0.1:99999",
        "socket://127.0.0.1:0",
        "socket://127.0.0.1:7000/x",
    ],
)
def test_open_camera_bad_url_names_the_url(url: str) -> None:
    with pytest.raises(CameraError, match=r"must be a device path \(/dev/video0\) or socket://"):
        open_camera(url)


def test_open_camera_bad_size_names_it() -> None:
    with pytest.raises(CameraError, match=r"width: must be an integer 1\.\.65535, got 0"):
        open_camera("/dev/video0", width=0)


async def test_capture_bad_purpose_names_it() -> None:
    async with open_camera("socket://127.0.0.1:9") as camera:
        with pytest.raises(CameraError, match=r"purpose: must be 1\.\.32 of .* got 'a b'"):
            await camera.capture(purpose="a b")


@pytest.mark.req("HAL-12")
async def test_capture_server_error_line_becomes_camera_error_and_connection_stays() -> None:
    handler, seen = replying(b'{"error":"lens cap on"}\n', answer(png()))
    async with server(handler) as url, open_camera(url) as camera:
        with pytest.raises(CameraError, match="camera server: lens cap on") as caught:
            await camera.capture(purpose="site")
        assert caught.value.url == url
        assert (await camera.capture(purpose="site")).width == 8
    assert len(seen) == 2


@pytest.mark.req("HAL-12")
async def test_capture_oversize_image_is_refused() -> None:
    handler, _ = replying(answer(b"", bytes=MAX_IMAGE + 1))
    async with server(handler) as url, open_camera(url) as camera:
        with pytest.raises(
            CameraError, match=r"bytes: must be an integer 1\.\.8388608, got 8388609"
        ):
            await camera.capture(purpose="site")


async def test_capture_header_line_over_4_kib_is_refused() -> None:
    handler, _ = replying(b"{" + b" " * 5000 + b"}\n")
    async with server(handler) as url, open_camera(url) as camera:
        with pytest.raises(CameraError, match="header line longer than 4096 bytes"):
            await camera.capture(purpose="site")


async def test_capture_bytes_that_are_not_the_media_type_are_refused() -> None:
    handler, _ = replying(answer(b"GIF89a...", media_type="image/png"))
    async with server(handler) as url, open_camera(url) as camera:
        with pytest.raises(CameraError, match="the 9 bytes received are not a image/png"):
            await camera.capture(purpose="site")


@pytest.mark.req("HAL-12")
async def test_capture_silent_server_times_out_naming_the_device() -> None:
    handler, _ = replying(b"")  # reads the request, answers nothing
    async with server(handler) as url, open_camera(url) as camera:
        with pytest.raises(CameraError, match=rf"camera '{url}': no image within 0\.2 s"):
            await camera.capture(purpose="site", timeout_s=0.2)


async def test_capture_no_server_names_the_refusal() -> None:
    async with server(replying(b"")[0]) as url:
        pass  # closed: nothing listens on that port any more
    async with open_camera(url) as camera:
        with pytest.raises(CameraError, match=rf"camera '{url}': connection refused"):
            await camera.capture(purpose="site")


@pytest.mark.req("HAL-12")
async def test_capture_reconnects_after_the_server_drops_the_connection() -> None:
    handler, seen = replying(answer(png()), close_after=True)
    async with server(handler) as url, open_camera(url) as camera:
        for _ in range(3):
            assert (await camera.capture(purpose="hopper")).height == 6
    assert len(seen) == 3


async def test_capture_image_cut_short_is_an_error_then_the_next_capture_works() -> None:
    data = png()
    handler, _ = replying(answer(data)[:-5], answer(data), close_after=True)
    async with server(handler) as url, open_camera(url) as camera:
        with pytest.raises(
            CameraError, match=rf"closed by the camera server after \d+ of {len(data)}"
        ):
            await camera.capture(purpose="site")
        assert (await camera.capture(purpose="site")).data == data


async def test_capture_cancelled_mid_image_leaves_nothing_for_the_next_capture() -> None:
    data, sent = png(), asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = not sent.is_set()
        while await reader.readline():
            writer.write(answer(data)[: -10 if first else None])
            await writer.drain()
            sent.set()
        writer.close()

    async with server(handle) as url, open_camera(url) as camera:
        task = asyncio.create_task(camera.capture(purpose="site"))
        await asyncio.wait_for(sent.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await camera.capture(purpose="site")).data == data


@given(st.binary(max_size=300))
@example(b"[" * 4000)
def test_parse_header_arbitrary_bytes_raise_only_camera_error(line: bytes) -> None:
    try:
        header = parse_header("socket://h:1", line)
    except CameraError as exc:
        assert exc.url == "socket://h:1"
    else:
        assert 1 <= header.size <= MAX_IMAGE


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=8,
)
KEYS = st.sampled_from(["media_type", "width", "height", "bytes", "error"])


@given(st.dictionaries(KEYS, JSON | st.sampled_from(["image/png", "image/jpeg", 1, 640])))
def test_parse_header_arbitrary_json_objects_raise_only_camera_error(
    fields: dict[str, object],
) -> None:
    line = json.dumps(fields).encode()
    try:
        header = parse_header("socket://h:1", line)
    except CameraError:
        return
    assert header.media_type in ("image/png", "image/jpeg")
    assert min(header.width, header.height, header.size) >= 1


@pytest.mark.req("HAL-12")
async def test_v4l2_missing_device_names_it() -> None:
    async with open_camera("/dev/video97") as camera:
        with pytest.raises(CameraError, match=r"'/dev/video97': no such device"):
            await camera.capture(purpose="site")


async def test_v4l2_a_file_that_is_no_camera_names_it() -> None:
    async with open_camera("/dev/null") as camera:
        with pytest.raises(CameraError, match=r"'/dev/null': not a V4L2 capture device"):
            await camera.capture(purpose="site")


@pytest.mark.req("HAL-12")
async def test_v4l2_without_linuxpy_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "linuxpy.video", None)
    async with open_camera("/dev/video0") as camera:
        with pytest.raises(CameraError, match=r"'/dev/video0': linuxpy is not installed"):
            await camera.capture(purpose="site")


class FakeVideo:
    """What hal.camera_v4l2 uses of linuxpy.video.device, for a device offering ``formats``."""

    class PixelFormat(enum.Enum):
        MJPEG = 1
        YUYV = 2

    def __init__(self, formats: list[object], frames: list[bytes]) -> None:
        self.formats, self.frames = formats, frames
        self.asked: list[object] = []
        fake = self

        class Device:
            def __init__(self, path: str) -> None:
                self.info = types.SimpleNamespace(
                    formats=[types.SimpleNamespace(pixel_format=f) for f in fake.formats]
                )

            def __enter__(self) -> Device:
                return self

            def __exit__(self, *exc: object) -> None:
                pass

        class VideoCapture:
            def __init__(self, device: Device) -> None:
                pass

            def set_format(self, width: int, height: int, pixel_format: str) -> None:
                fake.asked.append((width, height, pixel_format))

            def get_format(self) -> types.SimpleNamespace:
                return types.SimpleNamespace(width=320, height=240)

            def __enter__(self) -> VideoCapture:
                return self

            def __exit__(self, *exc: object) -> None:
                pass

            async def __aiter__(self) -> AsyncIterator[bytes]:
                for frame in fake.frames:
                    yield frame

        self.Device, self.VideoCapture = Device, VideoCapture


def fake_linuxpy(monkeypatch: pytest.MonkeyPatch, video: FakeVideo) -> None:
    monkeypatch.setitem(sys.modules, "linuxpy.video", types.SimpleNamespace(device=video))


async def test_v4l2_device_without_mjpg_says_what_it_offers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_linuxpy(monkeypatch, FakeVideo([FakeVideo.PixelFormat.YUYV], []))
    async with open_camera("/dev/video0") as camera:
        with pytest.raises(CameraError, match=r"offers no MJPG or JPEG frames \(offers YUYV\)"):
            await camera.capture(purpose="site")


async def test_v4l2_capture_keeps_the_frame_after_the_warm_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frames = [b"\xff\xd8dark", b"\xff\xd8torn", b"\xff\xd8good", b"\xff\xd8late"]
    video = FakeVideo([FakeVideo.PixelFormat.MJPEG], frames)
    fake_linuxpy(monkeypatch, video)
    async with open_camera("/dev/video0", width=320, height=240) as camera:
        image = await camera.capture(purpose="site")
    assert (image.data, image.media_type, image.suffix) == (b"\xff\xd8good", "image/jpeg", ".jpg")
    assert (image.width, image.height) == (320, 240)
    assert video.asked == [(320, 240, "MJPG")]


def doc_hex_blocks() -> list[bytes]:
    """The byte dumps of docs/camera.md's worked example, in order."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "camera.md").read_text()
    hexes = re.findall(r"^((?:[0-9a-f]{2} )*[0-9a-f]{2})$", text, flags=re.MULTILINE)
    blocks, current = [], ""
    for line in text.splitlines():
        if line in hexes:
            current += line + " "
        elif current:
            blocks.append(bytes.fromhex(current))
            current = ""
    return blocks


async def test_camera_doc_worked_example_is_the_exchange_byte_for_byte() -> None:
    request, data = doc_hex_blocks()
    header = b'{"media_type":"image/png","width":1,"height":1,"bytes":69}\n'
    handler, seen = replying(header + data)
    async with server(handler) as url, open_camera(url) as camera:
        image = await camera.capture(purpose="site")
    assert seen == [request] and len(header) == 59 and len(data) == 69
    assert (image.data, image.width, image.height, image.suffix) == (data, 1, 1, ".png")
    assert picture_of(data).getpixel((0, 0)) == (255, 0, 0)


def picture_of(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))
