"""Running ``isru flight`` as a service: the vehicle, its uplink and the outbox from one
config, systemd told READY once the boards answer, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from datetime import UTC, datetime

from flight.boards import BOARDS
from flight.clock import ScaledClock, SystemClock, mission_clock
from flight.config import OUTBOX_FILE_NAME, FlightConfig
from flight.events import Event
from flight.mqtt import Authenticator, Outbox, OutboxError, Uplink
from flight.state import MissionClockAnchor, StateError, peek_state
from flight.systemd import Notifier, run_watchdog, watchdog_interval_s
from flight.vehicle import FlightApp
from interface.signing import KeyFileError, fingerprint, load_key

#: sysexits EX_CONFIG: the unit file does not restart on it (RestartPreventExitStatus=78).
EXIT_CONFIG = 78
#: How long to wait for the boards before telling systemd READY anyway (degraded).
BOARD_WAIT_S = 30.0
#: Shortest interval between two OUTBOX_DROPPED events while the outbox overflows.
DROP_REPORT_S = 60.0


def _print_event(event: Event) -> None:
    # One line per event on stderr: journald keeps it, with its own timestamps.
    print(f"{event.severity.value:<10} {event.id:<16} {event.text}", file=sys.stderr, flush=True)


def command_authenticator(app: FlightApp, key: bytes | None) -> Authenticator | None:
    """The command checker. The state is loaded when the app starts, after this is made,
    so the counter is read where it is kept; a new key file starts a new counter epoch."""
    if key is None:
        return None
    state, mark = app.state, fingerprint(key)

    def highest() -> int:
        if not state.loaded:
            raise RuntimeError("the persistent state is not loaded yet")
        if state.command_key != mark:  # first read since the state was loaded
            old_key = state.command_key
            old = state.adopt_command_key(mark)
            if old is not None:
                print(
                    f"isru flight: new command key {mark} (was {old_key}): the command "
                    f"counter starts again from 0 (it was {old})",
                    file=sys.stderr,
                    flush=True,
                )
        return state.highest_command_counter

    return Authenticator(
        key=key,
        vehicle=app.config.vehicle,
        highest_counter=highest,
        persist=lambda counter: app.state.update(highest_command_counter=counter),
    )


def _outbox(app: FlightApp) -> Outbox:
    settings = app.config.outbox
    path = settings.path if settings.path is not None else app.config.state.dir / OUTBOX_FILE_NAME

    # While the box is full every put drops a row: say so at most once a minute.
    pending = {"count": 0, "last": -DROP_REPORT_S}

    def dropped(count: int, why: str) -> None:
        pending["count"] += count
        now = app.clock.monotonic()
        if now - pending["last"] >= DROP_REPORT_S:
            total, pending["count"], pending["last"] = pending["count"], 0, now
            app.events.emit("OUTBOX_DROPPED", detail=f"{why} ({total} rows since last report)")

    return Outbox(
        path,
        max_rows=settings.max_rows,
        max_age_s=settings.max_age_s,
        sync=settings.sync,
        on_drop=dropped,
    )


async def _serve(app: FlightApp, notifier: Notifier, key: bytes | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    app.events.subscribe(_print_event)
    with _outbox(app) as outbox:
        await _run_linked(app, notifier, key, outbox, stop)
    print("isru flight: stopped, actuators safed, state flushed", file=sys.stderr, flush=True)


async def _run_linked(
    app: FlightApp, notifier: Notifier, key: bytes | None, outbox: Outbox, stop: asyncio.Event
) -> None:
    config = app.config
    # The uplink outlives the app inside this block: the app's shutdown (SAFING, SHUTDOWN)
    # still reaches the ground before the uplink says offline.
    uplink = Uplink(
        app=app,
        broker=config.mqtt.broker,
        vehicle=config.vehicle,
        outbox=outbox,
        authenticator=command_authenticator(app, key),
        username=config.mqtt.username,
        password=config.mqtt.password(),
        ca_file=config.mqtt.ca_file,
        telemetry_gather_s=config.telemetry.gather_s,
    )
    app.attach_custody(uplink.custody)  # ledger entries, its head and images go to the ground
    async with uplink, app:
        if outbox.warning:
            app.events.emit("OUTBOX_DROPPED", detail=outbox.warning)
        _anchor_mission_clock(app)
        boards = BOARDS
        # Wait for the boards, but a SIGTERM in the meantime stops us at once.
        boards_up = asyncio.ensure_future(
            app.channels.wait_until(
                lambda v: all(v.get(f"{b}.link_up") for b in boards),
                timeout_s=BOARD_WAIT_S * getattr(app.clock, "scale", 1.0),
            )
        )
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({boards_up, stopping}, return_when=asyncio.FIRST_COMPLETED)
        boards_up.cancel()
        stopping.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await boards_up
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


def _clock(config: FlightConfig) -> SystemClock | ScaledClock:
    """The mission clock, going on from where the last run's stood (see flight.clock)."""
    last = peek_state(config.state.dir)
    anchor = last.mission_clock if last is not None else None
    return mission_clock(
        config.time_scale,
        last=None if anchor is None else (anchor.utc, anchor.wall_utc, anchor.scale),
    )


def _anchor_mission_clock(app: FlightApp) -> None:
    """Write where the mission clock stands now, for the next start to go on from."""
    app.state.update(
        mission_clock=MissionClockAnchor(
            utc=app.clock.utc(), wall_utc=datetime.now(UTC), scale=app.config.time_scale
        )
    )


def _key(config: FlightConfig) -> bytes | None:
    """The command key, or None when the config explicitly allows unsigned commands."""
    if config.mqtt.key_file is not None and str(config.mqtt.key_file):
        return load_key(config.mqtt.key_file)
    if not config.mqtt.allow_unsigned:
        raise ValueError(
            "mqtt.key_file: a command key is required; set mqtt.allow_unsigned = true "
            "to accept unsigned commands (a bench or SIL setup only)"
        )
    return None


def run(config: FlightConfig) -> int:
    """Run the flight software of ``config`` until SIGTERM; the process's exit status."""
    try:
        key = _key(config)
    except (KeyFileError, ValueError) as exc:
        print(f"isru flight: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    notifier = Notifier.from_environ()
    try:
        asyncio.run(_serve(FlightApp(config=config, clock=_clock(config)), notifier, key))
    except (StateError, OutboxError) as exc:
        print(f"isru flight: {exc}", file=sys.stderr)
        return 1
    finally:
        notifier.close()
    return 0
