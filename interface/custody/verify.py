"""Checking a ledger's bytes: every line, signature, hash link and rule, each problem named.

:func:`verify_ledger` reads the lines of a whole ledger (``complete``: the vehicle's chain
from seq 0) or of one sample's entries (a package: other samples' entries are absent, so the
vehicle chain is checked only where two entries are neighbours). It trusts only the entries
whose signature is the vehicle key's; the order, gaps and links are checked among those, so
one altered entry is reported once, at its own line, not again at its neighbours.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from interface.custody.chain import LineError, SignedEntry, first_error, parse_line
from interface.custody.keys import key_id
from interface.custody.model import ZERO_HASH, Kind, parse_body

__all__ = ["Problem", "Verified", "split_lines", "verify_ledger"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong: in ``file`` (at ``line``, 0 for the file as a whole), of a ``code``
    (``torn``, ``unreadable``, ``other-key``, ``signature``, ``vehicle``, ``body``,
    ``reordered``, ``duplicate``, ``missing``, ``chain``, ``rule``, ``image``, ``manifest``,
    ``summary``, ``countersignature``, ``key``), and what it is in words."""

    file: str
    line: int
    code: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file} line {self.line}" if self.line else self.file
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Verified:
    """The entries of a ledger whose signature is good, in file order with their line
    numbers, and every problem found."""

    entries: list[tuple[int, SignedEntry]]
    problems: list[Problem]


def split_lines(data: bytes) -> tuple[list[bytes], bytes]:
    """The complete lines of ``data`` (without their newlines) and the torn tail after the
    last newline (empty when the data ends with one)."""
    end = data.rfind(b"\n") + 1
    body, tail = data[:end], data[end:]
    return (body.split(b"\n")[:-1] if body else []), tail


def _label(signed: SignedEntry) -> str:
    entry = signed.entry
    return f"seq {entry.seq} ({entry.kind} #{entry.sample_seq} of {entry.sample})"


def verify_ledger(
    data: bytes,
    key: Ed25519PublicKey,
    *,
    file: str = "ledger",
    complete: bool = True,
    vehicle: str | None = None,
) -> Verified:
    """Every problem of the ledger bytes ``data`` signed (it should be) by ``key``."""
    problems: list[Problem] = []
    lines, tail = split_lines(data)
    if tail:
        problems.append(
            Problem(
                file,
                len(lines) + 1,
                "torn",
                f"torn last line: {len(tail)} bytes with no newline at the end "
                "(a write cut short, or the file cut or joined)",
            )
        )
    wanted = key_id(key)
    trusted: list[tuple[int, SignedEntry]] = []
    untrusted: list[int] = []
    for number, line in enumerate(lines, start=1):
        problem = _check_line(line, key, wanted, vehicle)
        if isinstance(problem, str):
            code, _, message = problem.partition(":")
            problems.append(Problem(file, number, code, message.strip()))
            untrusted.append(number)
            continue
        signed = problem
        vehicle = vehicle or signed.entry.vehicle
        trusted.append((number, signed))
        try:
            parse_body(signed.entry.kind, signed.entry.body)
        except ValidationError as exc:
            problems.append(
                Problem(
                    file,
                    number,
                    "body",
                    f"not a valid {signed.entry.kind} body: {first_error(exc)}",
                )
            )
    problems += _order(file, trusted)
    problems += _links(file, trusted, untrusted, complete=complete)
    return Verified(trusted, problems)


def _check_line(
    line: bytes, key: Ed25519PublicKey, wanted: str, vehicle: str | None
) -> SignedEntry | str:
    """The entry, or ``code: message`` of why it cannot be trusted."""
    if not line:
        return "unreadable: empty line"
    try:
        signed = parse_line(line)
    except LineError as exc:
        return f"unreadable: {exc}"
    entry = signed.entry
    if entry.signer != wanted:
        return (
            f"other-key: {_label(signed)} says it is signed by key {entry.signer}, "
            f"not the vehicle key {wanted}"
        )
    if not signed.verifies(key):
        return (
            f"signature: {_label(signed)}: signature does not verify with the vehicle key "
            f"{wanted}: the entry was changed after it was signed, or signed with another key"
        )
    if vehicle is not None and entry.vehicle != vehicle:
        return f"vehicle: {_label(signed)} is of vehicle {entry.vehicle!r}, not {vehicle!r}"
    return signed


def _order(file: str, trusted: list[tuple[int, SignedEntry]]) -> Iterator[Problem]:
    for (_, before), (number, signed) in pairwise(trusted):
        seq, previous = signed.entry.seq, before.entry.seq
        if seq == previous:
            yield Problem(file, number, "duplicate", f"{_label(signed)} appears twice")
        elif seq < previous:
            yield Problem(
                file,
                number,
                "reordered",
                f"{_label(signed)} comes after seq {previous}: entries are out of order",
            )


def _span(first: int, last: int, sample: str = "") -> str:
    """``seq 3 is missing``, ``seq 3 to 5 are missing``, ``entry #2 of S is missing``..."""
    if sample:
        if first == last:
            return f"entry #{first} of {sample} is missing"
        return f"entries #{first} to #{last} of {sample} are missing"
    return f"seq {first} is missing" if first == last else f"seq {first} to {last} are missing"


def _gap(seqs: list[int], a: int, b: int) -> bool:
    """Whether some seq between ``a`` and ``b`` is not in the sorted ``seqs``."""
    return bisect_left(seqs, b) - bisect_right(seqs, a) < b - a - 1


def _hidden(untrusted: list[int], a: int, b: int) -> bool:
    """Whether an untrusted line (reported already) lies between lines ``a`` and ``b``."""
    low, high = min(a, b), max(a, b)
    return any(low < n < high for n in untrusted)


def _links(
    file: str, trusted: list[tuple[int, SignedEntry]], untrusted: list[int], *, complete: bool
) -> Iterator[Problem]:
    """Gaps and broken hash links between neighbours in the vehicle's chain, skipped across
    lines that could not be trusted (already reported)."""
    by_seq = {signed.entry.seq: (n, signed) for n, signed in reversed(trusted)}
    ordered = [by_seq[seq] for seq in sorted(by_seq)]
    if complete and ordered:
        number, first = ordered[0]
        if first.entry.seq > 0 and not _hidden(untrusted, 0, number):
            yield Problem(
                file,
                number,
                "missing",
                f"{_span(0, first.entry.seq - 1)} before {_label(first)}",
            )
        elif first.entry.seq == 0 and first.entry.prev != ZERO_HASH:
            yield Problem(
                file, number, "chain", f"{_label(first)} is first but its prev is not zero"
            )
    for (line_a, a), (line_b, b) in pairwise(ordered):
        if _hidden(untrusted, line_a, line_b):
            continue
        gap = b.entry.seq - a.entry.seq
        if gap == 1 and b.entry.prev != a.hash:
            yield Problem(
                file,
                line_b,
                "chain",
                f"{_label(b)}: prev is not the hash of seq {a.entry.seq} (line {line_a}): "
                "the chain forks here",
            )
        elif gap > 1 and complete:
            yield Problem(
                file,
                line_b,
                "missing",
                f"{_span(a.entry.seq + 1, b.entry.seq - 1)} before {_label(b)}",
            )
    yield from _sample_links(file, ordered, untrusted, complete=complete)


def _sample_links(
    file: str, ordered: list[tuple[int, SignedEntry]], untrusted: list[int], *, complete: bool
) -> Iterator[Problem]:
    """Each sample's own chain: #0 is COLLECTED, then #1, #2... each linked to the one before."""
    seqs = [signed.entry.seq for _, signed in ordered]
    samples: dict[str, list[tuple[int, SignedEntry]]] = {}
    for item in ordered:
        samples.setdefault(item[1].entry.sample, []).append(item)
    for name, items in samples.items():
        number, first = items[0]
        gap_before = complete and _gap(seqs, -1, first.entry.seq)  # reported by seq already
        if first.entry.sample_seq > 0 and not gap_before and not _hidden(untrusted, 0, number):
            yield Problem(
                file,
                number,
                "missing",
                f"{_span(0, first.entry.sample_seq - 1, name)} before {_label(first)}",
            )
        for line, signed in items:
            entry = signed.entry
            if entry.sample_seq == 0 and entry.sample_prev != ZERO_HASH:
                yield Problem(
                    file, line, "chain", f"{_label(signed)} is #0 but its sample_prev is not zero"
                )
            if (entry.sample_seq == 0) != (entry.kind is Kind.COLLECTED):
                yield Problem(
                    file,
                    line,
                    "rule",
                    f"{_label(signed)}: a sample's entry #0, and only it, is COLLECTED",
                )
        for (line_a, a), (line_b, b) in pairwise(items):
            step = b.entry.sample_seq - a.entry.sample_seq
            if _hidden(untrusted, line_a, line_b):
                continue
            if step == 1 and b.entry.sample_prev != a.hash:
                yield Problem(
                    file,
                    line_b,
                    "chain",
                    f"{_label(b)}: sample_prev is not the hash of #{a.entry.sample_seq} "
                    f"(line {line_a}): the sample's chain forks here",
                )
            elif step > 1 and not (complete and _gap(seqs, a.entry.seq, b.entry.seq)):
                span = _span(a.entry.sample_seq + 1, b.entry.sample_seq - 1, name)
                yield Problem(file, line_b, "missing", f"{span} before {_label(b)}")
            elif step < 1:
                yield Problem(
                    file,
                    line_b,
                    "rule",
                    f"{_label(b)} follows #{a.entry.sample_seq} (seq {a.entry.seq}) in its sample",
                )
