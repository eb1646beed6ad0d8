"""``isru sil``: the one-command SIL stack: broker, simulated boards and `isru flight`."""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys
from pathlib import Path

import aiomqtt

from ground import GroundError
from interface.broker import parse_broker
from interface.catalog import DICTIONARY
from interface.sequence import SequenceError, format_problems, parse_sequence
from isru.broker import BrokerError
from isru.sil_session import EXIT_SIGNALLED, run
from isru.sim_child import SimStartError
from isru.stack import SilError, Stack, sil_stack
from sim.ice_content import ice_wt_pct_argument
from sim.pem_params import DEFAULT_SET, params_argument

__all__ = ["EXIT_SIGNALLED", "SilError", "Stack", "main", "parser", "sil_stack"]


def parser() -> argparse.ArgumentParser:
    result = argparse.ArgumentParser(
        prog="isru sil",
        description="Start a broker, the simulated boards and the flight software together.",
    )
    result.add_argument("--broker", help="use this broker (mqtt://host:port) instead of our own")
    result.add_argument(
        "--embedded-broker",
        action="store_true",
        help="use the embedded amqtt broker even when mosquitto is installed",
    )
    result.add_argument("--vehicle", default="sil", help="vehicle id (default: sil)")
    result.add_argument(
        "--headless",
        action="store_true",
        help="no console and no status lines: run until stopped (without --headless and "
        "without a terminal, status lines are printed instead of the console)",
    )
    result.add_argument("--key", type=Path, help="command key file: commands must be signed")
    result.add_argument("--time-scale", type=float, default=1.0, help="simulated speed-up")
    result.add_argument(
        "--seconds", type=float, default=0.0, help="stop this long after the flight is online"
    )
    result.add_argument(
        "--run", type=Path, metavar="FILE.seq", help="with --headless: run this sequence, report"
    )
    result.add_argument("--report-json", type=Path, metavar="FILE", help="also write the report")
    result.add_argument(
        "--report-plot",
        type=Path,
        metavar="FILE.png",
        help="with --run: also plot the oven's temperatures, pressure and water collected",
    )
    result.add_argument(
        "--samples-dir",
        type=Path,
        metavar="DIR",
        help="with --run: record the custody ledger and images, and export one package per "
        "sample the run made into DIR",
    )
    result.add_argument(
        "--images-dir",
        type=Path,
        metavar="DIR",
        help="the console keeps the vehicle's images here, so its samples tab can open them "
        "(default: in the SIL's temporary directory, removed when it stops)",
    )
    result.add_argument(
        "--ice-wt-pct",
        type=ice_wt_pct_argument,
        metavar="PCT",
        help="water ice in the regolith the simulated scoop digs, wt%% (default: the "
        "simulator's 5.6)",
    )
    result.add_argument(
        "--cell-params",
        type=_cell_params,
        metavar="SET",
        help=f"the simulated cell's PEM stack: a parameter file (TOML) or a shipped set "
        f"(default {DEFAULT_SET})",
    )
    return result


def _cell_params(text: str) -> str:
    """An argparse type: a parameter set the simulator will load, checked here first (so a
    bad file stops `isru sil` before anything starts), as the simulator's argument: a file's
    absolute path, or a shipped set's name."""
    params_argument(text)
    path = Path(text)
    return str(path.resolve()) if path.is_file() else text


def main(argv: list[str] | None = None) -> int:
    options = parser().parse_args(argv)
    if options.time_scale <= 0:
        print("isru sil: --time-scale must be positive", file=sys.stderr)
        return 2
    if options.broker is not None:
        try:
            parse_broker(options.broker)
        except ValueError as exc:
            print(f"isru sil: {exc}", file=sys.stderr)
            return 2
    if options.report_plot is not None and (
        options.run is None or options.report_plot.suffix.lower() != ".png"
    ):
        print("isru sil: --report-plot needs --run and a FILE ending in .png", file=sys.stderr)
        return 2
    if options.images_dir is not None and options.headless:
        print("isru sil: --images-dir is for the console (not with --headless)", file=sys.stderr)
        return 2
    if options.samples_dir is not None and options.run is None:
        print("isru sil: --samples-dir needs --run", file=sys.stderr)
        return 2
    sequence = None
    if options.run is not None:
        if not options.headless:
            print("isru sil: --run needs --headless", file=sys.stderr)
            return 2
        try:
            sequence = parse_sequence(
                options.run.read_text(), name=_sequence_name(options.run), dictionary=DICTIONARY
            )
        except OSError as exc:
            print(f"isru sil: cannot read {options.run}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        except SequenceError as exc:
            print(f"isru sil: {options.run} has problems:", file=sys.stderr)
            print(format_problems(exc.problems), file=sys.stderr)
            return 2
    try:
        return asyncio.run(run(options, sequence))
    except (SilError, SimStartError, BrokerError, GroundError, aiomqtt.MqttError, OSError) as exc:
        print(f"isru sil: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C before the stack's own handling was in place
        return EXIT_SIGNALLED + signal.SIGINT


def _sequence_name(path: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", path.stem)[:64]
    return name or "sequence"
