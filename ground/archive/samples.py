"""Reading samples back: the rows of the streams that carry the channels asked for, merged
per instant (samples of several packets made at the same instant come as one)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from ground.archive.query import parse_time


def streams_of(db: sqlite3.Connection, vehicle: str | None, names: list[str]) -> list[str]:
    """The telemetry streams of ``vehicle`` that ever carried one of the channels ``names``."""
    marks = ", ".join("?" * len(names))
    rows = db.execute(
        f"SELECT DISTINCT stream FROM channels WHERE vehicle = ? AND channel IN ({marks}) "
        "ORDER BY stream",
        (vehicle, *names),
    )
    return [row[0] for row in rows]


def merged_samples(
    db: sqlite3.Connection,
    names: list[str],
    streams: list[str],
    vehicle: str,
    low: float,
    high: float,
) -> Iterator[tuple[datetime, dict[str, Any]]]:
    """``(time, {channel: value})`` in time order, ``low <= t <= high`` (epoch seconds)."""
    if not streams:
        return
    marks = ", ".join("?" * len(streams))
    rows = db.execute(
        f'SELECT time, "values" FROM telemetry WHERE vehicle = ? AND stream IN ({marks}) '
        "AND t >= ? AND t <= ? ORDER BY t, time, stream, seq",
        (vehicle, *streams, low, high),
    )
    current: str | None = None
    merged: dict[str, Any] = {}
    for text, encoded in rows:
        values = json.loads(encoded)
        picked = {name: values[name] for name in names if name in values}
        if not picked:
            continue
        if text != current:
            if current is not None:
                yield parse_time(current), merged
            current, merged = text, {}
        merged.update(picked)
    if current is not None:
        yield parse_time(current), merged
