"""CAMERA.SEND of a range of chunks, against a real mosquitto: a ground that missed some of an
image's chunks is told the exact commands by ``isru samples images``, and the flight then
sends exactly those chunks, which complete the image in the archive."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import aiomqtt
import pytest

from flight.dispatcher import Reason, Stage
from flight.mqtt.custody_link import chunk_payload
from ground.archive import Archive
from ground.archive.images import resend_commands
from ground.console.parse import parse_command
from interface.catalog import DICTIONARY
from interface.topics import IMAGE_CHUNK_BYTES
from isru.broker import Mosquitto
from isru.samples_cli import main as samples
from tests.custody_feed import image, recording
from tests.test_custody_link import TOPICS, VEHICLE, Heard, linked, listening

NAME = "testbed-0001-site-1.png"
DATA = image(7, 4 * IMAGE_CHUNK_BYTES + 100)  # 5 chunks
META = {
    "name": NAME,
    "sha256": hashlib.sha256(DATA).hexdigest(),
    "bytes": len(DATA),
    "media_type": "image/png",
    "purpose": "site",
    "sample": "testbed-0001",
}


def _payload(chunk: int) -> bytes:
    part = DATA[chunk * IMAGE_CHUNK_BYTES : (chunk + 1) * IMAGE_CHUNK_BYTES]
    return chunk_payload(META, chunk, part)


def _chunks(heard: Heard) -> list[int]:
    return [json.loads(payload)["chunk"] for payload in heard.on(TOPICS.image(NAME))]


async def test_custody_resend_ground_missing_chunks_2_to_3_gets_exactly_those(
    tmp_path: Path, mosquitto: Mosquitto, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "archive.db"
    heard = Heard()
    async with (
        linked(tmp_path, mosquitto) as (stack, uplink),
        recording(mosquitto, archive, VEHICLE) as rec,
        listening(mosquitto, heard),
        aiomqtt.Client(mosquitto.host, mosquitto.port) as first_delivery,
    ):
        stack.app.attach_custody(uplink.custody)  # as flight/service.py does
        images = tmp_path / "flight" / "images"
        images.mkdir(parents=True)
        (images / NAME).write_bytes(DATA)
        for chunk in (0, 1, 4):  # chunks 2 and 3 lost on the way
            await first_delivery.publish(TOPICS.image(NAME), _payload(chunk), qos=1)
        await rec.until(lambda: rec.counts.get("chunks") == 3)
        await heard.until(lambda: len(_chunks(heard)) == 3)

        assert samples(["images", "--archive", str(archive)]) == 1
        out = capsys.readouterr().out
        (line,) = [row for row in out.splitlines() if row.startswith(NAME)]
        assert "waiting: chunks 2-3 of 5 missing: " in line
        commands = re.findall(r"CAMERA\.SEND [^;]+", line)
        assert commands == [f"CAMERA.SEND name={NAME} first_chunk=2 last_chunk=3"]

        parsed = parse_command(commands[0], DICTIONARY)
        await stack.ok(parsed.name, **parsed.args)
        await rec.until(lambda: rec.counts.get("images") == 1)
        await heard.until(lambda: len(_chunks(heard)) >= 5)
        assert _chunks(heard)[3:] == [2, 3]

    assert samples(["images", "--archive", str(archive)]) == 0
    assert "kept: " in capsys.readouterr().out
    with Archive(archive, create=False) as kept:
        (state,) = kept.custody.images(VEHICLE)
    assert state.file is not None and state.file.read_bytes() == DATA


async def test_custody_resend_chunks_the_image_does_not_have_are_refused(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    async with linked(tmp_path, mosquitto) as (stack, _):
        images = tmp_path / "flight" / "images"
        images.mkdir(parents=True)
        (images / NAME).write_bytes(DATA)
        for first, last, why in [
            (5, -1, f"image {NAME} has 5 chunks (0 to 4): no chunks 5 to -1"),
            (0, 5, f"image {NAME} has 5 chunks (0 to 4): no chunks 0 to 5"),
            (3, 2, "last_chunk 2 is before first_chunk 3"),
        ]:
            acks = await stack.send("CAMERA.SEND", name=NAME, first_chunk=first, last_chunk=last)
            assert acks[-1].stage is Stage.FAILED
            assert (acks[-1].reason, acks[-1].detail) == (Reason.INVALID_ARGUMENT, why)
        acks = await stack.send("CAMERA.SEND", name=NAME, first_chunk=0, last_chunk=-2)
        assert acks[-1].reason is Reason.INVALID_ARGUMENT and "last_chunk" in acks[-1].detail


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        ([2, 3], [(2, 3)]),
        ([0, 4, 5, 9], [(0, 0), (4, 5), (9, 9)]),
        ([1, 3, 5, 7, 9], [(1, 9)]),  # more than 4 runs: one range, some chunks again
    ],
)
def test_custody_resend_commands_cover_every_missing_chunk(
    missing: list[int], expected: list[tuple[int, int]]
) -> None:
    assert resend_commands("a-b-1.png", missing) == [
        f"CAMERA.SEND name=a-b-1.png first_chunk={first} last_chunk={last}"
        for first, last in expected
    ]
