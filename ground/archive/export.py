"""The archive as CSV: a ``time`` column (UTC ISO 8601), then one column per channel."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from ground.archive.query import channel_list, format_time

if TYPE_CHECKING:
    from ground.archive.store import Archive

#: The export formats: CSV only, today.
FORMATS = ("csv",)


def write_csv(
    archive: Archive,
    out: TextIO,
    channels: Sequence[str] | None = None,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    *,
    vehicle: str | None = None,
) -> int:
    """Write CSV to ``out``: a ``time`` column then one column per channel (every stored
    channel, sorted, when None), one row per sample time; returns the rows."""
    if not hasattr(out, "write"):
        raise TypeError(f"out: expected a text file, got {out!r}")
    names = sorted(archive.channels(vehicle)) if channels is None else channel_list(channels)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["time", *names])
    count = 0
    if not names:
        return 0
    for when, values in archive.samples(names, start, end, vehicle=vehicle):
        writer.writerow([format_time(when), *(_cell(values.get(n)) for n in names)])
        count += 1
    return count


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)
