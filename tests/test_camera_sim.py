"""The simulated camera: the renderer (sim/camera.py), its server (sim/camera_server.py) on
real loopback sockets, and ``isru sim --camera-port`` photographed through hal.open_camera."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import io
import subprocess
import sys
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from hal import CapturedImage, ScoopDriver, ScoopState, SerialLink, open_camera
from isru.sim_child import SimChild
from sim import ManualClock, SimBoards
from sim.camera import Scene, render_png, scene_of, stamp
from sim.camera_server import CameraServer
from sim.scoop_arm import sample_mass_g

ROOT = Path(__file__).resolve().parent.parent
#: The caption band at the top of every image; the drawing is below it.
CAPTION_PX = 93
HOME = Scene(
    purpose="site",
    vehicle="moon-1",
    t_s=12.0,
    boom_deg=0.0,
    scoop_deg=0.0,
    tool_depth_mm=0.0,
    scoop_load_g=0.0,
    hopper_g=0.0,
    lid_open=False,
    ground_g=0.0,
)


def picture(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def changed_box(a: bytes, b: bytes) -> tuple[int, int, int, int] | None:
    """The box of the pixels that differ between two PNG files (None: identical)."""
    return ImageChops.difference(picture(a).convert("RGB"), picture(b).convert("RGB")).getbbox()


@pytest.mark.req("SIM-17")
def test_render_png_same_scene_gives_the_same_bytes() -> None:
    first, second = render_png(HOME), render_png(dataclasses.replace(HOME))
    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()
    image = picture(first)
    assert (image.format, image.size) == ("PNG", (640, 480))


@pytest.mark.parametrize(
    "change",
    [
        {"boom_deg": 10.0},
        {"scoop_deg": 90.0},
        {"scoop_load_g": 92.3},
        {"hopper_g": 150.0},
        {"lid_open": True},
        {"tool_depth_mm": 30.0},
        {"ground_g": 40.0},
    ],
)
def test_render_png_what_the_simulator_knows_changes_the_drawing(change: dict[str, object]) -> None:
    box = changed_box(render_png(HOME), render_png(dataclasses.replace(HOME, **change)))  # type: ignore[arg-type]
    assert box is not None
    assert box[3] > CAPTION_PX, f"{change} changed only the caption: {box}"


@pytest.mark.parametrize("change", [{"purpose": "hopper"}, {"vehicle": "moon-2"}, {"t_s": 13.0}])
def test_render_png_caption_shows_purpose_vehicle_and_time(change: dict[str, object]) -> None:
    assert (
        changed_box(render_png(HOME), render_png(dataclasses.replace(HOME, **change))) is not None
    )  # type: ignore[arg-type]


def test_render_png_size_is_the_one_asked() -> None:
    assert picture(render_png(HOME, 320, 240)).size == (320, 240)


def test_stamp_counts_hours_minutes_seconds_and_tenths() -> None:
    assert stamp(0.0) == "T+00:00:00.0"
    assert stamp(3723.46) == "T+01:02:03.5"


@pytest.fixture
async def camera_server() -> AsyncIterator[CameraServer]:
    server = CameraServer(lambda purpose: dataclasses.replace(HOME, purpose=purpose))
    await server.start()
    yield server
    await server.close()


@pytest.mark.req("SIM-17")
@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b"snap\n", "not JSON"),
        (b"[1]\n", "not a capture request"),
        (b'{"capture":"site","flash":true}\n', "flash: a capture request takes no other key"),
        (b'{"capture":"../x"}\n', "capture: the purpose must be 1..32 of"),
        (b'{"capture":7}\n', "got 7"),
        (b"[" * 3000 + b"\n", "not JSON"),
        (b"x" * 5000 + b"\n", "line longer than 4096 bytes"),
    ],
)
async def test_camera_server_bad_request_gets_an_error_line_and_the_connection_stays(
    camera_server: CameraServer, line: bytes, error: str
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", camera_server.port)
    try:
        writer.write(line + b'{"capture":"site"}\n')
        reply = await asyncio.wait_for(reader.readline(), 5)
        assert reply.startswith(b'{"error":"') and error.encode() in reply
        header = await asyncio.wait_for(reader.readline(), 5)
        assert header.startswith(b'{"media_type":"image/png","width":640,"height":480,"bytes":')
    finally:
        writer.close()
    assert camera_server.captures == 1


async def test_camera_server_capture_through_open_camera_is_the_render(
    camera_server: CameraServer,
) -> None:
    async with open_camera(camera_server.url) as camera:
        image = await camera.capture(purpose="hopper")
    assert image == CapturedImage(
        render_png(dataclasses.replace(HOME, purpose="hopper")), "image/png", 640, 480, ".png"
    )


async def test_camera_server_restarted_on_its_port_is_reached_again() -> None:
    first = CameraServer(lambda purpose: HOME)
    await first.start()
    async with open_camera(first.url) as camera:
        await camera.capture(purpose="site")
        await first.close()
        second = CameraServer(lambda purpose: HOME, port=first.port)
        await second.start()
        try:
            assert (await camera.capture(purpose="site")).width == 640
        finally:
            await second.close()


async def until_idle(scoop: ScoopDriver, clock: ManualClock) -> None:
    for _ in range(120):
        await clock.advance(1.0)
        if (await scoop.get_status()).state is ScoopState.IDLE:
            return
    raise AssertionError(f"scoop not idle: {scoop.latest}")


@pytest.mark.req("SIM-17")
async def test_camera_sim_images_follow_the_scoop_through_a_dig() -> None:
    clock = ManualClock()
    sim = SimBoards(clock=clock, host_timeout_s=None)
    server = CameraServer(partial(scene_of, sim, vehicle="moon-1"))
    await server.start()
    try:
        async with (
            sim,
            SerialLink(url=sim.urls["scoop"], timeout_s=0.1, retries=5) as link,
            open_camera(server.url) as camera,
        ):
            scoop = ScoopDriver(link)
            await scoop.home()
            await until_idle(scoop, clock)
            before = await camera.capture(purpose="site")
            await scoop.dig(depth_mm=30)
            await until_idle(scoop, clock)
            after = await camera.capture(purpose="scoop")
            scene = scene_of(sim, "scoop", "moon-1")
    finally:
        await server.close()
    box = changed_box(before.data, after.data)
    assert box is not None and box[3] > CAPTION_PX
    assert scene.scoop_load_g == pytest.approx(sample_mass_g(30.0))
    assert after.data == render_png(scene)  # nothing else went into the picture


@pytest.mark.req("SIM-17")
async def test_sim_process_announces_its_camera_and_serves_pngs() -> None:
    async with SimChild(args=["--tcp", "--camera-port", "0", "--vehicle", "moon-1"]) as sim:
        assert sim.camera is not None and sim.camera.startswith("socket://127.0.0.1:")
        assert "camera" not in sim.urls
        async with open_camera(sim.camera) as camera:
            image = await camera.capture(purpose="site")
    assert picture(image.data).size == (640, 480)


async def test_sim_process_without_camera_port_has_no_camera() -> None:
    async with SimChild(args=["--tcp"]) as sim:
        assert sim.camera is None


@pytest.mark.parametrize(
    ("args", "flag"),
    [(["--camera-port", "70000"], "--camera-port"), (["--vehicle", "a b"], "--vehicle")],
)
def test_sim_cli_bad_camera_argument_exits_2_naming_the_flag(args: list[str], flag: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sim", *args], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert flag in result.stderr and len(result.stderr.strip().splitlines()) == 1
