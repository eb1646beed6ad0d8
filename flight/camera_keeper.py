"""The vehicle's camera: captures stored on the board with their SHA-256, announced, published.

:class:`CameraKeeper` opens the ``[camera]`` URL with :func:`hal.open_camera` on the first
capture and keeps it. Each image is written to ``<images_dir>/<sample>-<purpose>-<n><suffix>``
(``unassigned`` without a sample; ``n`` from 1, never overwriting), ``fsync``'d with its
directory, announced by ``IMAGE_STORED`` and handed to the custody sink. Any failure raises
:class:`CameraProblem` saying why; nothing here touches an actuator.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flight.config import CameraConfig
from flight.events import EventLog
from flight.samples import CustodySink
from hal import Camera, CameraError, CapturedImage, open_camera
from interface.custody import ImageRef
from interface.topics import IMAGE_CHUNK_BYTES

__all__ = ["PURPOSE", "CameraKeeper", "CameraProblem", "StoredImage"]

log = logging.getLogger(__name__)

#: A purpose, as it goes into an image's name: no dash, so the name splits back.
PURPOSE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]{0,31}")
#: What an image's name is (the ledger's rule for image names).
IMAGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
UNASSIGNED = "unassigned"
MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg"}

Opener = Callable[..., AbstractAsyncContextManager[Camera]]


class CameraProblem(Exception):
    """No image: no camera configured, the camera failed, or the file could not be kept."""


@dataclass(frozen=True)
class StoredImage:
    """An image kept on the board."""

    name: str
    path: Path
    sha256: str
    bytes: int
    media_type: str
    purpose: str
    sample: str | None
    camera: str

    def meta(self) -> dict[str, Any]:
        """What the downlink publishes with it."""
        return {
            "name": self.name,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "media_type": self.media_type,
            "purpose": self.purpose,
            "sample": self.sample,
        }

    def ref(self) -> ImageRef:
        """The image as an IMAGED entry names it."""
        return ImageRef(name=self.name, sha256=self.sha256, bytes=self.bytes, camera=self.camera)


class CameraKeeper:
    """Takes, keeps and announces pictures."""

    def __init__(
        self,
        *,
        settings: CameraConfig,
        images_dir: Path,
        events: EventLog,
        sink: Callable[[], CustodySink | None],
        opener: Opener = open_camera,
    ) -> None:
        self.settings = settings
        self.images_dir = images_dir
        self.events = events
        self._sink = sink
        self._opener = opener
        self._camera: Camera | None = None
        self._exit = contextlib.AsyncExitStack()

    @property
    def configured(self) -> bool:
        return self.settings.url is not None

    async def capture(self, purpose: str, sample: str | None) -> StoredImage:
        """Take a picture for ``purpose`` (of ``sample``), keep it, announce it."""
        if not PURPOSE.fullmatch(purpose):
            raise CameraProblem(
                f"purpose {purpose!r}: must be 1-32 of A-Z a-z 0-9 _, a letter or digit first"
            )
        url = self.settings.url
        if url is None:
            raise CameraProblem("no camera: set [camera] url")
        try:
            camera = await self._open(url)
            image = await camera.capture(purpose=purpose, timeout_s=self.settings.timeout_s)
        except CameraError as exc:
            raise CameraProblem(str(exc)) from None
        try:
            stored = await asyncio.to_thread(self._keep, image, purpose, sample, url)
        except OSError as exc:
            raise CameraProblem(f"images_dir {self.images_dir}: {exc.strerror or exc}") from None
        self.events.emit(
            "IMAGE_STORED",
            name=stored.name,
            sha256=stored.sha256,
            bytes=stored.bytes,
            purpose=purpose,
            sample=sample or "none",
            media_type=stored.media_type,
        )
        problem = self.send(stored)
        if problem is not None and self._sink() is not None:
            log.warning("%s (it stays on the board: CAMERA.SEND sends it)", problem)
        return stored

    async def _open(self, url: str) -> Camera:
        if self._camera is None:
            opened = self._opener(url, width=self.settings.width, height=self.settings.height)
            self._camera = await self._exit.enter_async_context(opened)
        return self._camera

    async def close(self) -> None:
        self._camera = None
        await self._exit.aclose()

    def _keep(
        self, image: CapturedImage, purpose: str, sample: str | None, url: str
    ) -> StoredImage:
        """Write ``image`` under a new name, durably, unless that would leave less than
        ``[camera] min_free_mb`` free on the images' file system (CameraProblem)."""
        self.images_dir.mkdir(parents=True, exist_ok=True)
        fs = os.statvfs(self.images_dir)
        free, keep = fs.f_bavail * fs.f_frsize, self.settings.min_free_mb * 1024 * 1024
        if free - len(image.data) < keep:
            raise CameraProblem(
                f"images_dir {self.images_dir}: {free / 2**20:.1f} MiB free, less than the "
                f"{self.settings.min_free_mb} MiB [camera] min_free_mb keeps free for the "
                f"ledger and the outbox after this {len(image.data)}-byte image: not stored"
            )
        stem = f"{sample or UNASSIGNED}-{purpose}"
        for n in range(1, 1_000_000):
            name = f"{stem}-{n}{image.suffix}"
            path = self.images_dir / name
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            except FileExistsError:
                continue
            try:
                view = memoryview(image.data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            directory = os.open(self.images_dir, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
            digest = hashlib.sha256(image.data).hexdigest()
            return StoredImage(
                name, path, digest, len(image.data), image.media_type, purpose, sample, url
            )
        raise OSError(f"no free name for {stem}")

    def stored(self, name: str) -> StoredImage:
        """An image kept earlier, by name (for CAMERA.SEND); CameraProblem if there is none."""
        if not IMAGE_NAME.fullmatch(name) or name.count("-") < 2:
            raise CameraProblem(f"image {name!r}: not an image name (see IMAGE_STORED)")
        stem, suffix = os.path.splitext(name)
        sample, purpose, _ = stem.rsplit("-", 2)
        path = self.images_dir / name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CameraProblem(f"image {name}: not on the board ({self.images_dir})") from None
        except OSError as exc:
            raise CameraProblem(f"image {name}: {exc.strerror or exc}") from None
        return StoredImage(
            name,
            path,
            hashlib.sha256(data).hexdigest(),
            len(data),
            MEDIA_TYPES.get(suffix, "application/octet-stream"),
            purpose,
            None if sample == UNASSIGNED else sample,
            self.settings.url or "",
        )

    @staticmethod
    def chunks(stored: StoredImage, first: int, last: int) -> range:
        """The chunks ``first`` to ``last`` (included; -1: the last one) of ``stored``;
        CameraProblem when the image has no such chunks."""
        count = max(1, -(-stored.bytes // IMAGE_CHUNK_BYTES))
        end = count - 1 if last == -1 else last
        if first >= count or end >= count:
            raise CameraProblem(
                f"image {stored.name} has {count} chunks (0 to {count - 1}): "
                f"no chunks {first} to {last}"
            )
        if end < first:
            raise CameraProblem(f"last_chunk {last} is before first_chunk {first}")
        return range(first, end + 1)

    def send(self, stored: StoredImage, chunks: range | None = None) -> str | None:
        """Hand ``stored`` (only ``chunks`` of it, when given) to the custody sink; why not,
        when there is none or it refused."""
        sink = self._sink()
        if sink is None:
            return "no downlink to send the image on"
        every = chunks is None or chunks == self.chunks(stored, 0, -1)
        try:
            if every:
                sink.publish_image(stored.path, stored.meta())
            else:
                sink.publish_image(stored.path, stored.meta(), chunks)
        except ValueError as exc:  # refused (e.g. too many images wait): the image stays
            return f"image {stored.name} not sent: {exc}"
        except Exception as exc:  # the downlink's problem must not lose the image
            log.exception("custody sink failed on image %s", stored.name)
            return f"image {stored.name} not sent: {type(exc).__name__}: {exc}"
        return None
