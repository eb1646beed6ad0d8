"""Verification: a command COMPLETES only once the board's telemetry, newer than the
command, shows its effect (:func:`settle`); a board FAULT fails it."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable

from flight.clock import Clock, within
from flight.dispatcher import CommandFailed, Reason
from hal import BoardDriver
from hal.driver import TM
from hal.telemetry import Telemetry

#: Real-time bound on a telemetry wait; the mission clock's window is the one that counts.
_NEVER_S = 1e9
#: Mission seconds a verification waits for a telemetry packet before it asks the board for
#: a status itself, so a stream that is off (CORE.TM_RATE rate_hz=0) or slow still verifies.
VERIFY_POLL_S = 0.5
#: Board commands the ICD lets a board in FAULT carry out (STOP, SET_VALVE, SET_TRAP, RESET):
#: their commands are verified on their own effect, and a FAULT alone does not fail them.
FAULT_TOLERANT = frozenset(
    {
        "CORE.RESET_BOARD",
        "SCOOP.STOP",
        "ELEC.STOP",
        "ELEC.VENT",
        "ELEC.VENT_CLOSE",
        "ELEC.WATER",
        "OVEN.STOP",
        "OVEN.TRAP",
        "OVEN.TRAP_OFF",
    }
)
_UPTIME_WRAP = 1 << 32


def not_older(uptime_ms: int, since_ms: int) -> bool:
    """Whether a board's ``uptime_ms`` is at or after ``since_ms``, across the 2^32 ms wrap
    (about 49.7 days): anything up to half the range ahead counts as later."""
    return (uptime_ms - since_ms) % _UPTIME_WRAP < _UPTIME_WRAP // 2


def flag_names(flags: enum.IntFlag) -> str:
    """A flag word as the ICD writes it: names joined by ``+``, or ``none``."""
    return "+".join(f.name for f in type(flags) if f in flags and f.name) or "none"


def describe(t: Telemetry) -> str:
    return f"state {t.state.name}, flags {flag_names(t.flags)}"


async def settle(
    driver: BoardDriver[TM],
    clock: Clock,
    *,
    done: Callable[[TM], bool],
    timeout_s: float,
    what: str,
    fault_ok: bool = False,
    seen: Callable[[TM], str] = describe,
) -> TM:
    """Wait, on telemetry newer than the command, until ``done``; a board FAULT fails it.

    Asking for a status right after the device's ACK gives the board's time at that moment;
    only snapshots from then on count (``not_older``, across the uptime wrap), so a stale
    packet cannot confirm the command. When no packet at all arrives for ``VERIFY_POLL_S``
    the board is asked for a status. With ``fault_ok`` (a command the board carries out in
    FAULT) a FAULT neither ends nor fails the wait. On timeout the detail says what was
    last seen (``seen``).
    """
    status = await driver.get_status()
    since = status.uptime_ms

    def outcome(t: TM) -> bool:
        if not not_older(t.uptime_ms, since):
            return False
        return done(t) or (not fault_ok and t.state.name == "FAULT")

    heard = False

    def hear(_: TM) -> None:
        nonlocal heard
        heard = True

    deadline = clock.monotonic() + timeout_s
    remove = driver.listen(hear)
    try:
        while not outcome(status):
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                last = driver.latest if driver.latest is not None else status
                raise CommandFailed(
                    Reason.VERIFY_TIMEOUT,
                    f"{what} not seen within {timeout_s:g} s (last seen: {seen(last)})",
                )
            heard = False
            waiting = asyncio.ensure_future(driver.wait_for(outcome, timeout_s=_NEVER_S))
            try:
                status = await within(clock, min(VERIFY_POLL_S, remaining), waiting)
            except TimeoutError:
                if not heard:  # the stream is off or slower than the poll: ask
                    status = await driver.get_status()
    finally:
        remove()
    if status.state.name == "FAULT" and not fault_ok:
        raise CommandFailed(
            Reason.DEVICE_FAULT,
            f"{driver.board.name.lower()} board in FAULT: {flag_names(status.flags)}",
        )
    return status
