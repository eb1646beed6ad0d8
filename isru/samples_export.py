"""``isru samples export`` and ``countersign``: making a package from a ledger or the ground
archive, and adding an operator's countersignature to one (the command line is
:mod:`isru.samples_cli`)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from interface.custody import (
    Kind,
    countersign,
    key_id,
    load_public_key,
    load_signing_key,
    package_files,
    verify_package,
    write_files,
)
from isru.samples_source import Refused, Source, open_source, read_ledger

__all__ = ["Refused", "countersign_package", "export_sample", "read_ledger", "write_package"]


def export_sample(options: argparse.Namespace) -> str:
    """Write the package of ``options.sample`` from its ledger or the archive
    (:func:`~isru.samples_source.open_source`); what was written, in one line."""
    source = open_source(options)
    for note in source.notes:
        print(f"isru samples: {note}", file=sys.stderr)
    return write_package(source, options.sample, options.directory)


def write_package(source: Source, sample: str, directory: Path) -> str:
    """Write the package of ``sample`` from ``source`` into ``directory`` (new or empty);
    what was written, in one line. Refused when the ledger does not verify, the sample is
    not in it, or an image it names cannot be had."""
    if source.verified.problems:
        lines = [str(problem) for problem in source.verified.problems]
        raise Refused(*lines, f"{source.label}: does not verify; nothing exported")
    entries = source.entries()
    mine = [signed for signed in entries if signed.entry.sample == sample]
    if not mine:
        known = ", ".join(dict.fromkeys(s.entry.sample for s in entries)) or "none"
        raise Refused(f"no sample {sample} in {source.place} (samples: {known})")
    wanted = [
        (image["name"], image["sha256"])
        for signed in mine
        if signed.entry.kind is Kind.IMAGED
        for image in signed.entry.body["images"]
    ]
    if wanted and source.images is None:
        raise Refused(f"sample {sample} has {len(wanted)} images: give --images DIR")
    images = {name: source.images(name, sha256) for name, sha256 in wanted if source.images}
    write_files(directory, package_files(mine, source.key, images))
    return (
        f"wrote {directory}: sample {sample}, {len(mine)} entries, "
        f"{len(images)} images; vehicle key {key_id(source.key)}"
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
