"""Safing: the responses that put devices (or the whole payload) into a safe state."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from flight.channels import snapshot_values
from flight.events import EventLog
from flight.modes import ModeKeeper
from flight.oven import lid_state
from hal import ElecDriver, HalError, OvenDriver, OvenFlags, ScoopDriver, Valve
from interface.dictionary import Mode, SafingResponse

CLOSED_VALVES = (Valve.WATER_FEED, Valve.H2_VENT, Valve.O2_VENT)
#: Status requests after the oven's STOP and trap off that may still show them on.
OVEN_OFF_POLLS = 3


class Interruptible(Protocol):
    """A part that stops what it is doing when the payload goes SAFE: the sequencer (its
    run ends ABORTED), the dispatcher (commands in progress end FAILED ABORTED), arming."""

    def going_safe(self, reason: str, *, keep_sequence: bool) -> None:
        """Called first by :meth:`Safing.make_safe`; ``keep_sequence``: a sequence step is
        the one safing, and the sequence goes on."""


class Safing:
    """Carries out a :class:`SafingResponse`. Each device action is tried even when another
    fails (a board whose link is down cannot be commanded; its own protection holds it)."""

    def __init__(
        self,
        *,
        scoop: ScoopDriver,
        elec: ElecDriver,
        oven: OvenDriver,
        modes: ModeKeeper,
        events: EventLog,
    ) -> None:
        self._scoop = scoop
        self._elec = elec
        self._oven = oven
        self._modes = modes
        self._events = events
        self._interrupted: list[Interruptible] = []

    def interrupts(self, part: Interruptible) -> None:
        """Going SAFE stops ``part`` first (in the order they were added)."""
        self._interrupted.append(part)

    async def respond(self, response: SafingResponse, *, reason: str) -> list[str]:
        """Carry out ``response``; returns what could not be done (empty when all went)."""
        if response is SafingResponse.NONE:
            return []
        self._events.emit("SAFING", response=response.value, reason=reason)
        if response is SafingResponse.SAFE:
            return await self.make_safe(reason=reason)
        actions: dict[SafingResponse, list[tuple[str, Callable[[], Awaitable[None]]]]] = {
            SafingResponse.STOP_SCOOP: [("scoop stop", self._scoop.stop)],
            SafingResponse.STOP_CELL: [("cell stop", self._elec.stop)],
            SafingResponse.VENT_H2: [
                ("cell stop", self._elec.stop),
                ("H2 vent", lambda: self._elec.set_valve(Valve.H2_VENT, open=True)),
            ],
            SafingResponse.VENT_O2: [
                ("cell stop", self._elec.stop),
                ("O2 vent", lambda: self._elec.set_valve(Valve.O2_VENT, open=True)),
            ],
        }
        return await self._attempt(actions[response])

    async def make_safe(self, *, reason: str, keep_sequence: bool = False) -> list[str]:
        """Abort what runs, every actuator off, every valve closed, mode SAFE.

        ``keep_sequence``: a sequence step is doing this itself; the sequence goes on.
        """
        for part in self._interrupted:
            part.going_safe(reason, keep_sequence=keep_sequence)
        self._modes.set(Mode.SAFE, reason=reason)
        steps = [step for board in ("scoop", "elec", "oven") for step in self._board_steps(board)]
        return await self._attempt(steps)

    async def safe_board(self, board: str) -> list[str]:
        """Every actuator of one board off (a board that answers again after an outage)."""
        return await self._attempt(self._board_steps(board))

    def _board_steps(self, board: str) -> list[tuple[str, Callable[[], Awaitable[None]]]]:
        if board == "scoop":
            return [("scoop stop", self._scoop.stop)]
        if board == "oven":
            return [
                ("oven stop", self._oven.stop),
                ("oven trap off", lambda: self._oven.set_trap(enabled=False, setpoint_c=0.0)),
                ("oven safe", self._report_oven),
            ]
        steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [("cell stop", self._elec.stop)]
        for valve in CLOSED_VALVES:
            steps.append((f"close {valve.name}", _closer(self._elec, valve)))
        return steps

    async def _report_oven(self) -> None:
        """The oven's state after its safe steps: heater, pump and trap off (else a failure),
        and where its lid is (mechanical: the flight software never moves it to safe)."""
        for _ in range(OVEN_OFF_POLLS):
            status = await self._oven.get_status()
            on = status.flags & (OvenFlags.HEATER_ON | OvenFlags.PUMP_ON | OvenFlags.TRAP_ON)
            if not on:
                break
        else:
            raise HalError(f"still on after STOP: {'+'.join(f.name or '' for f in on)}")
        self._events.emit(
            "OVEN_SAFED",
            lid=lid_state(snapshot_values("oven", status)),
            sample_temp_c=round(status.sample_temp_c, 1),
        )

    async def _attempt(self, steps: list[tuple[str, Callable[[], Awaitable[None]]]]) -> list[str]:
        # Shielded: whoever asked may be cancelled, the actuators go off all the same.
        return await asyncio.shield(self._run_steps(steps))

    async def _run_steps(self, steps: list[tuple[str, Callable[[], Awaitable[None]]]]) -> list[str]:
        failures = []
        for what, action in steps:
            try:
                await action()
            except HalError as exc:
                failures.append(f"{what}: {exc}")
        return failures


def _closer(elec: ElecDriver, valve: Valve) -> Callable[[], Awaitable[None]]:
    return lambda: elec.set_valve(valve, open=False)
