"""Hostile commands against the flight's sample custody, as a stranger with a broker account
that may publish commands would send them: a flood of CAMERA.CAPTURE (the job queue and the
board's disk stay bounded), names that try to leave the images directory, a transfer the
format refuses, and a flood of the same CAMERA.SEND (the downlink's queue stays bounded)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from flight.config.samples import CameraConfig
from flight.dispatcher import Reason, Stage
from flight.mqtt.custody_link import MAX_QUEUED_IMAGES, CustodyLink
from flight.mqtt.outbox import Outbox
from flight.sample_jobs import MAX_COMMAND_JOBS
from hal import CameraError, open_camera
from tests.custody_feed import WAIT_S, image
from tests.test_custody_link import offline  # noqa: F401  (the fixture)
from tests.test_flight_samples import _dig, _entry, _fail, custody_stack


async def test_camera_capture_flood_is_refused_busy_beyond_the_job_limit(
    tmp_path: Path,
) -> None:
    async with custody_stack(tmp_path) as stack:
        await stack.event("CUSTODY_OPENED")
        gate, started = asyncio.Event(), asyncio.Event()

        async def held(purpose: str, sample: str | None) -> None:
            started.set()
            await gate.wait()

        stack.app.samples.camera.capture = held  # type: ignore[method-assign,assignment]
        first = asyncio.create_task(stack.send("CAMERA.CAPTURE", purpose="flood", sample="none"))
        await started.wait()  # the worker holds the first job; the rest queue behind it
        sends = [
            asyncio.create_task(stack.send("CAMERA.CAPTURE", purpose="flood", sample="none"))
            for _ in range(MAX_COMMAND_JOBS + 5)
        ]
        busy: list[asyncio.Task[Any]] = []
        async with asyncio.timeout(WAIT_S):  # the 5 beyond the bound are refused at once
            while len(busy) < 5:
                done, _ = await asyncio.wait(sends, return_when=asyncio.FIRST_COMPLETED)
                busy = [task for task in done if task.result()[-1].stage is Stage.FAILED]
        for task in busy:
            last = task.result()[-1]
            assert last.reason is Reason.BUSY
            assert last.detail == (
                f"custody busy: {MAX_COMMAND_JOBS} jobs wait (at most {MAX_COMMAND_JOBS} for a "
                "command): not run, send it again later"
            )
        gate.set()
        results = await asyncio.gather(first, *sends)
        stages = [acks[-1].stage for acks in results]
        assert stages.count(Stage.COMPLETED) == MAX_COMMAND_JOBS + 1
        assert stages.count(Stage.FAILED) == 5
        await stack.ok("CORE.NOOP")


async def test_camera_keeper_image_that_would_leave_too_little_free_space_is_not_stored(
    tmp_path: Path,
) -> None:
    async with custody_stack(tmp_path) as stack:
        await stack.event("CUSTODY_OPENED")
        camera = stack.app.samples.camera
        camera.settings = camera.settings.model_copy(update={"min_free_mb": 1_000_000})
        reason, detail = await _fail(stack, "CAMERA.CAPTURE", purpose="flood", sample="none")
        assert reason is Reason.DEVICE_FAULT
        assert detail.startswith(f"images_dir {tmp_path / 'state' / 'images'}: ")
        assert "less than the 1000000 MiB [camera] min_free_mb keeps free" in detail
        assert detail.endswith("-byte image: not stored")
        assert list((tmp_path / "state" / "images").iterdir()) == []
        camera.settings = camera.settings.model_copy(update={"min_free_mb": 0})
        await stack.ok("CAMERA.CAPTURE", purpose="again", sample="none")


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "../outside-x-1.png",
        "..-..-passwd",
        "/etc/passwd-a-1",
        "a-b-1.png\x00",
        "ünï-a-1.png",
        "unassigned-flood-1.png/..",
    ],
)
async def test_camera_send_name_outside_the_images_dir_is_refused(
    tmp_path: Path, name: str
) -> None:
    async with custody_stack(tmp_path) as stack:
        (tmp_path / "state" / "outside-x-1.png").write_bytes(b"secret")
        reason, detail = await _fail(stack, "CAMERA.SEND", name=name, first_chunk=0, last_chunk=-1)
        assert (reason, detail) == (
            Reason.INVALID_ARGUMENT,
            f"image {name!r}: not an image name (see IMAGE_STORED)",
        )


async def test_sample_transfer_to_an_empty_buyer_names_the_field(tmp_path: Path) -> None:
    async with custody_stack(tmp_path) as stack:
        await _dig(stack, 30.0)
        await stack.ok("SCOOP.WEIGH")
        await _entry(stack, "MEASURED")
        reason, detail = await _fail(
            stack, "SAMPLE.TRANSFER", sample="scoop", buyer="", contract="C-1"
        )
        assert (reason, detail) == (
            Reason.INVALID_ARGUMENT,
            "buyer: String should have at least 1 character",
        )
        kinds = [e.entry.kind.value for e in stack.app.samples.keeper.entries]
        assert "TRANSFERRED" not in kinds


def _meta(path: Path, data: bytes) -> dict[str, Any]:
    return {
        "name": path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "media_type": "image/png",
        "purpose": "site",
        "sample": None,
    }


async def test_custody_link_same_camera_send_again_is_sent_once(
    tmp_path: Path,
    offline: tuple[CustodyLink, Outbox],  # noqa: F811
) -> None:
    link, outbox = offline
    data = image(3, 2 * 49152 + 7)
    path = tmp_path / "a-site-1.png"
    path.write_bytes(data)
    for _ in range(500):  # a flood of the same CAMERA.SEND while the first still waits
        link.publish_image(path, _meta(path, data), range(1, 3))
    await link.idle()
    assert [json.loads(row.payload)["chunk"] for row in outbox.peek(100)] == [1, 2]


async def test_custody_link_images_waiting_beyond_the_bound_are_refused(
    tmp_path: Path,
    offline: tuple[CustodyLink, Outbox],  # noqa: F811
) -> None:
    link, outbox = offline
    paths = []
    for n in range(MAX_QUEUED_IMAGES + 1):
        path = tmp_path / f"a-site-{n}.png"
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes([n]))
        paths.append(path)
    for path in paths[:-1]:
        link.publish_image(path, _meta(path, path.read_bytes()))
    with pytest.raises(ValueError, match=f"^{MAX_QUEUED_IMAGES} images already wait to go "):
        link.publish_image(paths[-1], _meta(paths[-1], paths[-1].read_bytes()))
    await link.idle()
    assert len(outbox.peek(1000)) == MAX_QUEUED_IMAGES
    link.publish_image(paths[-1], _meta(paths[-1], paths[-1].read_bytes()))  # room again
    await link.idle()
    assert len(outbox.peek(1000)) == MAX_QUEUED_IMAGES + 1


async def test_camera_server_sending_more_than_it_said_fails_the_next_capture_only() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(92)
    header = b'{"media_type":"image/png","width":1,"height":1,"bytes":100}\n'

    async def liar(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.readline():
            writer.write(header + png + b"surplus\n")  # 8 bytes more than it said
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(liar, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with open_camera(f"socket://127.0.0.1:{port}") as camera:
            first = await camera.capture(purpose="site", timeout_s=WAIT_S)
            assert first.data == png
            with pytest.raises(CameraError, match="bad answer from the camera server: 'surplus'"):
                await camera.capture(purpose="site", timeout_s=WAIT_S)
            assert (await camera.capture(purpose="site", timeout_s=WAIT_S)).data == png
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("socket://127.0.0.1:70000", "Port out of range"),
        ("socket://:80", "must be a device path (/dev/video0) or socket://HOST:PORT"),
        ("socket://127.0.0.1:0", "must be a device path (/dev/video0) or socket://HOST:PORT"),
    ],
)
def test_camera_config_url_the_hal_refuses_is_refused_at_boot(url: str, why: str) -> None:
    with pytest.raises(ValidationError, match=r"^1 validation error for CameraConfig") as caught:
        CameraConfig(url=url)
    assert why in str(caught.value) and repr(url) in str(caught.value)
