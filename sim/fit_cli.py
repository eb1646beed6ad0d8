"""``isru sim fit``: fit a team's measured polarization curve and write a parameter file.

::

    isru sim fit --polarization cell.csv [--temperature-c T] [--params BASE] --out team.toml

The CSV has a header line with ``current_density_a_cm2,cell_voltage_v`` and optionally
``temperature_c`` (then ``--temperature-c`` is not given); lines starting with ``#`` are
comments. The fit (:mod:`sim.pem_fit`) finds the cell's kinetic and electronic-resistance
parameters; the rest (stack, membrane, crossover, heat) is taken from ``--params`` (a file or
a shipped set, ``tjarks2017`` by default). It prints each parameter with its 95 % confidence
half-width and the residuals (``--json``: one JSON object), and writes a parameter file that
``isru sim --cell-params`` and ``isru sim model pem --params`` load. Bad input gets one line
on stderr naming the flag, the line or the column, and exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path
from typing import NoReturn

import numpy as np
import tomli_w

from sim.pem_params import (
    DEFAULT_SET,
    PemParams,
    params_argument,
    shipped_params,
)

PROG = "isru sim fit"
REQUIRED = ("current_density_a_cm2", "cell_voltage_v")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message}\n")


def _temperature(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not -50.0 <= value <= 200.0:
        raise argparse.ArgumentTypeError(f"must be a number from -50 to 200 degC, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Fit a measured PEM polarization curve.")
    p.add_argument("--polarization", type=Path, required=True, metavar="FILE.csv")
    p.add_argument("--temperature-c", type=_temperature, metavar="T", help="when no column")
    p.add_argument(
        "--params", type=params_argument, metavar="SET", help=f"base set ({DEFAULT_SET})"
    )
    p.add_argument("--out", type=Path, required=True, metavar="FILE.toml")
    p.add_argument("--name", help="name written in the file (default: its stem)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    return p


def read_polarization(path: Path, temperature_c: float | None) -> tuple[list[float], ...]:
    """Current densities, temperatures and voltages from the CSV; ValueError names the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ValueError(f"argument --polarization: cannot read {str(path)!r}: {reason}") from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    lines = [(n, line) for n, line in lines if not line.lstrip().startswith("#")]
    rows = list(csv.reader(line for _, line in lines))
    if not rows:
        raise ValueError(f"{path}: no header line")
    header = [h.strip() for h in rows[0]]
    wanted = list(REQUIRED)
    if "temperature_c" in header:
        if temperature_c is not None:
            raise ValueError(f"argument --temperature-c: {path} has a temperature_c column")
        wanted.append("temperature_c")
    elif temperature_c is None:
        raise ValueError(f"argument --temperature-c: required, {path} has no temperature_c")
    missing = [c for c in wanted if c not in header]
    if missing:
        raise ValueError(f"{path}: no column {', '.join(missing)} in the header")
    j, t, v = [], [], []
    for (number, _), row in zip(lines[1:], rows[1:], strict=True):
        if len(row) != len(header):
            raise ValueError(
                f"{path} line {number}: {len(row)} fields, the header has {len(header)}"
            )
        values = {}
        for column in wanted:
            cell = row[header.index(column)].strip()
            try:
                values[column] = float(cell)
            except ValueError:
                values[column] = math.nan
            if not math.isfinite(values[column]):
                raise ValueError(f"{path} line {number}: {column}: not a number: {cell!r}")
        if not 0.0 <= values["current_density_a_cm2"] <= 10.0:
            raise ValueError(f"{path} line {number}: current_density_a_cm2: must be 0..10")
        if values["cell_voltage_v"] <= 0.0:
            raise ValueError(f"{path} line {number}: cell_voltage_v: must be above 0")
        j.append(values["current_density_a_cm2"])
        t.append(values["temperature_c"] if temperature_c is None else temperature_c)
        v.append(values["cell_voltage_v"])
    return j, t, v


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from sim.pem_fit import NAMES, fit_polarization  # scipy: only when fitting

    base: PemParams = args.params or shipped_params()
    name = args.name or args.out.stem
    try:
        j, t_c, volts = read_polarization(args.polarization, args.temperature_c)
        lo, hi = min(t_c), max(t_c)
        source = (
            f"isru sim fit of {args.polarization.name}: {len(j)} points, {lo:g}..{hi:g} degC;"
            f" stack, membrane, crossover and heat from {base.name}"
        )
        fit = fit_polarization(
            base, np.array(j), np.array(t_c), np.array(volts), name=name, source=source
        )
    except ValueError as exc:
        parser.error(str(exc))
    data = fit.params.model_dump(mode="python", exclude_none=True)
    try:
        header = f"# PEM cell parameters written by {PROG}; every key: sim/pem_params.py\n"
        args.out.write_text(header + tomli_w.dumps(data), encoding="utf-8")
    except OSError as exc:
        parser.error(f"argument --out: cannot write {str(args.out)!r}: {exc.strerror or exc}")
    report: dict[str, object] = {
        "out": str(args.out),
        "points": fit.points,
        "reference_c": fit.reference_c,
        "rms_residual_v": fit.rms_residual_v,
        "max_residual_v": fit.max_residual_v,
        "values": fit.values,
        "ci95": fit.ci95,
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(f"fitted {fit.points} points at {lo:g}..{hi:g} degC from {args.polarization}")
        for key in NAMES:
            if key in fit.values:
                value, half = fit.values[key], fit.ci95[key]
                print(f"  {key:<31} {value:.5g} +- {half:.2g} (95 %)")
            else:
                print(f"  {key:<31} not fitted (one temperature: kinetics held at {lo:g} degC)")
        print(
            f"  i0 at {fit.reference_c:g} degC; residuals: rms {fit.rms_residual_v * 1e3:.2f} mV,"
            f" max {fit.max_residual_v * 1e3:.2f} mV"
        )
        print(f"wrote {args.out}")
    sys.stdout.flush()
    return 0
