"""The samples tab's data: the custody entries heard over MQTT, checked, one row per sample.

No widgets. :class:`SampleBook` takes each ``samples/entry`` message (a ledger line) and the
retained ``samples/head`` (the vehicle's public key), in any order, and makes a
:class:`SampleRow` per sample from the entries whose signature verifies: :func:`fold` of
interface.custody says the latest mass, location, images and owner.

Each sample is checked with :func:`verify_ledger` over its own entries (signatures, bodies,
the sample's chain, duplicates), and its link to the vehicle chain's entry before each of
its entries when that entry was heard (a fork); only samples that changed are checked again.
Entries are not retained on the broker, so a console opened late has not heard a sample's
first entries: the check then says which are missing.

The console gets every message already parsed; a line is made again from its ``entry`` as
canonical JSON, which gives back the vehicle's bytes exactly (the vehicle signs canonical
JSON). A changed value makes other bytes, and the signature no longer verifies.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from interface.custody import (
    LineError,
    SignedEntry,
    canonical,
    fold,
    key_id,
    parse_body,
    parse_line,
    public_key_from_pem,
    verify_ledger,
)
from interface.signing import KeyFileError
from interface.topics import Topics

#: The topics' suffixes under ``isru/<vehicle>/`` as the client's listener gets them
#: (docs/mqtt.md): entries, the retained head, and the start of an image's.
_TOPICS = Topics("v")
ENTRY = _TOPICS.samples_entry.removeprefix(f"{_TOPICS.prefix}/")
HEAD = _TOPICS.samples_head.removeprefix(f"{_TOPICS.prefix}/")
IMAGES = _TOPICS.image("-").removeprefix(f"{_TOPICS.prefix}/").removesuffix("-")
#: Entries kept; beyond, the sample heard first is forgotten whole.
MAX_ENTRIES = 5000
#: Entries kept of one sample (a flood naming one sample): beyond, its oldest heard go.
MAX_SAMPLE_ENTRIES = 500
#: Messages that name no sample, kept to be shown.
MAX_STRAYS = 20
OK = "ok"
#: How the check of a sample starts when there is no key to check it with.
UNCHECKED = "not checked:"
LINE_REF = re.compile(r" \(line \d+\)")


@dataclass(frozen=True)
class SampleRow:
    """What the tab shows of one sample."""

    sample: str
    mass: str  #: ``12.3 ± 0.05 g`` (the latest MEASURED), ``-`` before one
    location: str  #: the latest MOVED, ``scoop`` after COLLECTED, ``transferred``
    images: int
    newest_image: str | None
    newest_sha256: str | None
    custody: str  #: ``collected`` or ``transferred to BUYER under CONTRACT``
    check: str  #: ``ok``, or what is wrong (the first problem, and how many more)

    @property
    def ok(self) -> bool:
        return self.check == OK


class SampleBook:
    """The entries heard, by sample, and each sample's row (made again when it changed)."""

    def __init__(self, *, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self.key: Ed25519PublicKey | None = None
        self.head: dict[str, Any] = {}
        self.key_problem: str | None = None
        #: Problems of messages that name no sample, the latest MAX_STRAYS.
        self.strays: list[str] = []
        #: Sample -> its lines as heard, each with its seq (-1: none).
        self._lines: dict[str, list[tuple[int, bytes]]] = OrderedDict()
        self._seqs: dict[int, list[tuple[str, bytes]]] = {}  # seq -> (sample, line)
        self._count = 0
        self._rows: dict[str, SampleRow] = {}
        self._dirty: set[str] = set()

    # --- taking messages ---------------------------------------------------------------

    def take(self, suffix: str, document: dict[str, Any]) -> bool:
        """Take one message (topic suffix, parsed payload); whether it was a samples one."""
        if suffix == ENTRY:
            self.take_entry(document)
        elif suffix == HEAD:
            self.take_head(document)
        else:
            return False
        return True

    def take_head(self, document: dict[str, Any]) -> None:
        """The retained head: its public key checks every entry (all are checked again when
        it changes), and the hash it gives for its ``seq`` must be that entry's. An empty
        document (none heard yet) changes nothing."""
        if not document:
            return
        pem, signer = document.get("public_key_pem"), document.get("signer")
        key, problem = None, None
        if not isinstance(pem, str):
            problem = f"{UNCHECKED} the samples/head has no public_key_pem"
        else:
            try:
                key = public_key_from_pem(pem.encode(), Path(HEAD))
            except KeyFileError as exc:
                problem = f"{UNCHECKED} the samples/head's public_key_pem {exc.problem}"
        if key is not None and signer is not None and signer != key_id(key):
            problem = f"{UNCHECKED} the samples/head says signer {signer}, its key is {key_id(key)}"
            key = None
        if _id(key) != _id(self.key) or problem != self.key_problem:
            self._dirty.update(self._lines)
        for seq in (self.head.get("seq"), document.get("seq")):
            if isinstance(seq, int):
                self._dirty.update(name for name, _ in self._seqs.get(seq, ()))
        self.head, self.key, self.key_problem = document, key, problem

    def take_entry(self, document: dict[str, Any]) -> None:
        """One ``samples/entry`` message: ``{"entry": {...}, "sig": "<hex>"}``."""
        entry, sig = document.get("entry"), document.get("sig")
        if not isinstance(entry, dict) or not isinstance(sig, str):
            entry = {}
        sample = entry.get("sample")
        if not isinstance(sample, str) or not isinstance(sig, str):
            self._stray("an entry message without an entry naming its sample and a sig")
            return
        try:
            line = b'{"entry":' + canonical(entry) + b',"sig":"' + sig.encode() + b'"}'
        except (TypeError, ValueError) as exc:
            self._stray(f"an entry of {sample} that is not JSON data: {exc}")
            return
        seq = entry.get("seq")
        seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else -1
        lines = self._lines.setdefault(sample, [])
        if (seq, line) in lines:
            return  # heard twice (QoS 1 may deliver again)
        lines.append((seq, line))
        self._count += 1
        if len(lines) > MAX_SAMPLE_ENTRIES:
            old, dropped = lines.pop(0)
            self._count -= 1
            kept = [item for item in self._seqs.pop(old, ()) if item[1] != dropped]
            if kept:
                self._seqs[old] = kept
        self._dirty.add(sample)
        if seq >= 0:
            self._seqs.setdefault(seq, []).append((sample, line))
            for neighbour in (seq - 1, seq + 1):  # their links to the vehicle chain changed
                self._dirty.update(name for name, _ in self._seqs.get(neighbour, ()))
        while self._count > self.max_entries and len(self._lines) > 1:
            self._forget(next(iter(self._lines)))

    # --- rows --------------------------------------------------------------------------

    def rows(self) -> list[SampleRow]:
        """One row per sample, by sample id."""
        for sample in self._dirty & self._lines.keys():
            self._rows[sample] = self._row(sample)
        self._dirty.clear()
        return [self._rows[sample] for sample in sorted(self._rows)]

    def row(self, sample: str) -> SampleRow | None:
        self.rows()
        return self._rows.get(sample)

    def _row(self, sample: str) -> SampleRow:
        lines = [line for _, line in sorted(self._lines[sample], key=lambda item: item[0])]
        if self.key is None:
            entries = [e for e in (_parsed(line) for line in lines) if e is not None]
            problems = [self.key_problem or f"{UNCHECKED} no samples/head (public key) yet"]
        else:
            verified = verify_ledger(_joined(lines), self.key, file=sample, complete=False)
            entries = [signed for _, signed in verified.entries]
            problems = [_said(problem.message) for problem in verified.problems]
            problems += self._fork_problems(sample, entries, problems)
            problems += self._head_problems(entries)
        good = [signed for signed in entries if _body_ok(signed)]
        return _make_row(sample, good, problems)

    def _fork_problems(
        self, sample: str, entries: list[SignedEntry], known: list[str]
    ) -> list[str]:
        """Where an entry's ``prev`` is not the hash of the vehicle's entry before it (heard
        from another sample), as the verifier words it."""
        assert self.key is not None
        found: list[str] = []
        for signed in entries:
            line = signed.line.rstrip(b"\n")
            for other, before in self._seqs.get(signed.entry.seq - 1, ()):
                if other == sample:
                    continue  # checked with the sample's own entries
                pair = verify_ledger(_joined([before, line]), self.key, complete=False)
                for problem in pair.problems:
                    text = _said(problem.message)
                    if problem.code == "chain" and problem.line == 2 and text not in known:
                        found.append(text)
        return found

    def _head_problems(self, entries: list[SignedEntry]) -> list[str]:
        seq, wanted = self.head.get("seq"), self.head.get("hash")
        return [
            f"seq {seq}: the head says its hash is {str(wanted)[:16]}..., "
            f"the entry heard has {signed.hash[:16]}...: the chain forks"
            for signed in entries
            if signed.entry.seq == seq and isinstance(wanted, str) and signed.hash != wanted
        ]

    def _forget(self, sample: str) -> None:
        for seq, _ in self._lines.pop(sample):
            self._count -= 1
            kept = [item for item in self._seqs.get(seq, ()) if item[0] != sample]
            if kept:
                self._seqs[seq] = kept
            else:
                self._seqs.pop(seq, None)
        self._rows.pop(sample, None)
        self._dirty.discard(sample)

    def _stray(self, problem: str) -> None:
        self.strays = [*self.strays, problem][-MAX_STRAYS:]


def _id(key: Ed25519PublicKey | None) -> str | None:
    return None if key is None else key_id(key)


def _said(message: str) -> str:
    """A verifier's message without line numbers (the console has no file)."""
    return LINE_REF.sub("", message)


def _joined(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def _parsed(line: bytes) -> SignedEntry | None:
    """The entry of a line (unchecked: there is no key), or None when it is not one."""
    try:
        return parse_line(line)
    except LineError:
        return None


def _body_ok(signed: SignedEntry) -> bool:
    try:
        parse_body(signed.entry.kind, signed.entry.body)
    except ValidationError:
        return False
    return True


def _make_row(sample: str, entries: list[SignedEntry], problems: list[str]) -> SampleRow:
    record = fold(entries).get(sample)
    measured = record.measured if record else None
    images = record.images if record else []
    last = record.transfers[-1] if record and record.transfers else None
    check = OK
    if problems:
        more = len(problems) - 1
        check = problems[0] + (f" (and {more} more)" if more else "")
    return SampleRow(
        sample=sample,
        mass="-" if measured is None else f"{measured.mass_g:g} ± {measured.sigma_g:g} g",
        location=str(record.location) if record and record.location else "?",
        images=len(images),
        newest_image=images[-1].name if images else None,
        newest_sha256=images[-1].sha256 if images else None,
        custody=f"transferred to {last.buyer} under {last.contract}" if last else "collected",
        check=check,
    )
