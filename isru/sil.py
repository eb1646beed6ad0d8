"""``isru sil``: the one-command demo: the simulated boards, and a live view of them."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import tempfile

from hal import ElecDriver, HalError, ScoopDriver, SerialLink
from hal.telemetry import ElecTelemetry, ScoopTelemetry
from sim.child import SimChild, SimStartError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="isru sil", description="Start the simulated boards and show their telemetry."
    )
    parser.add_argument("--time-scale", type=float, default=1.0, help="simulated speed-up")
    parser.add_argument("--seconds", type=float, default=0.0, help="stop after this long")
    return parser


def _line(scoop: ScoopTelemetry | None, elec: ElecTelemetry | None) -> str:
    parts = []
    if scoop is not None:
        parts.append(
            f"scoop {scoop.state.name:<8} boom {scoop.boom_angle_deg:6.1f} deg"
            f"  load {scoop.load_mass_g:6.1f} g"
        )
    if elec is not None:
        parts.append(
            f"cell {elec.state.name:<7} {elec.cell_current_a:4.1f} A {elec.cell_voltage_v:4.2f} V"
            f"  H2 {elec.h2_pressure_kpa:6.1f} kPa  {elec.cell_temp_c:5.1f} degC"
        )
    return " | ".join(parts) or "waiting for telemetry"


async def _run(options: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    with tempfile.TemporaryDirectory(prefix="isru-sil-") as link_dir:
        args = ["--link-dir", link_dir, "--time-scale", str(options.time_scale)]
        async with SimChild(args=args) as sim:
            print(f"simulated boards: scoop {sim.urls['scoop']}  elec {sim.urls['elec']}")
            async with (
                SerialLink(url=sim.urls["scoop"]) as scoop_link,
                SerialLink(url=sim.urls["elec"]) as elec_link,
            ):
                scoop, elec = ScoopDriver(scoop_link), ElecDriver(elec_link)
                for driver in (scoop, elec):
                    info = await driver.info()
                    print(f"{info.board.name.lower()}: firmware {info.fw_major}.{info.fw_minor}")
                print("Ctrl-C stops.", flush=True)
                deadline = loop.time() + options.seconds if options.seconds else None
                while not stop.is_set():
                    print(_line(scoop.latest, elec.latest), flush=True)
                    if deadline is not None and loop.time() >= deadline:
                        break
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=1.0)
    print("stopped: simulator closed")
    return 0


def main(argv: list[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    if options.time_scale <= 0:
        print("isru sil: --time-scale must be positive", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(options))
    except (SimStartError, HalError) as exc:
        print(f"isru sil: {exc}", file=sys.stderr)
        return 1
