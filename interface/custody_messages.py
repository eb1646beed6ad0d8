"""The sample custody messages on MQTT as pydantic models, for their JSON Schemas
(docs/mqtt.md, "Sample custody"; ``interface.schema_export``).

These describe the payloads; they are not how the payloads are made or read. A
``samples/entry`` payload is a ledger line, byte for byte (``interface.custody.chain``); the
flight makes the head and the chunks as ``flight.mqtt.custody_link`` does, and the ground
reads chunks with ``ground.archive.images``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from interface.custody.model import MAX_SEQ, Entry, Fingerprint, Hash, ImageName, Vehicle

__all__ = ["CustodyHeadMessage", "ImageChunkMessage", "LedgerLineMessage"]

Count = Annotated[StrictInt, Field(ge=0, le=MAX_SEQ)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LedgerLineMessage(_Model):
    """``samples/entry``: one ledger line without its newline (docs/samples.md)."""

    entry: Entry
    sig: Annotated[str, Field(pattern=r"^[0-9a-f]{128}$")]


class CustodyHeadMessage(_Model):
    """``samples/head`` (retained): the ledger now. ``seq`` and ``hash`` are the last entry's
    (null while the ledger is empty); ``samples`` how many samples it holds."""

    vehicle: Vehicle
    entries: Count
    seq: Count | None
    hash: Hash | None
    samples: Count
    signer: Fingerprint
    public_key_pem: str


class ImageChunkMessage(_Model):
    """``images/<name>``: chunk ``chunk`` of ``chunks`` of a stored image; ``data`` is the
    base64 of its raw bytes ``[chunk * 49152, (chunk + 1) * 49152)``."""

    name: ImageName
    sha256: Hash
    bytes: Count
    media_type: str
    purpose: str
    sample: str | None
    chunk: Count
    chunks: Annotated[StrictInt, Field(ge=1)]
    data: Annotated[str, Field(pattern=r"^[A-Za-z0-9+/]*={0,2}$")]
