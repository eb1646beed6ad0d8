"""Entries as bytes: canonical JSON, the entry line, its hash and signature, and the writer
that extends a chain.

An entry's signed bytes are the canonical JSON of its :class:`~interface.custody.model.Entry`
(compact, key-sorted, UTF-8, no NaN). Its line in a ledger file is exactly::

    {"entry":<signed bytes>,"sig":"<128 lowercase hex: Ed25519 signature of the signed bytes>"}\\n

Its hash is the lowercase hex SHA-256 of the signed bytes. A verifier slices the signed bytes
out of the line (:data:`LINE`) and never serialises anything again, so it needs no JSON
canonicaliser of its own. ``docs/samples.md`` gives a worked example byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ValidationError

from interface.custody.keys import key_id
from interface.custody.model import ENTRY_FORMAT, ZERO_HASH, Entry, Kind, parse_body, utc_text

__all__ = [
    "LINE",
    "MAX_LINE_BYTES",
    "ChainWriter",
    "CustodyError",
    "LineError",
    "SignedEntry",
    "canonical",
    "first_error",
    "parse_line",
    "sign_entry",
    "signature_holds",
    "signed_line",
    "split_line",
]

#: A ledger line (without its newline): the signed bytes and the signature's hex.
LINE = re.compile(rb'\{"entry":(\{.*\}),"sig":"([0-9a-f]{128})"\}')
#: The longest line a reader accepts.
MAX_LINE_BYTES = 65536


class CustodyError(ValueError):
    """An entry that cannot be written: the message says why."""


class LineError(ValueError):
    """A line that is not a readable ledger entry: the message says why."""


def canonical(document: Mapping[str, Any]) -> bytes:
    """Compact, key-sorted UTF-8 JSON; ValueError or TypeError when it has none."""
    text = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def signed_line(name: bytes, signed: bytes, sig: bytes) -> bytes:
    """A file's line of signed bytes and their signature, newline included:
    ``{"<name>":<signed bytes>,"sig":"<hex>"}``."""
    return b'{"' + name + b'":' + signed + b',"sig":"' + sig.hex().encode() + b'"}\n'


def signature_holds(key: Ed25519PublicKey, sig: bytes, signed: bytes) -> bool:
    """Whether ``sig`` is ``key``'s signature over ``signed``."""
    try:
        key.verify(sig, signed)
    except InvalidSignature:
        return False
    return True


def first_error(error: ValidationError) -> str:
    """The first problem pydantic found, as ``field.path: message``."""
    item = error.errors()[0]
    where = ".".join(str(part) for part in item["loc"]) or "entry"
    return f"{where}: {item['msg']}"


@dataclass(frozen=True)
class SignedEntry:
    """One entry: its fields, the exact bytes signed, the signature and the hash."""

    entry: Entry
    signed: bytes
    sig: bytes
    hash: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hash", hashlib.sha256(self.signed).hexdigest())

    @property
    def line(self) -> bytes:
        """The entry's line in a ledger file, newline included."""
        return signed_line(b"entry", self.signed, self.sig)

    def verifies(self, key: Ed25519PublicKey) -> bool:
        """Whether the signature is ``key``'s over the signed bytes."""
        return signature_holds(key, self.sig, self.signed)


def split_line(line: bytes, pattern: re.Pattern[bytes], shape: str) -> tuple[bytes, bytes]:
    """The signed bytes and the signature of one line (without its newline) that ``pattern``
    matches (signed bytes, then the signature's hex); LineError when the line is too long or
    does not match (``shape`` is that message)."""
    if len(line) > MAX_LINE_BYTES:
        raise LineError(f"line is {len(line)} bytes, over {MAX_LINE_BYTES}")
    match = pattern.fullmatch(line)
    if match is None:
        raise LineError(shape)
    return match.group(1), bytes.fromhex(match.group(2).decode("ascii"))


def parse_line(line: bytes) -> SignedEntry:
    """The entry in one ledger line (without its newline); LineError says what is wrong."""
    signed, sig = split_line(
        line, LINE, 'not an entry line {"entry":{...},"sig":"<128 hex digits>"}'
    )
    try:
        document = json.loads(signed.decode("utf-8"))
    except UnicodeDecodeError:
        raise LineError("entry is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise LineError(f"entry is not JSON: {exc.msg} at byte {exc.pos + 9}") from None
    except RecursionError:
        raise LineError("entry is not JSON: nested too deeply") from None
    if not isinstance(document, dict):
        raise LineError("entry is not a JSON object")
    try:
        entry = Entry.model_validate(document)
    except ValidationError as exc:
        raise LineError(f"not a valid entry: {first_error(exc)}") from None
    return SignedEntry(entry=entry, signed=signed, sig=sig)


def sign_entry(key: Ed25519PrivateKey, entry: Entry) -> SignedEntry:
    """``entry`` signed with ``key`` (whose id must be its ``signer``)."""
    if entry.signer != key_id(key.public_key()):
        raise CustodyError(
            f"entry says signer {entry.signer}, the key is {key_id(key.public_key())}"
        )
    signed = canonical(entry.model_dump(mode="json"))
    return SignedEntry(entry=entry, signed=signed, sig=key.sign(signed))


@dataclass
class _Tip:
    count: int
    hash: str


class ChainWriter:
    """Makes the next entries of a vehicle's chain, signed with its key.

    :meth:`make` builds and signs the next entry without taking it; :meth:`take` moves the
    chain on past an entry (one made here, or one read back from the ledger file), so that a
    store takes an entry only once it is safely written.
    """

    def __init__(
        self, key: Ed25519PrivateKey, vehicle: str, entries: Iterable[SignedEntry] = ()
    ) -> None:
        self._key = key
        self.vehicle = vehicle
        self.signer = key_id(key.public_key())
        self.next_seq = 0
        self.head = ZERO_HASH
        self._samples: dict[str, _Tip] = {}
        for entry in entries:
            self.take(entry)

    @property
    def samples(self) -> list[str]:
        """The sample ids in the chain, in the order they were collected."""
        return list(self._samples)

    def new_sample_id(self) -> str:
        """A sample id not used yet: ``<vehicle>-<number, 4 digits or more>``."""
        number = len(self._samples) + 1
        while f"{self.vehicle}-{number:04d}" in self._samples:
            number += 1
        return f"{self.vehicle}-{number:04d}"

    def take(self, signed: SignedEntry) -> None:
        """Move the chain on past ``signed``, the entry that now follows its head."""
        entry = signed.entry
        self.next_seq = entry.seq + 1
        self.head = signed.hash
        self._samples[entry.sample] = _Tip(entry.sample_seq + 1, signed.hash)

    def make(
        self,
        sample: str,
        kind: Kind,
        body: BaseModel | Mapping[str, Any],
        *,
        mission: datetime,
        utc: datetime,
    ) -> SignedEntry:
        """The next entry, signed; CustodyError when the chain's rules refuse it."""
        kind = Kind(kind)
        tip = self._samples.get(sample)
        if tip is None and kind is not Kind.COLLECTED:
            raise CustodyError(f"sample {sample}: no such sample (its first entry is COLLECTED)")
        if tip is not None and kind is Kind.COLLECTED:
            raise CustodyError(f"sample {sample}: already collected")
        raw = body.model_dump(mode="json") if isinstance(body, BaseModel) else dict(body)
        try:
            checked = parse_body(kind, raw)
            entry = Entry(
                format=ENTRY_FORMAT,
                seq=self.next_seq,
                prev=self.head,
                vehicle=self.vehicle,
                sample=sample,
                sample_seq=tip.count if tip else 0,
                sample_prev=tip.hash if tip else ZERO_HASH,
                kind=kind,
                mission=utc_text(mission),
                utc=utc_text(utc),
                body=checked.model_dump(mode="json"),
                signer=self.signer,
            )
            signed = sign_entry(self._key, entry)
        except ValidationError as exc:
            raise CustodyError(f"sample {sample}: {kind} entry: {first_error(exc)}") from None
        except (TypeError, ValueError) as exc:
            raise CustodyError(f"sample {sample}: {kind} entry: {exc}") from None
        if len(signed.line) > MAX_LINE_BYTES:
            raise CustodyError(
                f"sample {sample}: {kind} entry is {len(signed.line)} bytes, over {MAX_LINE_BYTES}"
            )
        return signed
