"""``isru sim model MODEL [flags] [--json]``: a physics model's outputs, without a board.

So that anyone can check the simulator's physics against the literature::

    isru sim model thermal --ice-wt-pct 5.6 --from-k 100 --to-k 400 --json
    isru sim model sublimation --temperature-k 200 --json
    isru sim model pem --temperature-c 60 --current-density 0.1,1,2 --json
    isru sim model dig --depth-m 0.03 --width-m 0.05 --json

Each model is a ``Model``: its name, a line of help, ``configure(parser)`` that adds its
flags and ``run(args)`` that returns its named outputs. A new model (its own module is fine)
is one more entry in ``MODELS``. Output: one JSON object with ``--json``, else one
``name value`` line per output, and a table for an output that is a list of rows. A bad
argument gets one line on stderr naming the flag and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NoReturn

from sim import regolith_thermal as rt
from sim.dig_cli import dig_flags, dig_run
from sim.pem_cli import pem_flags, pem_run

PROG = "isru sim model"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, no usage block, as `isru sim` does.
        self.exit(2, f"{self.prog}: error: {message}\n")


@dataclass(frozen=True, slots=True)
class Model:
    """One model the ``model`` subcommand can run."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    #: Named outputs: numbers, text, or a list of rows (a table).
    run: Callable[[argparse.Namespace], Mapping[str, object]]


def number(
    lo: float, hi: float, unit: str, *, above: bool = False, below: bool = False
) -> Callable[[str], float]:
    """An argparse type: a finite number from ``lo`` to ``hi`` (``above``: lo excluded,
    ``below``: hi excluded)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        low = value > lo if above else value >= lo
        high = value < hi if below else value <= hi
        if not (math.isfinite(value) and low and high):
            low_text = f"above {lo:g}" if above else f"at least {lo:g}"
            high_text = f"below {hi:g}" if below else f"at most {hi:g}"
            span = f"{low_text} and {high_text}" if above or below else f"from {lo:g} to {hi:g}"
            raise argparse.ArgumentTypeError(f"must be a number {span}{unit}, got {text!r}")
        return value

    return parse


# -- thermal: heat to extract the water of icy regolith --
def _thermal_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ice-wt-pct",
        type=number(0, 100, " wt%", above=True, below=True),
        required=True,
        metavar="W",
        help="ice by mass of the icy regolith (LCROSS, Colaprete et al. 2010: 5.6)",
    )
    p.add_argument(
        "--from-k",
        type=number(20, rt.T_TRIPLE, " K"),
        required=True,
        metavar="T0",
        help="starting temperature, icy (20..273.16 K)",
    )
    p.add_argument(
        "--to-k",
        type=number(20, 1000, " K"),
        required=True,
        metavar="T1",
        help="final temperature of the dry regolith (up to 1000 K)",
    )


def _thermal(args: argparse.Namespace) -> dict[str, float]:
    if args.to_k < args.from_k:
        raise ValueError(f"argument --to-k: must not be below --from-k ({args.from_k:g} K)")
    heat = rt.extraction_heat(args.ice_wt_pct, args.from_k, args.to_k)
    return {
        "heat_mj_per_kg_water": heat.total,
        "regolith_sensible_mj_per_kg_water": heat.regolith_sensible,
        "water_sensible_mj_per_kg_water": heat.water_sensible,
        "latent_mj_per_kg_water": heat.latent,
        "ice_wt_pct": args.ice_wt_pct,
        "from_k": args.from_k,
        "to_k": args.to_k,
    }


# -- sublimation: vapour pressure, latent heat and Hertz-Knudsen flux over ice --
def _sublimation_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--temperature-k",
        type=number(110, rt.T_TRIPLE, " K"),
        required=True,
        metavar="T",
        help="ice temperature (110..273.16 K, the range of Murphy & Koop's Eq. 7)",
    )
    p.add_argument(
        "--sticking",
        type=number(0, 1, "", above=True),
        default=rt.STICKING,
        metavar="ALPHA",
        help="evaporation coefficient (default 1)",
    )


def _sublimation(args: argparse.Namespace) -> dict[str, float]:
    temp = args.temperature_k
    return {
        "vapour_pressure_pa": rt.p_ice(temp),
        "latent_heat_mj_per_kg": rt.latent_sublimation(temp) / 1e6,
        "flux_kg_per_m2_s": rt.hertz_knudsen(temp, sticking=args.sticking),
        "temperature_k": temp,
        "sticking": args.sticking,
    }


MODELS: tuple[Model, ...] = (
    Model(
        "thermal",
        "heat per kg of water to take icy regolith from T0 to T1 and sublime its ice",
        _thermal_flags,
        _thermal,
    ),
    Model(
        "sublimation",
        "vapour pressure, latent heat and free sublimation flux of ice at T",
        _sublimation_flags,
        _sublimation,
    ),
    Model(
        "pem",
        "PEM stack polarization curve at T: cell voltage, its parts, Faradaic efficiency, H2",
        pem_flags,
        pem_run,
    ),
    Model(
        "dig",
        "scoop blade in regolith at depth D: cutting force (McKyes), boom torque and motor current",
        dig_flags,
        dig_run,
    ),
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Print a physics model's outputs.")
    models = parser.add_subparsers(dest="model", metavar="MODEL", parser_class=_Parser)
    for model in MODELS:
        sub = models.add_parser(model.name, help=model.help, description=model.help)
        model.configure(sub)
        sub.add_argument("--json", action="store_true", help="one JSON object")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.model is None:
        names = ", ".join(m.name for m in MODELS)
        parser.error(f"choose a model: {names}")
    model = next(m for m in MODELS if m.name == args.model)
    try:
        outputs = model.run(args)
    except ValueError as exc:  # a check across flags
        parser.error(str(exc))
    if args.json:
        print(json.dumps(outputs))
    else:
        _print_text(outputs)
    sys.stdout.flush()
    return 0


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:.6g}" if isinstance(value, float | int) else str(value)


def _print_text(outputs: Mapping[str, object]) -> None:
    scalars = {name: v for name, v in outputs.items() if not isinstance(v, list)}
    width = max((len(name) for name in scalars), default=0)
    for name, value in scalars.items():
        print(f"{name:<{width}}  {_cell(value)}")
    for rows in (v for v in outputs.values() if isinstance(v, list)):
        if not rows:
            continue
        columns = list(rows[0])
        table = [[_cell(row[c]) for c in columns] for row in rows]
        widths = [max(len(c), *(len(r[i]) for r in table)) for i, c in enumerate(columns)]
        for line in (columns, *table):
            print("  ".join(text.rjust(w) for text, w in zip(line, widths, strict=True)))
