"""``isru flight``: run the onboard application as a service until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from flight.app import FlightApp
from flight.config import ConfigError, load_config
from flight.events import Event
from flight.service import Notifier, run_watchdog, watchdog_interval_s
from flight.state import StateError

#: sysexits EX_CONFIG: the unit file does not restart on it (RestartPreventExitStatus=78).
EXIT_CONFIG = 78
#: How long to wait for both boards before telling systemd READY anyway (degraded).
BOARD_WAIT_S = 30.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="isru flight", description=__doc__)
    parser.add_argument("--config", type=Path, required=True, help="flight TOML configuration")
    parser.add_argument("--broker", help="mqtt://host:port, overrides mqtt.broker")
    parser.add_argument("--vehicle", help="vehicle id, overrides vehicle")
    return parser


def _print_event(event: Event) -> None:
    # One line per event on stderr: journald keeps it, with its own timestamps.
    print(f"{event.severity.value:<10} {event.id:<16} {event.text}", file=sys.stderr, flush=True)


async def _serve(app: FlightApp, notifier: Notifier) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    app.events.subscribe(_print_event)
    async with app:
        boards = ("scoop", "elec")
        with contextlib.suppress(TimeoutError):
            await app.channels.wait_until(
                lambda v: all(v.get(f"{b}.link_up") for b in boards),
                timeout_s=BOARD_WAIT_S * getattr(app.clock, "scale", 1.0),
            )
        down = [b for b in boards if not app.channels.values.get(f"{b}.link_up")]
        status = "boards up, mode SAFE" if not down else f"degraded: {', '.join(down)} down"
        notifier.ready(status=status)
        print(f"isru flight: ready ({status})", file=sys.stderr, flush=True)
        interval = watchdog_interval_s()
        watchdog = asyncio.create_task(run_watchdog(notifier, interval)) if interval else None
        await stop.wait()
        notifier.stopping(status="safing actuators, flushing state")
        if watchdog is not None:
            watchdog.cancel()
    print("isru flight: stopped, actuators safed, state flushed", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    overrides = {"vehicle": options.vehicle, "mqtt.broker": options.broker}
    try:
        config = load_config(options.config, overrides=overrides)
    except ConfigError as exc:
        print(f"isru flight: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    notifier = Notifier.from_environ()
    try:
        asyncio.run(_serve(FlightApp(config=config), notifier))
    except StateError as exc:
        print(f"isru flight: {exc}", file=sys.stderr)
        return 1
    finally:
        notifier.close()
    return 0
