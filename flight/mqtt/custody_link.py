"""The sample custody ledger and the stored images on their way to the ground
(docs/mqtt.md, "Sample custody"): the vehicle's side.

:class:`CustodyLink` is what the flight's samples hand every new ledger line, the ledger's
head and every stored image to (the ``CustodySink`` of ``flight.samples``):

- ``samples/entry``: each ledger line, byte for byte without its newline, QoS 1, live while
  a session is up and into the outbox (HIGH, like events) while not; replayed in order.
- ``samples/head``: the ledger's head, QoS 1 retained. Only the latest counts, so it is not
  put into the outbox: it is published when it changes and again at every session's start.
- ``images/<name>``: an image in chunks of :data:`CHUNK_BYTES` raw bytes (base64 in JSON),
  always through the outbox (LOW, like telemetry), which the replay sends while a session is
  up: an image survives an outage and a restart of the flight software. The file is read a
  few chunks at a time, never whole.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiomqtt

from flight.mqtt.downlink import Downlink
from flight.mqtt.outbox import OutboxError, Priority
from flight.mqtt.support import Tasks, describe, log
from interface.topics import IMAGE_CHUNK_BYTES

__all__ = [
    "CHUNK_BYTES",
    "HEAD_FIELDS",
    "IMAGE_FIELDS",
    "CustodyLink",
    "chunk_count",
    "chunk_payload",
    "head_payload",
]

#: Raw image bytes per chunk (its base64 and fields stay far below the 256 KiB limit).
CHUNK_BYTES = IMAGE_CHUNK_BYTES
#: The head's fields, in the order its payload has them.
HEAD_FIELDS = ("vehicle", "entries", "seq", "hash", "samples", "signer", "public_key_pem")
#: An image's fields (the ``meta`` of :meth:`CustodyLink.publish_image`), in payload order.
IMAGE_FIELDS = ("name", "sha256", "bytes", "media_type", "purpose", "sample")
#: Chunks read and put into the outbox at a time (one transaction).
CHUNKS_PER_PUT = 8
#: Images waiting to go into the outbox at most; one more is refused (ValueError).
MAX_QUEUED_IMAGES = 64


def _json(document: Mapping[str, Any]) -> bytes:
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


def head_payload(head: Mapping[str, Any]) -> bytes:
    """The ``samples/head`` payload: compact JSON of :data:`HEAD_FIELDS` in that order
    (ValueError naming a missing field)."""
    missing = [name for name in HEAD_FIELDS if name not in head]
    if missing:
        raise ValueError(f"custody head: no {', '.join(missing)}")
    return _json({name: head[name] for name in HEAD_FIELDS})


def chunk_count(size: int) -> int:
    """How many chunks an image of ``size`` bytes travels in (one for an empty image)."""
    return max(1, -(-size // CHUNK_BYTES))


def chunk_payload(meta: Mapping[str, Any], chunk: int, data: bytes) -> bytes:
    """One ``images/<name>`` payload: the image's fields, ``chunk``, ``chunks`` and ``data``
    (base64 of the raw bytes ``[chunk * CHUNK_BYTES, (chunk + 1) * CHUNK_BYTES)``)."""
    document = {name: meta[name] for name in IMAGE_FIELDS}
    document["chunk"] = chunk
    document["chunks"] = chunk_count(int(meta["bytes"]))
    document["data"] = base64.b64encode(data).decode("ascii")
    return _json(document)


def _checked_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    missing = [name for name in IMAGE_FIELDS if name not in meta]
    if missing:
        raise ValueError(f"image: no {', '.join(missing)}")
    size = meta["bytes"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError(f"image {meta['name']}: bytes must be a count, got {size!r}")
    return {name: meta[name] for name in IMAGE_FIELDS}


def _read_chunks(file: Any, size: int, first: int, last: int) -> list[bytes]:
    """Chunks ``first`` to ``last - 1`` read from ``file`` (at chunk ``first``'s offset)."""
    chunks = []
    for index in range(first, last):
        want = min(CHUNK_BYTES, size - index * CHUNK_BYTES)
        data = file.read(want)
        if len(data) != want:
            raise OSError(f"{file.name}: ends before the {size} bytes it was stored with")
        chunks.append(data)
    return chunks


class CustodyLink:
    """The ledger's entries and head, and the images, from the vehicle to the ground."""

    def __init__(self, downlink: Downlink, tasks: Tasks) -> None:
        self._downlink = downlink
        self._topics = downlink.topics
        self._tasks = tasks
        #: The latest head's payload, published again at every session's start.
        self._head: bytes | None = None
        self._images: collections.deque[tuple[Path, dict[str, Any], range]]
        self._images = collections.deque()
        self._sender: asyncio.Task[None] | None = None
        #: Images whose chunks are all in the outbox, and images given up (unreadable).
        self.images_queued = 0
        self.images_failed = 0

    # --- the CustodySink calls ---------------------------------------------------------

    def publish_entry(self, line: bytes) -> None:
        """One ledger line (its newline, if any, is not sent)."""
        payload = bytes(line).removesuffix(b"\n")
        self._downlink.send(self._topics.samples_entry, payload, priority=Priority.HIGH)

    def publish_head(self, head: Mapping[str, Any]) -> None:
        """The ledger's head now (:data:`HEAD_FIELDS`): retained; the latest one is published
        again at the next session's start if there is no session now."""
        self._head = head_payload(head)
        self._downlink.publish_retained(self._topics.samples_head, self._head)

    def publish_image(
        self, path: Path, meta: Mapping[str, Any], chunks: range | None = None
    ) -> None:
        """Queue the image at ``path`` (``meta``: :data:`IMAGE_FIELDS`) to go to the ground:
        its chunks (``chunks``: only those, e.g. the ones the ground misses) go into the
        outbox in the background, images one after another. The same request as one still
        waiting is dropped; ValueError beyond :data:`MAX_QUEUED_IMAGES` waiting."""
        checked = _checked_meta(meta)
        self._topics.image(str(checked["name"]))  # ValueError for a name no topic can hold
        every = range(chunk_count(int(checked["bytes"])))
        wanted = every if chunks is None else chunks
        if wanted.step != 1 or not wanted or wanted.start < 0 or wanted.stop > every.stop:
            raise ValueError(
                f"image {checked['name']}: chunks {wanted.start} to {wanted.stop - 1} "
                f"are not among its {every.stop}"
            )
        request = (Path(path), checked, wanted)
        if request in self._images:
            return  # the same chunks of the same image wait already (a repeated CAMERA.SEND)
        if len(self._images) >= MAX_QUEUED_IMAGES:
            raise ValueError(
                f"{len(self._images)} images already wait to go into the outbox (at most "
                f"{MAX_QUEUED_IMAGES}): send it again later"
            )
        self._images.append(request)
        if self._sender is None or self._sender.done():
            self._sender = self._tasks.spawn(self._send_images())

    # --- the session -------------------------------------------------------------------

    async def announce(self, client: aiomqtt.Client) -> None:
        """A session starts: the latest head (if there is one) again, retained."""
        if self._head is not None:
            await client.publish(self._topics.samples_head, self._head, qos=1, retain=True)

    async def idle(self) -> None:
        """Return once every queued image is in the outbox (or given up)."""
        while self._sender is not None and not self._sender.done():
            await asyncio.shield(self._sender)

    # --- images ------------------------------------------------------------------------

    async def _send_images(self) -> None:
        while self._images:
            path, meta, wanted = self._images.popleft()
            try:
                await self._put_image(path, meta, wanted)
                self.images_queued += 1
            except (OSError, OutboxError) as exc:
                self.images_failed += 1
                log.error("image %s not sent: %s", meta["name"], describe(exc))

    async def _put_image(self, path: Path, meta: dict[str, Any], wanted: range) -> None:
        """The ``wanted`` chunks of one image into the outbox, CHUNKS_PER_PUT at a time (the
        file is read in a worker thread; the outbox is written here, in the event loop,
        where its drop reports may raise events)."""
        size = int(meta["bytes"])
        topic = self._topics.image(str(meta["name"]))
        with path.open("rb") as file:
            found = os.fstat(file.fileno()).st_size
            if found != size:
                raise OSError(f"{path}: holds {found} bytes, not the {size} it was stored with")
            file.seek(wanted.start * CHUNK_BYTES)
            for first in range(wanted.start, wanted.stop, CHUNKS_PER_PUT):
                last = min(wanted.stop, first + CHUNKS_PER_PUT)
                read = await asyncio.to_thread(_read_chunks, file, size, first, last)
                self._downlink.outbox.put_many(
                    (topic, chunk_payload(meta, first + n, data), Priority.LOW)
                    for n, data in enumerate(read)
                )
                self._downlink.kick_replay()
