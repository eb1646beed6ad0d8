"""``isru ground plot CHANNEL... -o FILE.png``: plot archived channels, a subplot per unit."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from ground.archive import Archive
from ground.cli.output import note


def run(options: argparse.Namespace) -> int:
    samples = plot(
        options.archive,
        options.channels,
        options.output,
        start=options.start,
        end=options.end,
        vehicle=options.vehicle,
    )
    note(f"wrote {options.output} ({samples} samples)")
    return 0


def plot(
    archive_path: Path,
    channels: Sequence[str],
    out: Path,
    *,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    vehicle: str | None = None,
) -> int:
    """Plot ``channels`` into the PNG ``out`` (:func:`ground.archive.plot.plot`); the samples."""
    from ground.archive.plot import plot as draw  # matplotlib only when plotting

    with Archive(archive_path, create=False) as archive:
        return draw(archive, channels, out, start, end, vehicle=vehicle)
