"""``isru sim``: run the three emulated boards until SIGINT or SIGTERM.

On start it prints, one per line and flushed, ``scoop <url>``, ``elec <url>``, ``oven <url>``,
``control 127.0.0.1:<port>`` (with ``--control-port``), ``camera socket://127.0.0.1:<port>``
(with ``--camera-port``) and ``ready``; a parent process reads up to ``ready``. Bad arguments
get one line on stderr naming the flag, exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import signal
import sys
from functools import partial
from pathlib import Path
from typing import NoReturn

from sim.camera_server import add_camera_arguments, start_camera
from sim.clock import RealClock
from sim.control import ControlServer
from sim.faults import StartFaults, check_fraction, parse_joint
from sim.firmware import DEFAULT_HOST_TIMEOUT_S
from sim.ice_content import DEFAULT_ICE_WT_PCT, ice_wt_pct_argument
from sim.launcher import SimBoards
from sim.line_server import tcp_port
from sim.oven_sensors import OPEN_CIRCUIT_SENSORS
from sim.pem_params import DEFAULT_SET, params_argument
from sim.truth import answer_query

PROG = "isru sim"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, no usage block: a parent process shows it as the reason.
        self.exit(2, f"{PROG}: error: {message}\n")


def _fraction(text: str) -> float:
    try:
        return check_fraction("value", float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a fraction 0..1, got {text!r}") from None


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _joint(text: str) -> str:
    try:
        parse_joint("joint", text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be boom or scoop, got {text!r}") from None
    return text.lower()


def _open_sensor(text: str) -> str:
    if text not in OPEN_CIRCUIT_SENSORS:
        names = ", ".join(OPEN_CIRCUIT_SENSORS)
        raise argparse.ArgumentTypeError(f"must be one of {names}, got {text!r}")
    return text


def _add_oven_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--oven-port", type=tcp_port, metavar="PORT", default=0, help="TCP port (0: free one)"
    )
    p.add_argument(
        "--ice-wt-pct",
        type=ice_wt_pct_argument,
        metavar="PCT",
        default=DEFAULT_ICE_WT_PCT,
        help="water ice in the regolith dug, wt%% (LCROSS: 5.6)",
    )
    p.add_argument("--pump-stall", action="store_true", help="oven transfer pump blocked")
    p.add_argument("--heater-stuck", action="store_true", help="oven heater switch stuck on")
    p.add_argument(
        "--sensor-open",
        type=_open_sensor,
        action="append",
        default=[],
        metavar="SENSOR",
        help="oven sensor open circuit: " + ", ".join(OPEN_CIRCUIT_SENSORS) + " (repeatable)",
    )
    p.add_argument(
        "--lid-leak", type=_positive, metavar="TAU_S", help="oven lid seal leaks, time constant s"
    )


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Emulated scoop, electrolysis and oven boards.")
    p.add_argument(
        "--link-dir", type=Path, metavar="DIR", help="keep symlinks DIR/scoop, DIR/elec, DIR/oven"
    )
    p.add_argument("--tcp", action="store_true", help="serve on loopback TCP, not ptys")
    p.add_argument(
        "--scoop-port", type=tcp_port, metavar="PORT", default=0, help="TCP port (0: free one)"
    )
    p.add_argument(
        "--elec-port", type=tcp_port, metavar="PORT", default=0, help="TCP port (0: free one)"
    )
    p.add_argument(
        "--baud", type=_positive_int, metavar="N", help="pace output at this baud rate (8N1)"
    )
    p.add_argument(
        "--time-scale", type=_positive, metavar="X", default=1.0, help="virtual s per real s"
    )
    p.add_argument("--state-dir", type=Path, metavar="DIR", help="persist boot counts here")
    p.add_argument(
        "--seed", type=int, metavar="N", default=0, help="seed of every random generator"
    )
    p.add_argument(
        "--corrupt",
        type=_fraction,
        metavar="FRACTION",
        default=0.0,
        help="fraction of bytes flipped",
    )
    p.add_argument(
        "--drop", type=_fraction, metavar="FRACTION", default=0.0, help="fraction of frames lost"
    )
    p.add_argument(
        "--delay-ms", type=_non_negative, metavar="MS", default=0.0, help="reply delay, ms"
    )
    p.add_argument(
        "--stall", type=_joint, metavar="JOINT", help="stuck motor on joint boom or scoop"
    )
    p.add_argument(
        "--control-port", type=tcp_port, metavar="PORT", help="run-time fault control (0: free)"
    )
    p.add_argument(
        "--host-timeout",
        type=_non_negative,
        metavar="S",
        default=DEFAULT_HOST_TIMEOUT_S,
        help="virtual seconds without a request before a board safes itself (0: never)",
    )
    _add_oven_arguments(p)
    add_camera_arguments(p)
    p.add_argument(
        "--cell-params",
        type=params_argument,
        metavar="SET",
        help=f"elec board's PEM stack: a parameter file (TOML) or a shipped set ({DEFAULT_SET})",
    )
    return p


def _check_dir(flag: str, path: Path) -> str | None:
    """Why ``path`` cannot be used as a writable directory, or None."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"argument {flag}: cannot use {str(path)!r}: {exc.strerror or exc}"
    if not os.access(path, os.W_OK | os.X_OK):
        return f"argument {flag}: {str(path)!r} is not writable"
    return None


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    if words[:1] == ["model"]:  # `isru sim model ...`: the physics models, no boards
        from sim.model_cli import main as model_main

        return model_main(words[1:])
    if words[:1] == ["fit"]:  # `isru sim fit ...`: a parameter file from measured data
        from sim.fit_cli import main as fit_main

        return fit_main(words[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.tcp and args.link_dir is not None:
        parser.error("argument --link-dir: not allowed with --tcp (symlinks are for ptys)")
    for flag, path in (("--link-dir", args.link_dir), ("--state-dir", args.state_dir)):
        problem = None if path is None else _check_dir(flag, path)
        if problem:
            parser.error(problem)
    stall = None if args.stall is None else parse_joint("stall", args.stall)
    faults = StartFaults(
        corrupt=args.corrupt,
        drop=args.drop,
        delay_ms=args.delay_ms,
        stall=stall,
        pump_stall=args.pump_stall,
        heater_stuck=args.heater_stuck,
        sensor_open=tuple(args.sensor_open),
        lid_leak_tau_s=args.lid_leak,
    )
    try:
        return asyncio.run(_run(args, faults))
    except KeyboardInterrupt:
        return 0
    except OSError as exc:  # e.g. a TCP port already taken
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace, faults: StartFaults) -> int:
    sim = SimBoards(
        link_dir=args.link_dir,
        tcp=args.tcp,
        scoop_port=args.scoop_port,
        elec_port=args.elec_port,
        oven_port=args.oven_port,
        baud=args.baud,
        clock=RealClock(args.time_scale),
        faults=faults,
        state_dir=args.state_dir,
        seed=args.seed,
        host_timeout_s=args.host_timeout or None,
        ice_wt_pct=args.ice_wt_pct,
        cell_params=args.cell_params,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with sim:
        control = None
        if args.control_port is not None:
            control = ControlServer(
                sim.apply_fault, port=args.control_port, query=partial(answer_query, sim)
            )
            await control.start()
        camera = await start_camera(args, sim)
        try:
            for name, url in sim.urls.items():
                print(f"{name} {url}")
            if control is not None:
                print(f"control {control.address}")
            if camera is not None:
                print(f"camera {camera.url}")
            print("ready", flush=True)
            await stop.wait()
        finally:
            if control is not None:
                await control.close()
            if camera is not None:
                await camera.close()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(Exception):
            loop.remove_signal_handler(signum)
    return 0
