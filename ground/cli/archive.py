"""``isru ground archive export|gaps``: the archive as CSV, and the telemetry it misses."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TextIO

from ground.archive import FORMATS, Archive
from ground.cli.output import note
from interface.catalog import DICTIONARY


def run(options: argparse.Namespace) -> int:
    if options.action == "export":
        rows = export(
            options.archive,
            fmt=options.fmt,
            channels=options.channels or None,
            start=options.start,
            end=options.end,
            out=options.output,
            vehicle=options.vehicle,
        )
        if options.output is not None:
            note(f"wrote {rows} rows to {options.output}")
        return 0
    gaps(options.archive, vehicle=options.vehicle)
    return 0


def export(
    archive_path: Path,
    *,
    fmt: str = "csv",
    channels: Sequence[str] | None = None,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    out: Path | TextIO | None = None,
    vehicle: str | None = None,
) -> int:
    """Export samples as CSV to ``out`` (a path, a text file, or stdout); returns the rows."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt: {fmt!r} is not supported (one of: {', '.join(FORMATS)})")
    with Archive(archive_path, create=False) as archive:
        if channels is not None:
            known = set(archive.channels(vehicle)) | set(DICTIONARY.channel_index)
            unknown = [name for name in channels if name not in known]
            if unknown:
                raise ValueError(
                    f"channels: {', '.join(unknown)} neither in the archive nor in dictionary "
                    f"{DICTIONARY.version}"
                )
        if isinstance(out, Path):
            if not out.parent.is_dir():
                raise ValueError(f"out: directory {out.parent} does not exist")
            with out.open("w", newline="", encoding="utf-8") as file:
                return archive.export_csv(file, channels, start, end, vehicle=vehicle)
        return archive.export_csv(out or sys.stdout, channels, start, end, vehicle=vehicle)


def gaps(archive_path: Path, *, vehicle: str | None = None, out: TextIO | None = None) -> int:
    """Print ``stream: first-last missing`` per gap, or ``no gaps``; returns the gap count."""
    stream = out or sys.stdout
    with Archive(archive_path, create=False) as archive:
        found = archive.gap_report(vehicle)
    for gap in found:
        span = str(gap.first) if gap.first == gap.last else f"{gap.first}-{gap.last}"
        where = f" (run {gap.run} of {gap.runs}, before {gap.before})" if gap.runs > 1 else ""
        print(f"{gap.stream}: {span} missing{where}", file=stream)
    if not found:
        print("no gaps", file=stream)
    return len(found)
