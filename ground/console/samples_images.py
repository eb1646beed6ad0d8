"""The vehicle's images for the samples tab: chunks from ``images/<name>`` made into files,
checked, and opened with the system viewer.

An image comes in chunks of :data:`CHUNK_BYTES` raw bytes (base64 in ``data``); once all are
in, the file is kept in the console's images directory only if its SHA-256 is the one every
chunk names, written to a temporary file first and renamed, so a file there is whole. A
console given no directory keeps no image.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import subprocess
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from interface.topics import IMAGE_CHUNK_BYTES

#: Raw bytes per chunk (docs/mqtt.md), and the largest image (the camera's limit).
CHUNK_BYTES = IMAGE_CHUNK_BYTES
MAX_IMAGE_BYTES = 8 * 1024 * 1024
#: Images being put together at once; a new one beyond drops the oldest unfinished.
MAX_PENDING = 4
#: Images remembered as kept (a resend of one is ignored unread).
MAX_REMEMBERED = 4096
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
SHA256 = re.compile(r"[0-9a-f]{64}")


class ImageUnavailable(Exception):
    """An image the console cannot open: the message says why."""


@dataclass
class _Pending:
    size: int
    chunks: int
    parts: dict[int, bytes] = field(default_factory=dict)


def system_viewer(path: Path) -> None:
    """Open ``path`` with the desktop's viewer (``xdg-open``), not waiting for it."""
    try:
        subprocess.Popen(
            ["xdg-open", str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        raise ImageUnavailable(
            f"cannot open {path.name}: xdg-open: {exc.strerror or exc}"
        ) from None


class ImageStore:
    """Images kept in ``directory`` (None: none kept), from their chunks."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._pending: OrderedDict[tuple[str, str], _Pending] = OrderedDict()
        self._stored: OrderedDict[tuple[str, str], None] = OrderedDict()  # (name, sha256) kept

    def take(self, suffix: str, document: dict[str, Any]) -> tuple[str, bool] | None:
        """Take one chunk (``images/<name>``); what to tell the operator, if anything, and
        whether it is a problem: ``image NAME kept in DIR (N bytes)``, or what is wrong."""
        if self.directory is None:
            return None
        name = suffix.partition("/")[2]
        try:
            kept = self._take(name, document)
        except ValueError as exc:
            return f"image {name}: {exc}", True
        return None if kept is None else (kept, False)

    def _take(self, name: str, document: dict[str, Any]) -> str | None:
        sha, size, chunks, chunk, data = (
            document.get(key) for key in ("sha256", "bytes", "chunks", "chunk", "data")
        )
        if not NAME.fullmatch(name) or document.get("name") != name:
            raise ValueError("not an image name, or not the one its topic names")
        if not isinstance(sha, str) or not SHA256.fullmatch(sha):
            raise ValueError("sha256 is not 64 lowercase hex digits")
        if not _count(size) or size > MAX_IMAGE_BYTES:
            raise ValueError(f"bytes is not a size from 0 to {MAX_IMAGE_BYTES}")
        if chunks != max(1, -(-size // CHUNK_BYTES)):
            raise ValueError(f"chunks is not {max(1, -(-size // CHUNK_BYTES))} for {size} bytes")
        if not _count(chunk) or chunk >= chunks or not isinstance(data, str):
            raise ValueError(f"chunk is not one of 0 to {chunks - 1} with its data")
        if (name, sha) in self._stored:
            return None  # sent again: kept already
        try:
            raw = base64.b64decode(data, validate=True)
        except binascii.Error:
            raise ValueError(f"chunk {chunk}: data is not base64") from None
        wanted = min(CHUNK_BYTES, size - chunk * CHUNK_BYTES)
        if len(raw) != wanted:
            raise ValueError(f"chunk {chunk} has {len(raw)} bytes, not {wanted}")
        pending = self._pending.setdefault((name, sha), _Pending(size, chunks))
        pending.parts[chunk] = raw
        while len(self._pending) > MAX_PENDING:
            self._pending.popitem(last=False)
        if len(pending.parts) < pending.chunks:
            return None
        del self._pending[(name, sha)]
        whole = b"".join(pending.parts[index] for index in range(pending.chunks))
        if hashlib.sha256(whole).hexdigest() != sha:
            raise ValueError(
                "its chunks do not make its sha256"
                f" (CAMERA.SEND name={name} first_chunk=0 last_chunk=-1 again)"
            )
        path = self._write(name, sha, whole)
        self._stored[(name, sha)] = None
        while len(self._stored) > MAX_REMEMBERED:
            self._stored.popitem(last=False)
        return f"image {name} kept in {path.parent} ({size} bytes)"

    def _write(self, name: str, sha: str, data: bytes) -> Path:
        """Write the image; another of the same name kept already stays, and this one goes
        into ``<sha256[:16]>/`` beside it."""
        assert self.directory is not None
        path = self.directory / name
        if _sha_of(path) not in (None, sha):
            path = self.directory / sha[:16] / name
        part = path.with_name(f".{name}.part")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            part.write_bytes(data)
            os.replace(part, path)
        except OSError as exc:
            raise ValueError(f"cannot write {path}: {exc.strerror or exc}") from None
        return path

    def path_of(self, name: str | None, sha256: str | None, sample: str) -> Path:
        """The file of image ``name`` whose content is ``sha256`` (as its IMAGED entry says);
        ImageUnavailable says why there is none."""
        if name is None or sha256 is None:
            raise ImageUnavailable(f"{sample} has no image (no IMAGED entry heard)")
        if self.directory is None:
            raise ImageUnavailable(
                f"no image file: the console keeps images only with --images-dir DIR ({name})"
            )
        path = self.directory / name
        if _sha_of(path) not in (None, sha256) and (self.directory / sha256[:16] / name).exists():
            path = self.directory / sha256[:16] / name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ImageUnavailable(
                f"no file for {name} in {self.directory} (not received; CAMERA.SEND "
                f"name={name} first_chunk=0 last_chunk=-1 sends it again)"
            ) from None
        except OSError as exc:
            raise ImageUnavailable(f"cannot read {path}: {exc.strerror or exc}") from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ImageUnavailable(
                f"{path} is not the image {sample}'s IMAGED entry names (sha256 differs): "
                "not opened"
            )
        return path


def _sha_of(path: Path) -> str | None:
    """The SHA-256 of the file at ``path``, None when there is none (or it is unreadable)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _count(value: object) -> TypeGuard[int]:
    """Whether ``value`` is a JSON integer of at least 0."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
