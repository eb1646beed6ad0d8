"""The chain's plot: the oven's sample and trap temperatures, chamber pressure and water
collected against mission time, as a PNG (matplotlib's Agg canvas, as ``ground.archive``)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

#: The pressure axis is logarithmic; readings below this (vacuum) are drawn at it.
MIN_PA = 0.01


def plot_chain(series: dict[str, list[float]], out: Path, *, title: str) -> None:
    """Draw ``series`` (the report's ``oven_series``) into the PNG ``out``; ValueError when
    there is nothing to draw or ``out`` is not a .png in an existing directory."""
    if out.suffix.lower() != ".png":
        raise ValueError(f"{out} must end in .png")
    if not out.parent.is_dir():
        raise ValueError(f"directory {out.parent} does not exist")
    minutes = [t / 60 for t in series.get("t_s", [])]
    if len(minutes) < 2:
        raise ValueError("no oven telemetry to plot")
    figure = Figure(figsize=(9, 8), layout="constrained")
    FigureCanvasAgg(figure)
    top, middle, bottom = figure.subplots(3, 1, sharex=True)
    top.plot(minutes, series["sample_temp_c"], label="sample", color="tab:red")
    top.plot(minutes, series["trap_temp_c"], label="cold trap", color="tab:blue")
    top.set_ylabel("temperature (degC)")
    top.legend(loc="best")
    # From a fraction of a pascal while the trap is cold to kilopascals once it is warm: log.
    pascals = [max(kpa * 1000, MIN_PA) for kpa in series["chamber_pressure_kpa"]]
    middle.plot(minutes, pascals, color="tab:purple")
    middle.set_yscale("log")
    middle.set_ylabel("chamber pressure (Pa)")
    bottom.plot(minutes, series["water_collected_g"], color="tab:cyan")
    bottom.set_ylabel("water collected (g)")
    bottom.set_xlabel("mission time since the run started (min)")
    for axes in (top, middle, bottom):
        axes.grid(True, alpha=0.3)
    figure.suptitle(title)
    figure.savefig(out, dpi=100)
