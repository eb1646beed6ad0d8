"""Where ``isru samples list|show|export`` read a vehicle's custody ledger from: a ledger file
(``--ledger FILE``, the board's own) or the ground archive (``--archive DB``: the entries,
head and images the recorder kept).

Either way the entries are trusted only under a vehicle key: ``--vehicle-key PEM``, or, from
an archive without it, the key the vehicle's retained head announced (then the packages are
only as trustworthy as that announcement: compare the key id with the vehicle's).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ground.archive import Archive, ArchiveError
from ground.archive.custody import CustodyArchive
from ground.archive.images import resend_commands, spans
from interface.custody import (
    LineError,
    SignedEntry,
    Verified,
    key_id,
    load_public_key,
    parse_line,
    public_key_from_pem,
    verify_ledger,
)
from interface.custody.chain import signature_holds

__all__ = ["Refused", "Source", "Usage", "archive_source", "open_source", "read_ledger"]


class Refused(Exception):
    """What the command refuses to do, and why: one line or several."""

    def __init__(self, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class Usage(Exception):
    """The options do not go together: the message says how to call it."""


#: Reads an IMAGED entry's image by name and SHA-256: its bytes, or Refused naming why not.
ImageReader = Callable[[str, str], bytes]


@dataclass
class Source:
    """A vehicle's ledger as read: the entries that verify, every problem, the key they were
    checked with, and where the images are."""

    #: Where the entries were read, as messages name it: ``ledger FILE``, ``archive DB (V)``.
    label: str
    key: Ed25519PublicKey
    verified: Verified
    images: ImageReader | None
    #: Said once, on stderr (where the key came from, entries missing, forks).
    notes: list[str] = field(default_factory=list)
    #: How "no sample X in ..." names it: the ledger's path, or the label.
    place: str = ""

    def __post_init__(self) -> None:
        self.place = self.place or self.label

    def entries(self) -> list[SignedEntry]:
        """The entries that verify, in seq order."""
        return [signed for _, signed in sorted(self.verified.entries, key=lambda i: i[1].entry.seq)]


def read_ledger(path: Path, key: Ed25519PublicKey) -> Verified:
    """Every entry and problem of the ledger file at ``path`` under the vehicle's ``key``."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise Refused(f"ledger {path}: does not exist") from None
    except OSError as exc:
        raise Refused(f"ledger {path}: not readable: {exc.strerror or exc}") from None
    return verify_ledger(data, key, file=str(path))


def _directory_images(directory: Path | None) -> ImageReader | None:
    if directory is None:
        return None

    def read(name: str, sha256: str) -> bytes:
        path = directory / name
        try:
            return path.read_bytes()
        except OSError as exc:
            raise Refused(f"image {path}: not readable: {exc.strerror or exc}") from None

    return read


def archive_source(
    custody: CustodyArchive, label: str, vehicle: str | None, pinned: Ed25519PublicKey | None
) -> Source:
    """The ledger the archive kept of ``vehicle`` (its only one when None)."""
    try:
        name = custody.vehicle(vehicle)
    except ArchiveError as exc:
        raise Refused(str(exc)) from None
    notes: list[str] = []
    head = custody.head(name)
    key = pinned
    if key is None:
        if head is None:
            raise Refused(f"{label}: no head of vehicle {name} received: give --vehicle-key")
        try:
            key = public_key_from_pem(str(head["public_key_pem"]).encode(), Path(label))
        except Exception as exc:
            raise Refused(f"{label}: the head's public key: {exc}") from None
        notes.append(f"vehicle key {key_id(key)} from the head {name} published (not pinned)")
    lines = custody.lines(name)
    if head is not None and isinstance(head.get("entries"), int) and head["entries"] > len(lines):
        notes.append(
            f"the archive holds {len(lines)} of the {head['entries']} entries its head names"
        )
    forks = custody.fork_lines(name)
    if forks:
        lines = _genuine(lines, [line for _, _, line in forks], key, notes)
        notes.append(f"forks kept aside: seq {spans([seq for seq, _, _ in forks])}")
    data = b"".join(line + b"\n" for line in lines)
    verified = verify_ledger(data, key, file=f"{label} ({name})", complete=False)

    states = custody.images(name)  # read now: the archive is closed before images are read

    def read(image: str, sha256: str) -> bytes:
        mine = [s for s in states if (s.meta.name, s.meta.sha256) == (image, sha256)]
        path = mine[0].file if mine else None
        if path is None:
            why = "never received"
            if mine and mine[0].missing:
                again = "; ".join(resend_commands(image, mine[0].missing))
                why = f"chunks {spans(mine[0].missing)} missing ({again})"
            elif mine and mine[0].problem:
                why = mine[0].problem
            raise Refused(f"image {image}: not in {label} ({name}): {why}")
        try:
            return path.read_bytes()
        except OSError as exc:
            raise Refused(f"image {path}: not readable: {exc.strerror or exc}") from None

    return Source(f"{label} ({name})", key, verified, read, notes)


def _genuine(
    lines: list[bytes], forks: list[bytes], key: Ed25519PublicKey, notes: list[str]
) -> list[bytes]:
    """``lines`` where a kept entry whose signature is not ``key``'s is replaced by a fork of
    its seq whose signature is (an entry forged before the genuine one came)."""

    def holds(line: bytes) -> SignedEntry | None:
        try:
            signed = parse_line(line)
        except LineError:
            return None
        return signed if signature_holds(key, signed.sig, signed.signed) else None

    good = {signed.entry.seq: signed.line.rstrip(b"\n") for signed in map(holds, forks) if signed}
    found = []
    for line in lines:
        seq = parse_line(line).entry.seq  # a kept line is an entry line
        if seq in good and holds(line) is None:
            notes.append(f"seq {seq}: the entry kept does not verify, a fork of it does: used")
            line = good[seq]
        found.append(line)
    return found


def open_source(options: argparse.Namespace) -> Source:
    """The ledger ``options`` name: ``--ledger`` (with ``--vehicle-key``, and ``--images``
    where there are any) or ``--archive`` (with ``--vehicle`` when it holds several)."""
    pinned = load_public_key(options.vehicle_key) if options.vehicle_key else None
    if options.ledger is not None:
        if pinned is None:
            raise Usage("--ledger needs --vehicle-key")
        verified = read_ledger(options.ledger, pinned)
        images = _directory_images(getattr(options, "images", None))
        label = f"ledger {options.ledger}"
        return Source(label, pinned, verified, images, place=str(options.ledger))
    label = f"archive {options.archive}"
    try:
        with Archive(options.archive, create=False) as archive:
            return archive_source(archive.custody, label, options.vehicle, pinned)
    except ArchiveError as exc:
        raise Refused(str(exc)) from None
