"""``isru samples``: the samples in a custody ledger, their export packages, their check.

- ``list SOURCE``: one line per sample (where it is, its mass, when it was dug, its owner).
- ``show ID SOURCE [--json]``: one sample, as its package's summary (Markdown) or as JSON.
- ``export ID DIR SOURCE``: write the sample's self-contained package into DIR (new or empty).
- ``images --archive DB [--vehicle V]``: the images the archive holds, and those still
  waiting for chunks (with the ``CAMERA.SEND name=N first_chunk=F last_chunk=L`` commands
  that send the missing ones again) or bad. Exit 1 unless all are kept.

SOURCE is ``--ledger FILE --vehicle-key PEM [--images DIR]`` (the board's ledger file) or
``--archive DB [--vehicle V] [--vehicle-key PEM]`` (what the ground recorder kept; without
``--vehicle-key``, the key the vehicle's head announced, named as not pinned).
- ``verify PATH [--vehicle-key PEM] [--operator-key PEM]...``: check a package (a directory)
  or a whole ledger (a file; needs ``--vehicle-key``). Valid: one line saying what was
  checked, exit 0. Invalid: one line per problem, exit 1.
- ``countersign DIR --key OPERATOR_KEY --operator NAME [--seq N] [--statement TEXT]``: add an
  operator's countersignature to a package (of its last TRANSFERRED entry by default).

A ledger's entries are trusted only under the vehicle's public key (``--vehicle-key``: a
public key PEM, or the signing key itself on the board). Exit status: 0 done, 1 refused or
invalid (the reasons, one a line), 2 a usage error. ``docs/samples.md`` describes it all.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ground.archive import Archive, ArchiveError
from ground.archive.images import resend_commands, spans
from interface.custody import (
    CustodyError,
    PackageError,
    Problem,
    SampleRecord,
    fold,
    key_id,
    load_public_key,
    summary_markdown,
    verify_package,
)
from interface.signing import KeyFileError
from isru.samples_export import countersign_package, export_sample
from isru.samples_source import Refused, Source, Usage, open_source, read_ledger
from isru.verb_cli import OK, REFUSED, USAGE, run_verb, verb_parser

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser, verbs = verb_parser("isru samples", "Sample custody: ledgers, export packages, checks.")

    def ledger(sub: argparse.ArgumentParser) -> None:
        source = sub.add_mutually_exclusive_group(required=True)
        source.add_argument("--ledger", type=Path, metavar="FILE", help="a ledger file")
        source.add_argument("--archive", type=Path, metavar="DB", help="the ground archive")
        sub.add_argument("--vehicle", help="with --archive: the vehicle (when it holds several)")
        sub.add_argument(
            "--vehicle-key", type=Path, metavar="PEM", help="vehicle's key (needed with --ledger)"
        )

    listing = verbs.add_parser("list", help="one line per sample in a ledger")
    ledger(listing)
    show = verbs.add_parser("show", help="one sample: its summary, or --json")
    show.add_argument("sample", metavar="ID")
    ledger(show)
    show.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    export = verbs.add_parser("export", help="write a sample's package into DIR")
    export.add_argument("sample", metavar="ID")
    export.add_argument("directory", metavar="DIR", type=Path)
    ledger(export)
    export.add_argument("--images", type=Path, metavar="DIR", help="with --ledger: images")
    images = verbs.add_parser("images", help="the archive's images, and the incomplete ones")
    images.add_argument("--archive", type=Path, required=True, metavar="DB", help="archive")
    images.add_argument("--vehicle", help="the vehicle (when the archive holds several)")
    verify = verbs.add_parser("verify", help="check a package (DIR) or a ledger (FILE)")
    verify.add_argument("path", metavar="PATH", type=Path)
    verify.add_argument("--vehicle-key", type=Path, metavar="PEM", help="the key you trust")
    verify.add_argument(
        "--operator-key", type=Path, action="append", metavar="PEM", help="(repeatable)"
    )
    sign = verbs.add_parser("countersign", help="add an operator's countersignature")
    sign.add_argument("directory", metavar="DIR", type=Path)
    sign.add_argument("--key", type=Path, required=True, metavar="PEM", help="operator's key")
    sign.add_argument("--operator", required=True, help="the operator's name")
    sign.add_argument("--seq", type=int, help="the entry (default: the last TRANSFERRED)")
    sign.add_argument("--statement", default="received and checked", help="what is vouched")
    sign.add_argument("--vehicle-key", type=Path, metavar="PEM", help="the key you trust")
    return parser


def _problems(problems: list[Problem]) -> None:
    for problem in problems:
        print(problem)


def _records(options: argparse.Namespace) -> tuple[dict[str, SampleRecord], Source]:
    source = open_source(options)
    for line in [*source.notes, *map(str, source.verified.problems)]:
        print(f"isru samples: {line}", file=sys.stderr)
    if source.verified.problems:
        raise Refused(f"{source.label}: {len(source.verified.problems)} problems (above)")
    return fold(source.entries()), source


def _list(options: argparse.Namespace) -> None:
    records, _ = _records(options)
    print(f"{'sample':<20} {'where':<12} {'mass g':>14} {'dug (mission)':<28} owner")
    for record in records.values():
        m = record.measured
        mass = f"{m.mass_g}+-{m.sigma_g}" if m else "-"
        dug = record.collected.dig_start.mission if record.collected else "-"
        print(
            f"{record.sample:<20} {record.location or '-':<12} {mass:>14} {dug:<28} "
            f"{record.owner or '-'}"
        )


def _show(options: argparse.Namespace) -> None:
    records, source = _records(options)
    record = records.get(options.sample)
    if record is None:
        known = ", ".join(records) or "none"
        raise Refused(f"no sample {options.sample} in {source.place} (samples: {known})")
    if not options.json:
        sys.stdout.write(summary_markdown(record, key_id(source.key)))
        return
    document: dict[str, Any] = {
        "sample": record.sample,
        "vehicle": record.vehicle,
        "location": record.location,
        "owner": record.owner,
        "entries": [
            {**signed.entry.model_dump(mode="json"), "hash": signed.hash}
            for signed in record.entries
        ],
    }
    print(json.dumps(document, indent=2))


def _verify(options: argparse.Namespace) -> int:
    pinned = load_public_key(options.vehicle_key) if options.vehicle_key else None
    operators = [load_public_key(path) for path in options.operator_key or []]
    if not options.path.exists():
        raise Refused(f"{options.path}: does not exist (a package directory or a ledger file)")
    if not options.path.is_dir():
        if pinned is None:
            print("isru samples: verifying a ledger file needs --vehicle-key", file=sys.stderr)
            return USAGE
        verified = read_ledger(options.path, pinned)
        _problems(verified.problems)
        if not verified.problems:
            samples = len(fold(signed for _, signed in verified.entries))
            print(
                f"valid: ledger {options.path}: {len(verified.entries)} entries, "
                f"{samples} samples, vehicle key {key_id(pinned)}"
            )
        return REFUSED if verified.problems else OK
    report = verify_package(options.path, vehicle_key=pinned, operator_keys=operators or None)
    _problems(report.problems)
    if report.problems:
        return REFUSED
    assert report.manifest is not None and report.key is not None
    trust = "the key you gave" if pinned else "not pinned: compare it with the vehicle's key"
    print(
        f"valid: sample {report.manifest.sample} of {report.manifest.vehicle}: "
        f"{len(report.entries)} entries, {len(report.images)} images, "
        f"{len(report.countersignatures)} countersignatures; vehicle key "
        f"{key_id(report.key)} ({trust})"
    )
    return OK


def _images(options: argparse.Namespace) -> int:
    try:
        with Archive(options.archive, create=False) as archive:
            vehicle = archive.custody.vehicle(options.vehicle)
            states = archive.custody.images(vehicle)
    except ArchiveError as exc:
        raise Refused(str(exc)) from None
    print(f"{'image':<40} {'bytes':>9} {'sample':<16} state")
    for state in states:
        meta = state.meta
        if state.file is not None:
            what = f"kept: {state.file}"
        elif state.problem is not None:
            what = f"bad: {state.problem}"
        else:
            what = f"waiting: chunks {spans(state.missing)} of {meta.chunks} missing: " + "; ".join(
                resend_commands(meta.name, state.missing)
            )
        print(f"{meta.name:<40} {meta.bytes:>9} {meta.sample or '-':<16} {what}")
    return OK if all(state.file is not None for state in states) else REFUSED


def main(argv: list[str] | None = None) -> int:
    """Run ``isru samples``; return the exit status."""
    return run_verb(_parser(), argv, _run, (KeyFileError, PackageError, CustodyError))


def _run(options: argparse.Namespace) -> int | None:
    try:
        if options.verb == "list":
            _list(options)
        elif options.verb == "show":
            _show(options)
        elif options.verb == "export":
            print(export_sample(options))
        elif options.verb == "countersign":
            print(countersign_package(options))
        elif options.verb == "images":
            return _images(options)
        else:
            return _verify(options)
    except Refused as exc:
        for line in exc.lines:
            print(f"isru samples: {line}", file=sys.stderr)
        return REFUSED
    except Usage as exc:
        print(f"isru samples: {exc}", file=sys.stderr)
        return USAGE
    return None


if __name__ == "__main__":
    sys.exit(main())
