"""``isru samples export`` and ``countersign``: making a package from a ledger, and adding an
operator's countersignature to one (the command line is :mod:`isru.samples_cli`)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from interface.custody import (
    Kind,
    SignedEntry,
    Verified,
    countersign,
    key_id,
    load_public_key,
    load_signing_key,
    package_files,
    verify_ledger,
    verify_package,
    write_files,
)

__all__ = ["Refused", "countersign_package", "export_sample", "read_ledger"]


class Refused(Exception):
    """What the command refuses to do, and why: one line or several."""

    def __init__(self, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def read_ledger(path: Path, key: Ed25519PublicKey) -> Verified:
    """Every entry and problem of the ledger file at ``path`` under the vehicle's ``key``."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise Refused(f"ledger {path}: does not exist") from None
    except OSError as exc:
        raise Refused(f"ledger {path}: not readable: {exc.strerror or exc}") from None
    return verify_ledger(data, key, file=str(path))


def _in_order(verified: Verified) -> list[SignedEntry]:
    return [signed for _, signed in sorted(verified.entries, key=lambda item: item[1].entry.seq)]


def export_sample(options: argparse.Namespace) -> str:
    """Write the package of ``options.sample``; what was written, in one line."""
    key = load_public_key(options.vehicle_key)
    verified = read_ledger(options.ledger, key)
    if verified.problems:
        lines = [str(problem) for problem in verified.problems]
        raise Refused(*lines, f"ledger {options.ledger}: does not verify; nothing exported")
    entries = _in_order(verified)
    mine = [signed for signed in entries if signed.entry.sample == options.sample]
    if not mine:
        known = ", ".join(dict.fromkeys(s.entry.sample for s in entries)) or "none"
        raise Refused(f"no sample {options.sample} in {options.ledger} (samples: {known})")
    names = [
        image["name"]
        for signed in mine
        if signed.entry.kind is Kind.IMAGED
        for image in signed.entry.body["images"]
    ]
    if names and options.images is None:
        raise Refused(f"sample {options.sample} has {len(names)} images: give --images DIR")
    images = {}
    for name in names:
        path = options.images / name
        try:
            images[name] = path.read_bytes()
        except OSError as exc:
            raise Refused(f"image {path}: not readable: {exc.strerror or exc}") from None
    write_files(options.directory, package_files(mine, key, images))
    return (
        f"wrote {options.directory}: sample {options.sample}, {len(mine)} entries, "
        f"{len(images)} images; vehicle key {key_id(key)}"
    )


def countersign_package(options: argparse.Namespace) -> str:
    """Add the operator's countersignature to the package; what was done, in one line."""
    operator_key = load_signing_key(options.key)
    pinned = load_public_key(options.vehicle_key) if options.vehicle_key else None
    report = verify_package(options.directory, vehicle_key=pinned)
    if report.problems:
        lines = [str(problem) for problem in report.problems]
        raise Refused(*lines, f"{options.directory}: does not verify; not countersigned")
    assert report.key is not None
    by_seq = {signed.entry.seq: signed for signed in report.entries}
    if options.seq is not None:
        target = by_seq.get(options.seq)
        if target is None:
            seqs = ", ".join(map(str, by_seq))
            raise Refused(f"no entry seq {options.seq} in {options.directory} (seqs: {seqs})")
    else:
        sold = [s for s in report.entries if s.entry.kind is Kind.TRANSFERRED]
        target = (sold or report.entries)[-1]
    try:
        mark = countersign(
            operator_key,
            target,
            operator=options.operator,
            statement=options.statement,
            utc=datetime.now(UTC),
        )
    except ValueError as exc:
        raise Refused(str(exc)) from None
    public = operator_key.public_key()
    operators = {**report.operator_keys, key_id(public): public}
    files = package_files(
        report.entries,
        report.key,
        report.images,
        [*report.countersignatures, mark],
        operators.values(),
    )
    write_files(options.directory, files, new=False)
    return (
        f"countersigned seq {target.entry.seq} ({target.entry.kind}) of sample "
        f"{target.entry.sample} as {options.operator} with key {key_id(public)}"
    )
