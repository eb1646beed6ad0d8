"""Plots of archived telemetry: one subplot per unit, time on x, written as a PNG.

Matplotlib draws with its Agg canvas directly (no pyplot, no display, no global backend).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from ground.archive.query import span_text
from ground.archive.schema import ArchiveError
from ground.archive.store import Archive
from interface.catalog import DICTIONARY
from interface.dictionary import Dictionary

PLOTTABLE = ("float", "int", "bool")
NO_UNIT = "(no unit)"


def plot(
    archive: Archive,
    channels: Sequence[str],
    out: Path,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    *,
    vehicle: str | None = None,
    dictionary: Dictionary = DICTIONARY,
    title: str | None = None,
) -> int:
    """Plot ``channels`` between ``start`` and ``end`` (inclusive) into the PNG ``out``;
    returns the samples drawn. ValueError for a channel the dictionary does not have or that
    is not numeric; ArchiveError when the archive has no samples of any of them."""
    if not isinstance(archive, Archive):
        raise TypeError(f"archive: expected an Archive, got {archive!r}")
    if isinstance(channels, str) or not isinstance(channels, Sequence) or not channels:
        raise ValueError("channels: name at least one channel to plot")
    if not isinstance(out, Path):
        raise TypeError(f"out: expected a Path, got {out!r}")
    if out.suffix.lower() != ".png":
        raise ValueError(f"out: {out} must end in .png")
    if not out.parent.is_dir():
        raise ValueError(f"out: directory {out.parent} does not exist")
    index = dictionary.channel_index
    names = list(dict.fromkeys(channels))
    unknown = [name for name in names if name not in index]
    if unknown:
        raise ValueError(
            f"channels: {', '.join(map(str, unknown))} not in dictionary {dictionary.version} "
            "(`isru dict` lists the channels)"
        )
    text = [f"{n} ({index[n].type})" for n in names if index[n].type not in PLOTTABLE]
    if text:
        raise ValueError(f"channels: {', '.join(text)} cannot be plotted: not numeric")

    series: dict[str, tuple[list[datetime], list[float]]] = {n: ([], []) for n in names}
    count = 0
    for when, values in archive.samples(names, start, end, vehicle=vehicle):
        for name, value in values.items():
            number = _number(value)
            if number is not None:
                times, ys = series[name]
                times.append(when)
                ys.append(number)
        count += 1
    empty = [name for name in names if not series[name][0]]
    if len(empty) == len(names):
        span = span_text(start, end)
        raise ArchiveError(f"no data for {', '.join(names)}{span} in {archive.path}")

    units: dict[str, list[str]] = {}
    for name in names:
        units.setdefault(index[name].unit or NO_UNIT, []).append(name)
    figure = Figure(figsize=(10, 2.6 * len(units) + 0.8), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(units), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (unit, members) in zip(axes, units.items(), strict=True):
        for name in members:
            times, ys = series[name]
            label = name if times else f"{name} (no data)"
            if index[name].type == "bool":
                ax.step(times, ys, where="post", label=label)
            else:
                ax.plot(times, ys, label=label, linewidth=1.0)
        ax.set_ylabel(unit)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", fontsize="small")
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    axes[-1].xaxis.set_major_locator(locator)
    formatter = ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]
    axes[-1].xaxis.set_major_formatter(formatter)
    axes[-1].set_xlabel("time (UTC)")
    figure.suptitle(title or f"{', '.join(names)}{span_text(start, end)}", fontsize="medium")
    figure.savefig(out, format="png", dpi=100)
    return count


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    return None
