"""What a vehicle's samples hand the MQTT side, made for the custody link and archive tests:
real ledger lines signed with a fresh key (interface.custody's ChainWriter), images of a few
chunks, and the head; publishing them as the vehicle does, for the ground tests; and the
ground recorder in a task, with events to wait on."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiomqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from flight.mqtt.custody_link import chunk_count, chunk_payload, head_payload
from ground.archive import Archive
from ground.recorder import record
from interface.custody import (
    ChainWriter,
    Imaged,
    ImageRef,
    Kind,
    Measured,
    Moved,
    SignedEntry,
    key_id,
    public_pem,
)
from interface.topics import IMAGE_CHUNK_BYTES, Topics
from isru.broker import Mosquitto
from tests.custody_cases import T0, collected

WAIT_S = 20.0


@dataclass
class Feed:
    """A vehicle's ledger and images: ``entries`` in order, ``images`` by name with their
    ``meta`` (the IMAGE_STORED fields), the ``head`` after the last entry."""

    vehicle: str
    key: Ed25519PrivateKey
    entries: list[SignedEntry]
    images: dict[str, bytes]
    meta: dict[str, dict[str, Any]]

    @property
    def head(self) -> dict[str, Any]:
        last = self.entries[-1] if self.entries else None
        return {
            "vehicle": self.vehicle,
            "entries": len(self.entries),
            "seq": last.entry.seq if last else None,
            "hash": last.hash if last else None,
            "samples": len({signed.entry.sample for signed in self.entries}),
            "signer": key_id(self.key.public_key()),
            "public_key_pem": public_pem(self.key.public_key()).decode(),
        }

    def lines(self) -> list[bytes]:
        """Each entry's line without its newline: the ``samples/entry`` payloads."""
        return [signed.line.removesuffix(b"\n") for signed in self.entries]

    def chunks(self, name: str) -> list[bytes]:
        """The ``images/<name>`` payloads of one image, in order."""
        data, meta = self.images[name], self.meta[name]
        return [
            chunk_payload(meta, n, data[n * IMAGE_CHUNK_BYTES : (n + 1) * IMAGE_CHUNK_BYTES])
            for n in range(chunk_count(len(data)))
        ]

    def write_images(self, directory: Path) -> dict[str, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in self.images.items():
            (directory / name).write_bytes(data)
        return {name: directory / name for name in self.images}


def image(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def feed(vehicle: str = "rover7", *, samples: int = 2, image_bytes: int = 120_000) -> Feed:
    """``samples`` samples, each collected, imaged (one image of ``image_bytes``: three
    chunks by default), weighed and stowed, signed with a fresh key."""
    key = Ed25519PrivateKey.generate()
    writer = ChainWriter(key, vehicle)
    entries: list[SignedEntry] = []
    images: dict[str, bytes] = {}
    meta: dict[str, dict[str, Any]] = {}
    minute = 0

    def add(sample: str, kind: Kind, body: Any) -> None:
        nonlocal minute
        minute += 1
        when = T0 + timedelta(minutes=minute)
        signed = writer.make(sample, kind, body, mission=when, utc=when)
        writer.take(signed)
        entries.append(signed)

    for number in range(samples):
        sample = writer.new_sample_id()
        add(sample, Kind.COLLECTED, collected())
        name = f"{sample}-scoop-1.png"
        data = images[name] = image(number, image_bytes)
        sha = hashlib.sha256(data).hexdigest()
        meta[name] = {
            "name": name,
            "sha256": sha,
            "bytes": len(data),
            "media_type": "image/png",
            "purpose": "scoop",
            "sample": sample,
        }
        ref = ImageRef(name=name, sha256=sha, bytes=len(data), camera="socket://sim")
        add(sample, Kind.IMAGED, Imaged(images=[ref]))
        add(sample, Kind.MEASURED, Measured(mass_g=10.0 + number, sigma_g=0.05, calibration="c"))
        add(sample, Kind.MOVED, Moved(location="stowed"))
    return Feed(vehicle, key, entries, images, meta)


async def publish_feed(client: aiomqtt.Client, feed: Feed, *, images: bool = True) -> None:
    """Publish ``feed`` as the vehicle does: every entry in order, the head (retained), then
    each image's chunks (QoS 1, each confirmed before the next)."""
    topics = Topics(feed.vehicle)
    for line in feed.lines():
        await client.publish(topics.samples_entry, line, qos=1)
    await client.publish(topics.samples_head, head_payload(feed.head), qos=1, retain=True)
    if images:
        for name in feed.images:
            for payload in feed.chunks(name):
                await client.publish(topics.image(name), payload, qos=1)


@dataclass
class Recording:
    """``record()`` in a task: what it logged, and an event set at every commit."""

    archive: Path
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    logged: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def on_commit(self, archive: Archive) -> None:
        self.counts = dict(archive.custody.counts)
        self.changed.set()

    def log(self, line: str) -> None:
        self.logged.append(line)
        self.changed.set()

    async def until(self, ready: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT_S):
            while not ready():
                self.changed.clear()
                await self.changed.wait()


@asynccontextmanager
async def recording(broker: Mosquitto, path: Path, vehicle: str) -> AsyncIterator[Recording]:
    rec = Recording(path)
    task = asyncio.create_task(
        record(
            broker=broker.url,
            vehicle=vehicle,
            archive_path=path,
            stop=rec.stop,
            on_commit=rec.on_commit,
            log=rec.log,
        )
    )
    await rec.until(lambda: any(line.startswith("recording ") for line in rec.logged))
    try:
        yield rec
    finally:
        rec.stop.set()
        async with asyncio.timeout(WAIT_S):
            await task
