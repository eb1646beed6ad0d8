"""``isru sim model pem``: the PEM stack's polarization curve, its parts and its hydrogen.

::

    isru sim model pem --temperature-c 60 --current-density 0.1,1,2 [--params FILE] --json

For each current density: ``cell_voltage_v`` and its parts ``reversible_v`` (Nernst at the
electrodes' partial pressures), ``activation_v``, ``ohmic_v``, ``mass_transport_v``; the
``faradaic_efficiency`` crossover leaves; ``h2_mg_per_h`` of the whole stack (its area times
its cells). ``--params`` takes a parameter file or a shipped set's name (``tjarks2017`` by
default); ``--cathode-bar`` and ``--anode-bar`` the absolute pressures (1 bar: 0 bar gauge).
"""

from __future__ import annotations

import argparse

from sim.pem_crossover import faradaic_efficiency
from sim.pem_model import h2_mg_per_h, voltage_parts
from sim.pem_params import (
    DEFAULT_SET,
    PemParams,
    params_argument,
    shipped_params,
)

MAX_CURRENT_DENSITY = 10.0  # A/cm2, past any PEM cell's rating


def _densities(text: str) -> list[float]:
    values = []
    for item in text.split(","):
        try:
            value = float(item)
        except ValueError:
            value = float("nan")
        if not 0.0 <= value <= MAX_CURRENT_DENSITY:  # also refuses nan
            raise argparse.ArgumentTypeError(
                f"must be numbers from 0 to {MAX_CURRENT_DENSITY:g} A/cm2 separated by commas,"
                f" got {item!r}"
            )
        values.append(value)
    return values


def pem_flags(p: argparse.ArgumentParser) -> None:
    from sim.model_cli import number  # model_cli imports this module

    p.add_argument(
        "--temperature-c",
        type=number(-50, 200, " degC"),
        required=True,
        metavar="T",
        help="cell temperature (within the parameter set's range; tjarks2017: 20..90 degC)",
    )
    p.add_argument(
        "--current-density",
        type=_densities,
        required=True,
        metavar="J[,J...]",
        help="current densities, A/cm2 (0..10)",
    )
    p.add_argument(
        "--params",
        type=params_argument,
        metavar="SET",
        help=f"parameter file (TOML) or shipped set (default {DEFAULT_SET})",
    )
    for side in ("cathode", "anode"):
        p.add_argument(
            f"--{side}-bar",
            type=number(0.1, 100, " bar"),
            default=1.0,
            metavar="P",
            help=f"{side} absolute pressure, bar (default 1: 0 bar gauge)",
        )


def pem_run(args: argparse.Namespace) -> dict[str, object]:
    params: PemParams = args.params or shipped_params()
    t_c: float = args.temperature_c
    lo, hi = params.kinetics.temperature_range_c
    if not lo <= t_c <= hi:
        raise ValueError(
            f"argument --temperature-c: must be within {params.name}'s range"
            f" {lo:g}..{hi:g} degC, got {t_c:g}"
        )
    boiling = params.pressure.vapour_bar(t_c)
    if boiling >= min(args.cathode_bar, args.anode_bar):
        raise ValueError(
            f"argument --temperature-c: water boils at {t_c:g} degC"
            f" ({boiling:.3g} bar) below the electrode pressure"
        )
    points = []
    for j in args.current_density:
        parts = voltage_parts(params, j, t_c, args.cathode_bar, args.anode_bar)
        if parts.cell_voltage_v == float("inf"):
            raise ValueError(
                f"argument --current-density: {j:g} A/cm2 is at or past {params.name}'s"
                " limiting current"
            )
        efficiency = faradaic_efficiency(params, j, t_c, args.cathode_bar, args.anode_bar)
        points.append(
            {
                "current_density_a_cm2": j,
                "cell_voltage_v": parts.cell_voltage_v,
                "reversible_v": parts.reversible_v,
                "activation_v": parts.activation_v,
                "ohmic_v": parts.ohmic_v,
                "mass_transport_v": parts.mass_transport_v,
                "faradaic_efficiency": efficiency,
                "h2_mg_per_h": h2_mg_per_h(params, j * params.stack.area_cm2, efficiency),
            }
        )
    return {
        "params": params.name,
        "temperature_c": t_c,
        "cathode_bar": args.cathode_bar,
        "anode_bar": args.anode_bar,
        "area_cm2": params.stack.area_cm2,
        "cells": params.stack.cells,
        "points": points,
    }
