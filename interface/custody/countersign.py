"""Countersignatures: an operator's signed statement about one entry of a sample's chain.

The ground holds no vehicle key and cannot extend the vehicle's chain, so a countersignature
is a statement beside it, in the package's ``countersignatures.jsonl``, one a line::

    {"countersignature":<signed bytes>,"sig":"<128 hex: Ed25519 of the signed bytes>"}\\n

The signed bytes are the canonical JSON of :class:`Countersignature`. It names the entry by
seq and hash; since each entry holds the hash of the sample's entry before it, it vouches for
the sample's whole history up to that entry. The operator's public key is in the package as
``keys/<key id>.pem``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from interface.custody.chain import (
    LineError,
    SignedEntry,
    canonical,
    first_error,
    signature_holds,
    signed_line,
    split_line,
)
from interface.custody.keys import key_id
from interface.custody.model import MAX_SEQ, utc_text

__all__ = [
    "COUNTERSIGN_FORMAT",
    "Countersignature",
    "SignedCountersignature",
    "countersign",
    "parse_countersignature",
]

COUNTERSIGN_FORMAT: Literal["isru-countersign/1"] = "isru-countersign/1"
LINE = re.compile(rb'\{"countersignature":(\{.*\}),"sig":"([0-9a-f]{128})"\}')


class Countersignature(BaseModel):
    """The signed part of a countersignature."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["isru-countersign/1"]
    vehicle: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    sample: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    seq: Annotated[StrictInt, Field(ge=0, le=MAX_SEQ)]
    entry: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    operator: Annotated[str, Field(min_length=1, max_length=200)]
    utc: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")]
    statement: Annotated[str, Field(min_length=1, max_length=2000)]
    signer: Annotated[str, Field(pattern=r"^[0-9a-f]{8}$")]


@dataclass(frozen=True)
class SignedCountersignature:
    statement: Countersignature
    signed: bytes
    sig: bytes

    @property
    def line(self) -> bytes:
        return signed_line(b"countersignature", self.signed, self.sig)

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.signed).hexdigest()

    def verifies(self, key: Ed25519PublicKey) -> bool:
        return signature_holds(key, self.sig, self.signed)


def countersign(
    key: Ed25519PrivateKey,
    target: SignedEntry,
    *,
    operator: str,
    statement: str,
    utc: datetime,
) -> SignedCountersignature:
    """``operator``'s countersignature of ``target`` with ``key``; ValueError if invalid."""
    try:
        model = Countersignature(
            format=COUNTERSIGN_FORMAT,
            vehicle=target.entry.vehicle,
            sample=target.entry.sample,
            seq=target.entry.seq,
            entry=target.hash,
            operator=operator,
            utc=utc_text(utc),
            statement=statement,
            signer=key_id(key.public_key()),
        )
    except ValidationError as exc:
        raise ValueError(f"countersignature: {first_error(exc)}") from None
    signed = canonical(model.model_dump(mode="json"))
    return SignedCountersignature(model, signed, key.sign(signed))


def parse_countersignature(line: bytes) -> SignedCountersignature:
    """The countersignature in one line (without its newline); LineError says what is wrong."""
    signed, sig = split_line(
        line, LINE, 'not a countersignature line {"countersignature":{...},"sig":"<hex>"}'
    )
    try:
        document = json.loads(signed.decode("utf-8"))
        model = Countersignature.model_validate(document)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise LineError("countersignature is not UTF-8 JSON") from None
    except ValidationError as exc:
        raise LineError(f"not a valid countersignature: {first_error(exc)}") from None
    return SignedCountersignature(model, signed, sig)
