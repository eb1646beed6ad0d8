"""The export package of one sample: its layout, how it is made, and how a countersignature
is added to it.

A package is a directory::

    manifest.json             what the package holds: sample, vehicle, key, head, every file
    entries.jsonl             the sample's ledger entries, lines exactly as in the ledger
    summary.md                made from the entries (and countersignatures)
    public_key.pem            the vehicle's public key
    images/<name>             the images its IMAGED entries name, by SHA-256
    countersignatures.jsonl   the operators' countersignatures, when there are any
    keys/<key id>.pem         the public key of each operator who countersigned

:func:`package_files` makes every file's bytes from the entries; :func:`verify_package`
(in :mod:`interface.custody.package_verify`) checks a directory against them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from interface.custody.chain import SignedEntry
from interface.custody.countersign import SignedCountersignature
from interface.custody.keys import key_id, public_pem
from interface.custody.record import fold, summary_markdown

__all__ = [
    "COUNTERSIGNATURES",
    "ENTRIES",
    "IMAGES",
    "KEYS",
    "MANIFEST",
    "PACKAGE_FORMAT",
    "PUBLIC_KEY",
    "SUMMARY",
    "FileRef",
    "Head",
    "Manifest",
    "PackageError",
    "package_files",
    "write_files",
]

PACKAGE_FORMAT: Literal["isru-custody-package/1"] = "isru-custody-package/1"
MANIFEST = "manifest.json"
ENTRIES = "entries.jsonl"
SUMMARY = "summary.md"
PUBLIC_KEY = "public_key.pem"
COUNTERSIGNATURES = "countersignatures.jsonl"
IMAGES = "images"
KEYS = "keys"

Hash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class PackageError(ValueError):
    """A package that cannot be made or changed: the message says why."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileRef(_Model):
    sha256: Hash
    bytes: Annotated[StrictInt, Field(ge=0)]


class Head(_Model):
    """The sample's last entry when the package was made."""

    seq: Annotated[StrictInt, Field(ge=0)]
    hash: Hash


class Manifest(_Model):
    format: Literal["isru-custody-package/1"]
    sample: str
    vehicle: str
    vehicle_key: str
    entries: Annotated[StrictInt, Field(ge=0)]
    head: Head
    files: dict[str, FileRef]

    def text(self) -> bytes:
        """The manifest file: indented, key-sorted JSON and a newline."""
        return (json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n").encode()


def file_ref(data: bytes) -> FileRef:
    return FileRef(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))


def package_files(
    entries: list[SignedEntry],
    key: Ed25519PublicKey,
    images: Mapping[str, bytes],
    countersignatures: Iterable[SignedCountersignature] = (),
    operator_keys: Iterable[Ed25519PublicKey] = (),
) -> dict[str, bytes]:
    """Every file of the package of one sample's ``entries`` (in chain order), by path.

    ``images`` maps each name an IMAGED entry lists to its bytes (PackageError when one is
    missing or is not what the entry says)."""
    if not entries:
        raise PackageError("no entries: nothing to export")
    records = fold(entries)
    if len(records) != 1:
        raise PackageError(f"entries of {len(records)} samples; a package holds one")
    (record,) = records.values()
    marks = list(countersignatures)
    files = {
        ENTRIES: b"".join(signed.line for signed in entries),
        SUMMARY: summary_markdown(record, key_id(key), marks).encode("utf-8"),
        PUBLIC_KEY: public_pem(key),
    }
    for image in record.images:
        data = images.get(image.name)
        if data is None:
            raise PackageError(f"image {image.name}: not found")
        if file_ref(data) != FileRef(sha256=image.sha256, bytes=image.bytes):
            raise PackageError(f"image {image.name}: not the image its IMAGED entry names")
        files[f"{IMAGES}/{image.name}"] = data
    if marks:
        files[COUNTERSIGNATURES] = b"".join(mark.line for mark in marks)
    for operator in operator_keys:
        files[f"{KEYS}/{key_id(operator)}.pem"] = public_pem(operator)
    last = entries[-1]
    manifest = Manifest(
        format=PACKAGE_FORMAT,
        sample=record.sample,
        vehicle=record.vehicle,
        vehicle_key=key_id(key),
        entries=len(entries),
        head=Head(seq=last.entry.seq, hash=last.hash),
        files={path: file_ref(data) for path, data in sorted(files.items())},
    )
    files[MANIFEST] = manifest.text()
    return files


def write_files(directory: Path, files: Mapping[str, bytes], *, new: bool = True) -> None:
    """Write ``files`` under ``directory``. With ``new`` the directory must not exist or be
    empty; otherwise each file is replaced whole (written aside, then renamed over it)."""
    directory = Path(directory)
    if new and directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise PackageError(f"{directory}: exists and is not an empty directory")
    try:
        for path, data in files.items():
            target = directory / path
            target.parent.mkdir(parents=True, exist_ok=True)
            aside = target.with_name(target.name + ".part")
            aside.write_bytes(data)
            os.replace(aside, target)
    except OSError as exc:
        raise PackageError(f"{directory}: cannot write: {exc.strerror or exc}") from None
