"""Sample custody in the archive: the vehicle's ledger entries byte for byte, its latest head,
and its images (chunks until complete, then a checked file). See docs/mqtt.md, "Sample
custody", and docs/samples.md, "The ground archive".

- An entry is kept as the exact line received, keyed by ``(vehicle, seq)``. The same line
  again (a replay, a redelivery) is a duplicate and ignored; another line with a seq already
  kept is a **fork**: kept aside in ``custody_forks`` and reported, never in place of the first.
- The head: the latest received, per vehicle.
- Image chunks wait in ``image_chunks`` until the image's last one is in; then the image is
  put together, its SHA-256 checked, and written to ``<images dir>/<vehicle>/<name>``, or
  its problem recorded (nothing kept as good); its chunks are then dropped. Chunks of an
  image already kept are ignored; a bad image is tried again when its chunks come again.

Nothing here verifies a signature: the archive keeps what came; ``isru samples`` verifies it
under the vehicle's key (and uses a fork whose signature holds where the kept line's does not).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ground.archive.images import NAME, ChunkError, ImageMeta, ImageProblem, assemble, parse_chunk
from ground.archive.schema import ArchiveError
from interface.custody import LineError, key_id, parse_line, public_key_from_pem
from interface.custody_messages import CustodyHeadMessage
from interface.signing import KeyFileError

__all__ = ["CustodyArchive", "ImageState", "images_dir_of"]

HEAD_FIELDS = ("vehicle", "entries", "seq", "hash", "samples", "signer", "public_key_pem")
#: Images of a vehicle waiting for chunks at most (8 MiB each): a new one beyond is rejected.
MAX_WAITING = 128


def images_dir_of(archive_path: Path) -> Path:
    """Where the images of the archive at ``archive_path`` are kept: ``<stem>-images/``."""
    return archive_path.with_name(f"{archive_path.stem}-images")


@dataclass(frozen=True)
class ImageState:
    """One image the vehicle began to send: kept (``file``), bad (``problem``) or waiting
    for its ``missing`` chunks."""

    meta: ImageMeta
    file: Path | None
    problem: str | None
    missing: list[int]


def _write(path: Path, data: bytes) -> None:
    """Write ``path`` whole (aside, fsync'd, then renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(path.name + ".part")
    with aside.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(aside, path)


class CustodyArchive:
    """The custody tables of one open archive (``db``); ``changed()`` is called after each
    write that stored something new."""

    def __init__(self, db: sqlite3.Connection, images_dir: Path, changed: Callable[[], None]):
        self._db = db
        self.images_dir = images_dir
        self._changed = changed
        #: What arrived since opening: stored entries, duplicates, forks, heads, chunks,
        #: images kept, bad images and malformed messages.
        self.counts = dict.fromkeys(
            ("entries", "duplicates", "forks", "heads", "chunks", "images", "bad", "rejected"), 0
        )

    def _reject(self, problem: str) -> str:
        self.counts["rejected"] += 1
        return problem

    # --- writing ---------------------------------------------------------------------

    def add_entry(self, vehicle: str, line: bytes) -> str | None:
        """One ``samples/entry`` payload (the line, no newline); the problem, if there is one
        (malformed, another vehicle, a fork)."""
        try:
            signed = parse_line(line)
        except LineError as exc:
            return self._reject(f"samples/entry: {exc}")
        entry = signed.entry
        if entry.vehicle != vehicle:
            return self._reject(f"samples/entry: seq {entry.seq} is of vehicle {entry.vehicle}")
        row = (vehicle, entry.seq, entry.sample, signed.hash, bytes(line), time.time())
        if self._db.execute(
            "INSERT OR IGNORE INTO custody_entries VALUES (?,?,?,?,?,?)", row
        ).rowcount:
            self.counts["entries"] += 1
            self._changed()
            return None
        kept = self._db.execute(
            "SELECT hash FROM custody_entries WHERE vehicle = ? AND seq = ?", (vehicle, entry.seq)
        ).fetchone()
        if kept is not None and kept[0] == signed.hash:
            self.counts["duplicates"] += 1
            return None
        self._db.execute(
            "INSERT OR IGNORE INTO custody_forks VALUES (?,?,?,?,?)",
            (vehicle, entry.seq, signed.hash, bytes(line), time.time()),
        )
        self.counts["forks"] += 1
        self._changed()
        return (
            f"fork: vehicle {vehicle} seq {entry.seq}: entry {signed.hash[:12]} differs from "
            f"the entry {kept[0][:12] if kept else '?'} kept; kept aside"
        )

    def add_head(self, vehicle: str, payload: bytes) -> str | None:
        """One ``samples/head`` payload; the problem, if there is one."""
        try:
            head = CustodyHeadMessage.model_validate_json(payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "message"
            return self._reject(f"samples/head: {where}: {first['msg']}")
        if head.vehicle != vehicle:
            return self._reject(f"samples/head: of vehicle {head.vehicle!r}")
        try:
            signer = key_id(public_key_from_pem(head.public_key_pem.encode(), Path("head")))
        except KeyFileError:
            return self._reject("samples/head: public_key_pem: not an Ed25519 public key (PEM)")
        if signer != head.signer:
            return self._reject(f"samples/head: public_key_pem is key {signer}, not {head.signer}")
        self._db.execute(
            "INSERT OR REPLACE INTO custody_heads VALUES (?, ?, ?)",
            (vehicle, payload.decode("utf-8"), time.time()),
        )
        self.counts["heads"] += 1
        self._changed()
        return None

    def add_chunk(self, vehicle: str, name: str, payload: bytes) -> str | None:
        """One ``images/<name>`` payload; the problem, if there is one (malformed, or the
        image it completes is bad)."""
        if not NAME.fullmatch(name):
            return self._reject(f"images/{name[:120]!r}: not an image name ({NAME.pattern})")
        try:
            chunk = parse_chunk(payload, name=name)
        except ChunkError as exc:
            return self._reject(f"images/{name}: {exc}")
        meta = chunk.meta
        key = (vehicle, meta.name, meta.sha256)
        done = self._db.execute(
            "SELECT problem FROM images WHERE vehicle = ? AND name = ? AND sha256 = ?", key
        ).fetchone()
        if done is not None and done[0] is None:
            return None  # kept already: a resend
        first = self._db.execute(
            "SELECT meta FROM image_chunks WHERE vehicle = ? AND name = ? AND sha256 = ? LIMIT 1",
            key,
        ).fetchone()
        waiting = "SELECT count(DISTINCT name || sha256) FROM image_chunks WHERE vehicle = ?"
        if first is None and self._db.execute(waiting, (vehicle,)).fetchone()[0] >= MAX_WAITING:
            return self._reject(
                f"images/{name}: {MAX_WAITING} images of {vehicle} already wait for "
                "chunks (isru samples images lists them): a new one is not kept"
            )
        if first is not None and ImageMeta.from_text(first[0]) != meta:
            return self._reject(f"images/{name}: chunk {chunk.index} disagrees with the others")
        self._db.execute(
            "INSERT OR IGNORE INTO image_chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (*key, chunk.index, meta.chunks, meta.text(), chunk.data, time.time()),
        )
        self.counts["chunks"] += 1
        have = self._db.execute(
            "SELECT count(*) FROM image_chunks WHERE vehicle = ? AND name = ? AND sha256 = ?", key
        ).fetchone()[0]
        problem = self._complete(vehicle, meta) if have == meta.chunks else None
        self._changed()
        return problem

    def _complete(self, vehicle: str, meta: ImageMeta) -> str | None:
        key = (vehicle, meta.name, meta.sha256)
        query = "SELECT chunk, data FROM image_chunks WHERE vehicle = ? AND name = ? AND sha256 = ?"
        parts = dict(self._db.execute(query, key).fetchall())
        file: Path | None = None
        problem: str | None = None
        try:
            data = assemble(meta, parts)
        except ImageProblem as exc:
            problem = str(exc)
            self.counts["bad"] += 1
        else:
            file = self.images_dir / vehicle / meta.name
            if file.exists() and hashlib.sha256(file.read_bytes()).hexdigest() != meta.sha256:
                file = self.images_dir / vehicle / meta.sha256[:16] / meta.name
            try:
                _write(file, data)
            except OSError as exc:
                raise ArchiveError(f"archive: cannot write {file}: {exc.strerror or exc}") from exc
            self.counts["images"] += 1
        self._db.execute("BEGIN")
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO images VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*key, meta.text(), str(file) if file else None, problem, time.time()),
            )
            self._db.execute(
                "DELETE FROM image_chunks WHERE vehicle = ? AND name = ? AND sha256 = ?", key
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return problem

    # --- reading ---------------------------------------------------------------------

    def vehicles(self) -> list[str]:
        """The vehicles with custody entries, a head or images in the archive."""
        rows = self._db.execute(
            "SELECT vehicle FROM custody_entries UNION SELECT vehicle FROM custody_heads "
            "UNION SELECT vehicle FROM images UNION SELECT vehicle FROM image_chunks ORDER BY 1"
        )
        return [row[0] for row in rows]

    def vehicle(self, vehicle: str | None) -> str:
        """The vehicle named, or the archive's only one (ArchiveError otherwise)."""
        if vehicle is not None:
            return vehicle
        found = self.vehicles()
        if len(found) != 1:
            which = f"several vehicles ({', '.join(found)})" if found else "no custody data"
            raise ArchiveError(f"archive: holds {which}: name the vehicle")
        return found[0]

    def lines(self, vehicle: str) -> list[bytes]:
        """The vehicle's entries kept, in seq order, each line without its newline."""
        rows = self._db.execute(
            "SELECT line FROM custody_entries WHERE vehicle = ? ORDER BY seq", (vehicle,)
        )
        return [bytes(row[0]) for row in rows]

    def head(self, vehicle: str) -> dict[str, Any] | None:
        """The latest head received, or None."""
        row = self._db.execute(
            "SELECT head FROM custody_heads WHERE vehicle = ?", (vehicle,)
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def forks(self, vehicle: str) -> list[tuple[int, str]]:
        """``(seq, hash)`` of every entry kept aside as a fork."""
        return [(seq, digest) for seq, digest, _ in self.fork_lines(vehicle)]

    def fork_lines(self, vehicle: str) -> list[tuple[int, str, bytes]]:
        """``(seq, hash, line)`` of every entry kept aside as a fork."""
        query = "SELECT seq, hash, line FROM custody_forks WHERE vehicle = ? ORDER BY seq, received"
        rows = self._db.execute(query, (vehicle,))
        return [(seq, digest, bytes(line)) for seq, digest, line in rows]

    def images(self, vehicle: str) -> list[ImageState]:
        """Every image kept or bad, then every one still waiting for chunks (by name)."""
        found = [
            ImageState(ImageMeta.from_text(meta), Path(file) if file else None, problem, [])
            for meta, file, problem in self._db.execute(
                "SELECT meta, file, problem FROM images WHERE vehicle = ? ORDER BY name",
                (vehicle,),
            )
        ]
        waiting: dict[tuple[str, str], tuple[ImageMeta, set[int]]] = {}
        for meta_text, index in self._db.execute(
            "SELECT meta, chunk FROM image_chunks WHERE vehicle = ? ORDER BY name, chunk",
            (vehicle,),
        ):
            meta = ImageMeta.from_text(meta_text)
            waiting.setdefault((meta.name, meta.sha256), (meta, set()))[1].add(index)
        for meta, have in waiting.values():
            missing = [index for index in range(meta.chunks) if index not in have]
            found.append(ImageState(meta, None, None, missing))
        return found

    def image_file(self, vehicle: str, name: str, sha256: str) -> Path | None:
        """The kept file of that image, or None."""
        row = self._db.execute(
            "SELECT file FROM images WHERE vehicle = ? AND name = ? AND sha256 = ? "
            "AND problem IS NULL",
            (vehicle, name, sha256),
        ).fetchone()
        return None if row is None or row[0] is None else Path(row[0])
