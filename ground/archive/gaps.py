"""Gaps in a telemetry stream, run by run (see the notes in :mod:`ground.archive`).

A stream's rows, in time order, start a new *run* wherever seq does not increase (the flight
restarted). Within a run every missing seq between neighbours is a gap; the first run's gaps
start at its lowest stored seq (the recorder may have started mid-run), every later run is
known to start at seq 1. A restart is therefore never a gap.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Gap:
    """Seqs ``first``..``last`` of ``stream`` are missing, in run ``run`` (1 = the earliest
    stored) of ``runs``; ``after``/``before`` are the times of the stored neighbours
    (``after`` is None for a gap at the start of a later run)."""

    vehicle: str
    stream: str
    run: int
    runs: int
    first: int
    last: int
    after: str | None
    before: str


def stream_gaps(vehicle: str, stream: str, rows: Iterable[tuple[int, str]]) -> list[Gap]:
    """The gaps of one stream from its ``(seq, time)`` rows in time order."""
    found: list[tuple[int, int, int, str | None, str]] = []  # run, first, last, after, before
    run, last_seq, last_time = 0, None, None
    for seq, text in rows:
        if last_seq is None or seq <= last_seq:
            run += 1
            if run > 1 and seq > 1:
                found.append((run, 1, seq - 1, None, text))
        elif seq > last_seq + 1:
            found.append((run, last_seq + 1, seq - 1, last_time, text))
        last_seq, last_time = seq, text
    return [Gap(vehicle, stream, r, run, a, b, x, y) for r, a, b, x, y in found]
