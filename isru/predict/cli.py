"""``isru seq predict FILE.seq``: a dry run of a sequence, its prediction printed.

The sequence runs on the flight software's core and the simulated boards in this process on
virtual time (:mod:`isru.predict.run`); no broker, no flight process. ``--json`` prints the
prediction as one JSON object with the ``--report-json`` report's field names. Exit status:
0 the sequence would complete, 1 it would abort (or the file has problems), 2 a usage error
or an unreadable file, 3 the dry run took more than ``--max-wall-s`` real seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from interface.catalog import DICTIONARY
from interface.sequence import MAX_BYTES, SequenceError, format_problems, parse_sequence
from isru.predict.run import PredictError, Prediction, PredictTimeout, World, predict
from sim.ice_content import DEFAULT_ICE_WT_PCT, ice_wt_pct_argument
from sim.pem_params import DEFAULT_SET, params_argument

OK, ABORTS, USAGE, TOO_SLOW = 0, 1, 2, 3
#: Real seconds a dry run may take by default (``--max-wall-s``).
MAX_WALL_S = 120.0
LIMIT_FIELDS = ("red_low", "yellow_low", "yellow_high", "red_high", "persistence", "response")


def add_parser(actions: Any) -> None:
    """Add ``predict`` to ``isru seq``'s actions."""
    p = actions.add_parser(
        "predict",
        help="dry-run a sequence on the simulator, fast, and print what it would do",
        description="Run a sequence against the simulator on virtual time, as fast as the "
        "machine allows, and print its predicted duration, energy, yields and events.",
    )
    p.add_argument("file", type=Path, metavar="FILE.seq", help="sequence file")
    p.add_argument("--json", action="store_true", help="print the prediction as JSON")
    p.add_argument(
        "--ice-wt-pct",
        type=ice_wt_pct_argument,
        default=DEFAULT_ICE_WT_PCT,
        metavar="PCT",
        help=f"water ice in the regolith, wt%% (default {DEFAULT_ICE_WT_PCT})",
    )
    p.add_argument(
        "--cell-params",
        type=params_argument,
        metavar="SET",
        help=f"the cell's PEM stack: a parameter file (TOML) or a shipped set ({DEFAULT_SET})",
    )
    p.add_argument("--seed", type=int, default=0, help="the simulator's seed (default 0)")
    p.add_argument(
        "--max-wall-s",
        type=_wall_s,
        default=MAX_WALL_S,
        metavar="S",
        help=f"stop a dry run that takes more than S real seconds (default {MAX_WALL_S:g}; "
        "water.seq's two hours take about 30)",
    )
    p.add_argument(
        "--time-scale",
        type=_scale,
        default=100.0,
        metavar="X",
        help="the isru sil speed-up to stand for: physics tick and arm window follow it "
        "(default 100; 1 for the flight's own)",
    )
    p.add_argument(
        "--limit",
        action="append",
        default=[],
        type=_limit,
        metavar="CHANNEL.FIELD=VALUE",
        help="override a limit as the flight config's [limits] does, e.g. "
        "elec.h2_pressure_kpa.red_high=150 (repeatable)",
    )


def _wall_s(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, got {text}")
    return value


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= 1000):
        raise argparse.ArgumentTypeError(f"must be above 0 and at most 1000, got {text}")
    return value


def _limit(text: str) -> tuple[str, str, str]:
    key, equals, value = text.partition("=")
    channel, _, name = key.rpartition(".")
    if not equals or not channel or name not in LIMIT_FIELDS:
        raise argparse.ArgumentTypeError(
            f"must be CHANNEL.FIELD=VALUE with FIELD one of {', '.join(LIMIT_FIELDS)}, got {text!r}"
        )
    return channel, name, value


def _limits(overrides: list[tuple[str, str, str]]) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for channel, name, value in overrides:
        table.setdefault(channel, {})[name] = value
    return table


def run(args: argparse.Namespace) -> int:
    """Predict ``args.file``; print the prediction; the exit status."""
    path: Path = args.file
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)
        text = data.decode("utf-8")
    except OSError as exc:
        print(f"isru seq: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return USAGE
    except UnicodeDecodeError as exc:
        print(f"isru seq: {path}: not UTF-8 text (byte {exc.start})", file=sys.stderr)
        return USAGE
    try:
        sequence = parse_sequence(text, name=path.stem or str(path), dictionary=DICTIONARY)
    except SequenceError as exc:
        print(f"isru seq: {path} has problems:", file=sys.stderr)
        print(format_problems(exc.problems), file=sys.stderr)
        return ABORTS
    world = World(
        ice_wt_pct=args.ice_wt_pct,
        cell_params=args.cell_params,
        seed=args.seed,
        time_scale=args.time_scale,
        limits=_limits(args.limit),
    )
    try:
        prediction = predict(sequence, world=world, max_wall_s=args.max_wall_s)
    except PredictTimeout as exc:
        print(f"isru seq: no prediction of {path}: {exc}", file=sys.stderr)
        return TOO_SLOW
    except PredictError as exc:
        print(f"isru seq: cannot predict {path}: {exc}", file=sys.stderr)
        return USAGE
    if args.json:
        print(json.dumps(prediction.as_dict(), indent=2))
    else:
        print(text_of(prediction))
    return OK if prediction.outcome == "COMPLETED" else ABORTS


def text_of(prediction: Prediction) -> str:
    """The prediction for a person: outcome, time, energy, yields, events."""
    p = prediction
    parts = (
        ("oven", p.oven_energy_wh),
        ("cell", p.cell_energy_wh),
        ("cell heater", p.cell_heater_energy_wh),
        ("scoop", p.scoop_energy_wh),
    )
    energy = ", ".join(f"{name} {wh:.2f}" for name, wh in parts)
    lines = [
        f"sequence   {p.sequence}: would end {p.outcome}" + (f" ({p.reason})" if p.reason else ""),
        f"duration   {p.duration_s:.1f} s (mission time)",
        f"energy     {p.total_energy_wh:.2f} Wh ({energy}); peak {p.peak_power_w:.1f} W",
    ]
    if p.chain is not None:
        f = p.chain.figures
        lines += [
            f"regolith   {f.regolith_g:.1f} g into the oven ({f.ice_wt_pct:g} wt% ice)",
            f"water      {f.water_extracted_g:.2f} g extracted, {f.water_transferred_g:.2f} g "
            "to the cell",
            f"gases      H2 {f.h2_g * 1000:.1f} mg, O2 {f.o2_g * 1000:.1f} mg",
        ]
    lines.append(f"events     {len(p.events)}")
    lines += [f"  {e['time_s']:>9.1f} s  {e['kind']:<9} {e['what']}" for e in p.events]
    lines.append(f"(predicted in {p.wall_s:.1f} s)")
    return "\n".join(lines)
