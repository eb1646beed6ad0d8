"""Images as they arrive on ``isru/<vehicle>/images/<name>``: one chunk per message, checked
on its own (:func:`parse_chunk`), and put back together once all are in (:func:`assemble`),
or the problem named (docs/mqtt.md, "Sample custody").

A chunk carries its image's fields (``name``, ``sha256``, ``bytes``, ``media_type``,
``purpose``, ``sample``), its index ``chunk`` from 0, the image's ``chunks`` (the size in
:data:`~interface.topics.IMAGE_CHUNK_BYTES` pieces, one at least) and ``data``, the base64
of raw bytes ``[chunk * IMAGE_CHUNK_BYTES, (chunk + 1) * IMAGE_CHUNK_BYTES)``. Chunks may come
in any order and more than once (a replay, ``CAMERA.SEND``); an image is one ``(name,
sha256)``, and all its chunks must agree on its fields.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from interface.topics import IMAGE_CHUNK_BYTES

__all__ = [
    "MAX_IMAGE_BYTES",
    "Chunk",
    "ChunkError",
    "ImageMeta",
    "ImageProblem",
    "Reassembler",
    "assemble",
    "chunk_count",
    "missing_chunks",
    "parse_chunk",
    "resend_commands",
    "spans",
]

#: The largest image the ground takes: the camera's limit (``hal.camera.MAX_IMAGE``).
MAX_IMAGE_BYTES = 8 * 1024 * 1024
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
HASH = re.compile(r"[0-9a-f]{64}")
SAMPLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
PURPOSE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]{0,31}")
MEDIA_TYPE = re.compile(r"[a-z0-9.+-]{1,40}/[a-z0-9.+-]{1,60}")


class ChunkError(ValueError):
    """A message that is not a chunk of an image: the message says why."""


class ImageProblem(ValueError):
    """An image that cannot be put together (chunks missing, disagreeing, or its SHA-256 not
    the one its chunks name): the message says why."""


def chunk_count(size: int) -> int:
    """How many chunks an image of ``size`` bytes travels in (one for an empty image)."""
    return max(1, -(-size // IMAGE_CHUNK_BYTES))


@dataclass(frozen=True, slots=True)
class ImageMeta:
    """An image's fields, as each of its chunks carries them."""

    name: str
    sha256: str
    bytes: int
    media_type: str
    purpose: str
    sample: str | None
    chunks: int

    def text(self) -> str:
        """The fields as JSON (how the archive keeps them)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_text(cls, text: str) -> ImageMeta:
        return cls(**json.loads(text))

    def chunk_length(self, index: int) -> int:
        """How many raw bytes chunk ``index`` holds."""
        return min(IMAGE_CHUNK_BYTES, self.bytes - index * IMAGE_CHUNK_BYTES)


@dataclass(frozen=True, slots=True)
class Chunk:
    meta: ImageMeta
    index: int
    data: bytes


def _field(document: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = document.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ChunkError(f"{name}: missing or not {'an integer' if kind is int else 'text'}")
    return value


def parse_chunk(payload: bytes, *, name: str) -> Chunk:
    """The chunk in one ``images/<name>`` message; ChunkError names what is wrong."""
    try:
        document = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ChunkError("not JSON") from None
    if not isinstance(document, dict):
        raise ChunkError("not a JSON object")
    image = _field(document, "name", str)
    if not NAME.fullmatch(image):
        raise ChunkError(f"name: {image[:120]!r} is not an image name ({NAME.pattern})")
    if image != name:
        raise ChunkError(f"name: {image!r} is not the topic's image name {name[:120]!r}")
    sha256 = _field(document, "sha256", str)
    if not HASH.fullmatch(sha256):
        raise ChunkError("sha256: not 64 lowercase hex digits")
    size = _field(document, "bytes", int)
    if not 0 <= size <= MAX_IMAGE_BYTES:
        raise ChunkError(f"bytes: {size} is not from 0 to {MAX_IMAGE_BYTES}")
    sample = document.get("sample")
    if sample is not None and not (isinstance(sample, str) and SAMPLE.fullmatch(sample)):
        raise ChunkError(f"sample: not a sample id ({SAMPLE.pattern}) or null")
    media_type, purpose = _field(document, "media_type", str), _field(document, "purpose", str)
    if not MEDIA_TYPE.fullmatch(media_type):
        raise ChunkError(f"media_type: not a media type ({MEDIA_TYPE.pattern})")
    if not PURPOSE.fullmatch(purpose):
        raise ChunkError(f"purpose: not a purpose ({PURPOSE.pattern})")
    chunks = _field(document, "chunks", int)
    meta = ImageMeta(image, sha256, size, media_type, purpose, sample, chunks)
    if meta.chunks != chunk_count(size):
        raise ChunkError(f"chunks: {meta.chunks}, but {size} bytes make {chunk_count(size)}")
    index = _field(document, "chunk", int)
    if not 0 <= index < meta.chunks:
        raise ChunkError(f"chunk: {index} is not from 0 to {meta.chunks - 1}")
    try:
        data = base64.b64decode(_field(document, "data", str), validate=True)
    except (binascii.Error, ValueError):
        raise ChunkError("data: not base64") from None
    if len(data) != meta.chunk_length(index):
        raise ChunkError(
            f"data: chunk {index} holds {len(data)} bytes, not {meta.chunk_length(index)}"
        )
    return Chunk(meta, index, data)


def spans(numbers: Collection[int]) -> str:
    """``0, 3-5, 9``: sorted numbers with runs joined."""
    ordered = sorted(set(numbers))
    parts: list[str] = []
    start = prev = None
    for number in [*ordered, None]:
        if number is not None and prev is not None and number == prev + 1:
            prev = number
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = number
    return ", ".join(parts)


def runs(numbers: Collection[int]) -> list[tuple[int, int]]:
    """``[(0, 0), (3, 5), (9, 9)]``: sorted numbers as their runs, first and last."""
    found: list[tuple[int, int]] = []
    for number in sorted(set(numbers)):
        if found and number == found[-1][1] + 1:
            found[-1] = (found[-1][0], number)
        else:
            found.append((number, number))
    return found


#: How many CAMERA.SEND commands :func:`resend_commands` gives at most for one image.
MAX_RESENDS = 4


def resend_commands(name: str, missing: Collection[int]) -> list[str]:
    """The CAMERA.SEND commands that make the vehicle send the ``missing`` chunks of image
    ``name`` again: one per run of missing chunks, or, for more than :data:`MAX_RESENDS`
    runs, one from the first missing to the last (which sends a few chunks twice)."""
    found = runs(missing)
    if len(found) > MAX_RESENDS:
        found = [(found[0][0], found[-1][1])]
    return [
        f"CAMERA.SEND name={name} first_chunk={first} last_chunk={last}" for first, last in found
    ]


def missing_chunks(have: Collection[int], chunks: int) -> list[int]:
    """The chunk indexes of ``range(chunks)`` not in ``have``."""
    present = set(have)
    return [index for index in range(chunks) if index not in present]


def assemble(meta: ImageMeta, parts: Mapping[int, bytes]) -> bytes:
    """The image from its chunks by index; ImageProblem when some are missing or its SHA-256
    is not the one its chunks name."""
    missing = missing_chunks(parts, meta.chunks)
    if missing:
        raise ImageProblem(
            f"image {meta.name}: chunks {spans(missing)} of {meta.chunks} missing "
            f"({'; '.join(resend_commands(meta.name, missing))} sends them again)"
        )
    data = b"".join(parts[index] for index in range(meta.chunks))
    found = hashlib.sha256(data).hexdigest()
    if found != meta.sha256:
        raise ImageProblem(
            f"image {meta.name}: its {meta.chunks} chunks make {len(data)} bytes with sha256 "
            f"{found}, not the {meta.sha256} they name: not kept"
        )
    return data


class Reassembler:
    """Chunks of any images, in any order, duplicates ignored: :meth:`add` returns an image's
    bytes once its last chunk is in."""

    def __init__(self) -> None:
        self._parts: dict[tuple[str, str], dict[int, bytes]] = {}
        self._meta: dict[tuple[str, str], ImageMeta] = {}

    def add(self, chunk: Chunk) -> bytes | None:
        """Take one chunk; the image once complete (ImageProblem when it is not what its
        chunks name, or a chunk disagrees with the others on the image's fields)."""
        key = (chunk.meta.name, chunk.meta.sha256)
        known = self._meta.setdefault(key, chunk.meta)
        if known != chunk.meta:
            raise ImageProblem(f"image {chunk.meta.name}: chunk {chunk.index} says {chunk.meta}, "
                               f"the others {known}")  # fmt: skip
        parts = self._parts.setdefault(key, {})
        parts.setdefault(chunk.index, chunk.data)
        if len(parts) < known.chunks:
            return None
        del self._parts[key], self._meta[key]
        return assemble(known, parts)

    def missing(self) -> dict[str, list[int]]:
        """The images begun and not complete, with their missing chunks."""
        return {
            name: missing_chunks(self._parts[(name, sha)], meta.chunks)
            for (name, sha), meta in self._meta.items()
        }
