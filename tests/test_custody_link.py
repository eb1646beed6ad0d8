"""The custody ledger and images from the flight to the ground (flight/mqtt/custody_link.py)
against a real mosquitto: entries in order and byte for byte, the head retained, entries made
during an outage replayed in order from the outbox, images in chunks through the outbox put
together byte for byte by the ground recorder, even across an outage."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from flight.mqtt import Outbox, Priority, Uplink
from flight.mqtt.custody_link import (
    CHUNKS_PER_PUT,
    IMAGE_FIELDS,
    CustodyLink,
    chunk_count,
    chunk_payload,
    head_payload,
)
from flight.mqtt.downlink import Downlink
from flight.mqtt.support import Tasks
from ground.archive import Archive
from ground.connection import handing_over
from interface.custody import key_id, public_pem
from interface.topics import IMAGE_CHUNK_BYTES, Topics
from isru.broker import Mosquitto
from tests.custody_cases import VEHICLE_KEY
from tests.custody_feed import WAIT_S, feed, image, recording
from tests.deployed_broker import ACL, DeployedConfig, make_certificates, receive
from tests.deployed_broker import client as deployed_client
from tests.flightstack import Stack, flight_stack
from tests.test_custody_doc import example

VEHICLE = "testbed"
TOPICS = Topics(VEHICLE)
#: The ground's persistent session: what the broker receives while it is away waits for it.
GROUND = {"identifier": "custody-ground", "clean_session": False}


@dataclass
class Heard:
    """What a plain ground client received: (topic, payload, retained), in order."""

    messages: list[tuple[str, bytes, bool]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def on(self, topic: str) -> list[bytes]:
        return [payload for t, payload, _ in self.messages if t == topic]

    async def until(self, ready: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT_S):
            while not ready():
                self.arrived.clear()
                await self.arrived.wait()


@asynccontextmanager
async def listening(broker: Mosquitto, heard: Heard, **options: Any) -> AsyncIterator[None]:
    def take(message: aiomqtt.Message) -> None:
        payload = message.payload
        heard.messages.append((message.topic.value, payload, message.retain))
        heard.arrived.set()

    # Kept as they are decoded (ground.connection.handing_over): none is lost on leaving.
    queue_type = handing_over(take)
    async with aiomqtt.Client(broker.host, broker.port, queue_type=queue_type, **options) as client:
        await client.subscribe(f"{TOPICS.prefix}/samples/#", qos=1)
        await client.subscribe(TOPICS.images_all, qos=1)
        yield


@asynccontextmanager
async def linked(tmp_path: Path, broker: Mosquitto) -> AsyncIterator[tuple[Stack, Uplink]]:
    async with flight_stack(tmp_path / "flight", time_scale=10.0) as stack:
        with Outbox(tmp_path / "outbox.db") as outbox:
            uplink = Uplink(app=stack.app, broker=broker.url, vehicle=VEHICLE, outbox=outbox)
            async with uplink:
                async with asyncio.timeout(WAIT_S):
                    await uplink.connected.wait()
                yield stack, uplink


async def test_custody_link_sends_entries_in_order_byte_exact_and_retains_the_head(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    data = feed(VEHICLE, samples=3)
    heard = Heard()
    async with linked(tmp_path, mosquitto) as (_, uplink), listening(mosquitto, heard):
        for signed in data.entries:
            uplink.custody.publish_entry(signed.line)  # with its newline: not sent
            uplink.custody.publish_head(data.head)
        await heard.until(lambda: len(heard.on(TOPICS.samples_entry)) == len(data.entries))
        assert heard.on(TOPICS.samples_entry) == data.lines()
        await heard.until(lambda: head_payload(data.head) in heard.on(TOPICS.samples_head))
        retained = Heard()
        async with listening(mosquitto, retained):
            await retained.until(lambda: bool(retained.messages))
    assert retained.messages == [(TOPICS.samples_head, head_payload(data.head), True)]
    head = json.loads(retained.messages[0][1])
    assert list(head) == [
        "vehicle",
        "entries",
        "seq",
        "hash",
        "samples",
        "signer",
        "public_key_pem",
    ]
    assert (head["entries"], head["seq"], head["hash"]) == (12, 11, data.entries[-1].hash)


async def test_custody_link_entries_made_while_offline_are_replayed_in_order(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    data = feed(VEHICLE, samples=3)
    first, rest = data.entries[:2], data.entries[2:]
    heard = Heard()
    async with linked(tmp_path, mosquitto) as (stack, uplink):
        async with listening(mosquitto, heard, **GROUND):
            for signed in first:
                uplink.custody.publish_entry(signed.line)
            await heard.until(lambda: len(heard.on(TOPICS.samples_entry)) == len(first))
        await mosquitto.stop()
        await stack.event("BROKER_LOST")
        assert not uplink.connected.is_set()  # (cleared before the event is raised)
        outage = stack.events[-1].seq
        for signed in rest:
            uplink.custody.publish_entry(signed.line)
        uplink.custody.publish_head(data.head)
        assert uplink.outbox.counts()[Priority.HIGH] >= len(rest)
        await mosquitto.start()
        await stack.event("REPLAY_DONE", lambda e: e.seq > outage)
        async with listening(mosquitto, heard, **GROUND):
            await heard.until(lambda: len(set(heard.on(TOPICS.samples_entry))) == 12)
        retained = Heard()
        async with listening(mosquitto, retained):
            await retained.until(lambda: bool(retained.messages))
    entries = heard.on(TOPICS.samples_entry)
    assert list(dict.fromkeys(entries)) == data.lines()  # in order (a PUBACK lost: again)
    assert retained.messages == [(TOPICS.samples_head, head_payload(data.head), True)]


async def test_custody_link_image_goes_in_chunks_and_the_recorder_rebuilds_it(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    data = feed(VEHICLE, samples=1, image_bytes=5 * IMAGE_CHUNK_BYTES + 123)  # 6 chunks
    (name,) = data.images
    files = data.write_images(tmp_path / "images")
    heard = Heard()
    async with (
        linked(tmp_path, mosquitto) as (_, uplink),
        recording(mosquitto, tmp_path / "archive.db", VEHICLE) as rec,
        listening(mosquitto, heard),
    ):
        uplink.custody.publish_image(files[name], data.meta[name])
        await rec.until(lambda: rec.counts.get("images") == 1)
        await heard.until(lambda: len(heard.on(TOPICS.image(name))) >= 6)
    chunks = [json.loads(payload) for payload in heard.on(TOPICS.image(name))]
    assert [c["chunk"] for c in chunks] == list(range(6))
    assert all(list(c) == [*IMAGE_FIELDS, "chunk", "chunks", "data"] for c in chunks)
    assert all(c["chunks"] == 6 and c["sha256"] == data.meta[name]["sha256"] for c in chunks)
    assert b"".join(base64.b64decode(c["data"]) for c in chunks) == data.images[name]
    with Archive(tmp_path / "archive.db", create=False) as archive:
        (state,) = archive.custody.images(VEHICLE)
    assert state.file is not None and state.file.read_bytes() == data.images[name]


async def test_custody_link_image_stored_during_an_outage_arrives_after_it(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    data = feed(VEHICLE, samples=2, image_bytes=3 * IMAGE_CHUNK_BYTES)
    files = data.write_images(tmp_path / "images")
    async with (
        linked(tmp_path, mosquitto) as (stack, uplink),
        recording(mosquitto, tmp_path / "archive.db", VEHICLE) as rec,
    ):
        await mosquitto.stop()
        await stack.event("BROKER_LOST")
        assert not uplink.connected.is_set()  # (cleared before the event is raised)
        for name, path in files.items():
            uplink.custody.publish_image(path, data.meta[name])
        await uplink.custody.idle()
        assert uplink.custody.images_queued == 2
        assert uplink.outbox.counts()[Priority.LOW] >= 6  # (and telemetry)
        await mosquitto.start()
        await rec.until(lambda: rec.counts.get("images") == 2)
    with Archive(tmp_path / "archive.db", create=False) as archive:
        states = archive.custody.images(VEHICLE)
    assert {s.meta.name: s.file.read_bytes() for s in states if s.file} == data.images


# --- without a broker: what goes into the outbox -------------------------------------------


@pytest.fixture
def offline(tmp_path: Path) -> Any:
    outbox = Outbox(tmp_path / "outbox.db")
    tasks = Tasks()
    downlink = Downlink(
        vehicle=None,  # type: ignore[arg-type]  # (no session: the vehicle is never asked)
        topics=TOPICS,
        outbox=outbox,
        authenticator=None,
        tasks=tasks,
    )
    yield CustodyLink(downlink, tasks), outbox
    outbox.close()


async def test_custody_link_image_is_read_a_few_chunks_at_a_time(
    tmp_path: Path, offline: tuple[CustodyLink, Outbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    link, outbox = offline
    size = 20 * IMAGE_CHUNK_BYTES + 1
    path = tmp_path / "big.png"
    path.write_bytes(image(1, size))
    reads: list[int] = []
    real = Path.open

    def watched(self: Path, *args: Any, **kwargs: Any) -> Any:
        file = real(self, *args, **kwargs)
        read = file.read

        def counted(n: int = -1) -> bytes:
            reads.append(n)
            return read(n)

        file.read = counted
        return file

    monkeypatch.setattr(Path, "open", watched)
    meta = {"name": "big.png", "sha256": "0" * 64, "bytes": size, "media_type": "image/png"}
    link.publish_image(path, {**meta, "purpose": "site", "sample": None})
    await link.idle()
    assert max(reads) <= IMAGE_CHUNK_BYTES and len(reads) == chunk_count(size) == 21
    rows = outbox.peek(100)
    assert [r.priority for r in rows] == [Priority.LOW] * 21
    assert [json.loads(r.payload)["chunk"] for r in rows] == list(range(21))
    assert CHUNKS_PER_PUT < 21


async def test_custody_link_image_not_as_stored_is_logged_and_the_next_still_goes(
    tmp_path: Path, offline: tuple[CustodyLink, Outbox], capsys: pytest.CaptureFixture[str]
) -> None:
    link, outbox = offline
    data = feed(VEHICLE, samples=2)
    files = data.write_images(tmp_path / "images")
    first, second = files
    files[first].write_bytes(b"shorter")
    for name, path in files.items():
        link.publish_image(path, data.meta[name])
    await link.idle()
    assert (link.images_queued, link.images_failed) == (1, 1)
    assert {json.loads(r.payload)["name"] for r in outbox.peek(100)} == {second}
    err = capsys.readouterr().err
    why = f"{files[first]}: holds 7 bytes, not the 120000 it was stored with"
    assert f"isru uplink: image {first} not sent: OSError: {why}" in err


def test_custody_link_refuses_an_image_without_its_fields(
    tmp_path: Path, offline: tuple[CustodyLink, Outbox]
) -> None:
    link, _ = offline
    with pytest.raises(ValueError, match="image: no sha256, purpose"):
        link.publish_image(
            tmp_path / "x.png",
            {"name": "x.png", "bytes": 1, "media_type": "image/png", "sample": None},
        )
    with pytest.raises(ValueError, match="custody head: no public_key_pem"):
        head_payload(
            {
                "vehicle": VEHICLE,
                "entries": 0,
                "seq": None,
                "hash": None,
                "samples": 0,
                "signer": "ab",
            }
        )


def test_custody_link_outbox_peek_keeps_within_its_byte_budget(tmp_path: Path) -> None:
    with Outbox(tmp_path / "outbox.db") as outbox:
        outbox.put_many(("t/x", bytes(70_000), Priority.LOW) for _ in range(5))
        assert len(outbox.peek(100, max_bytes=200_000)) == 2
        assert len(outbox.peek(100, max_bytes=10)) == 1  # one at least
        assert len(outbox.peek(100, max_bytes=10**9)) == 5
        last = outbox.peek(100)[-2].id
        assert [r.id for r in outbox.peek(100, after_id=last, max_bytes=200_000)] == [last + 1]


def test_custody_link_mqtt_doc_examples_are_what_the_code_sends() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "mqtt.md").read_text()
    section = doc.split("## Sample custody: entries, head, images")[1].split("\n## ")[0]
    entry, head, chunk = (block.split("\n```")[0] for block in section.split("```text\n")[1:])
    signed = example()[1]  # docs/samples.md's worked example
    assert entry.encode() == signed.line.removesuffix(b"\n")
    key = VEHICLE_KEY.public_key()
    expected_head = {
        "vehicle": "rover1", "entries": 2, "seq": 1, "hash": signed.hash, "samples": 1,
        "signer": key_id(key), "public_key_pem": public_pem(key).decode(),
    }  # fmt: skip
    assert head.encode() == head_payload(expected_head)
    data = b"\x89PNG\r\n\x1a\n"
    meta = {
        "name": "rover1-0001-site-1.png", "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": 8, "media_type": "image/png", "purpose": "site", "sample": "rover1-0001",
    }  # fmt: skip
    assert chunk.encode() == chunk_payload(meta, 0, data)


async def test_custody_link_topics_pass_the_shipped_broker_acl(tmp_path: Path) -> None:
    # deploy/mosquitto/acl: the vehicle may publish them and the ground read them (a publish
    # the ACL refused would be confirmed and dropped: the custody data would vanish silently).
    users = {"vehicle-testbed-1": "v-secret", "ground": "g-secret"}
    config = DeployedConfig(make_certificates(tmp_path / "certs"))
    async with (
        Mosquitto(tmp_path / "mq", passwords=users, acl=ACL.read_text(), config=config) as mq,
        deployed_client(mq, "vehicle-testbed-1", users["vehicle-testbed-1"]) as vehicle,
        deployed_client(mq, "ground", users["ground"]) as ground,
    ):
        await ground.subscribe("isru/testbed-1/#", qos=1)
        topics = Topics("testbed-1")
        for topic in (topics.samples_entry, topics.samples_head, topics.image("a-1.png")):
            await vehicle.publish(topic, b"{}", qos=1)
            assert await receive(ground) == (topic, b"{}")
