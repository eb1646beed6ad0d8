"""Board supervision: keep-alive, lost and restored links, board resets and FAULTs.

One :class:`BoardSupervisor` watches every board: it feeds each board's host watchdog, makes
a board that (re)appears safe and sets its telemetry rate, reports a board that is out of
reach once per outage (LINK_LOST, the payload SAFE), and reports a board that rebooted
(BOARD_RESET) or entered FAULT (BOARD_FAULT).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from flight.channels import ChannelStore, snapshot_values
from flight.clock import Clock
from flight.events import EventLog
from flight.modes import ModeKeeper
from flight.safing import Safing
from hal import BoardDriver, HalError, LinkState, SerialLink
from hal.telemetry import ElecFlags, OvenFlags, ScoopFlags
from interface.dictionary import Mode, SafingResponse

BOARDS = ("scoop", "elec", "oven")
#: Mission seconds between keep-alive requests: each board safes itself after its host
#: watchdog (3 s by default, see docs/icd.md) hears nothing.
HEARTBEAT_S = 1.0
#: Heartbeats in a row a board may miss (each after the link's own retries) before it is lost.
HEARTBEAT_MISSES = 2


def _causes(board: str, flags: type[enum.IntFlag], names: str) -> tuple[str, ...]:
    return tuple(f"{board}.{flags[name].name}".lower() for name in names.split())


#: The flags that name why a board is in FAULT (the others say what is on), as channels.
FAULT_CAUSES = {
    "scoop": _causes(
        "scoop",
        ScoopFlags,
        "BOOM_STALL SCOOP_STALL OVERCURRENT OVERTEMP LOADCELL_FAULT HOST_TIMEOUT",
    ),
    "elec": _causes(
        "elec", ElecFlags, "OVERTEMP H2_OVERPRESSURE O2_OVERPRESSURE OVERVOLTAGE HOST_TIMEOUT"
    ),
    "oven": _causes(
        "oven", OvenFlags, "OVERTEMP OVERPRESSURE SENSOR_FAULT PUMP_STALL HOST_TIMEOUT"
    ),
}
#: Channels the flight software adds to a board's packet (``oven.lid``...), per board.
Derive = Callable[[dict[str, Any]], dict[str, Any]]

#: Runs a coroutine in the background, owned (and cancelled at shutdown) by the vehicle.
Spawn = Callable[[Coroutine[Any, Any, Any]], None]


class BoardSupervisor:
    """Watches the boards over their links; :meth:`start` wires it, :meth:`loops` runs it."""

    def __init__(
        self,
        *,
        links: Mapping[str, SerialLink],
        drivers: Mapping[str, BoardDriver[Any]],
        channels: ChannelStore,
        events: EventLog,
        clock: Clock,
        modes: ModeKeeper,
        safing: Safing,
        rates: Mapping[str, float],
        active: Mapping[str, asyncio.Task[None]],
        spawn: Spawn,
        derive: Mapping[str, Derive] | None = None,
    ) -> None:
        self._links = links
        self._drivers = drivers
        self._channels = channels
        self._events = events
        self._clock = clock
        self._modes = modes
        self._safing = safing
        #: Telemetry rate (Hz) each board is set to when it (re)appears.
        self._rates = rates
        #: The command each device runs now (the dispatcher's): a board reset aborts it.
        self._active = active
        self._spawn = spawn
        self._derive = dict(derive or {})
        self._boots: dict[str, int] = {}
        #: Per board: the FAULT causes last reported, or None while it is not in FAULT.
        self._faults: dict[str, frozenset[str] | None] = {}
        self._lost: set[str] = set()
        #: Per board: the channels of its boot count and state (looked at in every packet).
        self._watched = {
            board: (f"{board}.boot_count", f"{board}.state") for board in (*BOARDS, *drivers)
        }

    def start(self) -> None:
        """Forward each board's packets to the channels and follow its link."""
        for board, driver in self._drivers.items():
            driver.listen(self._packet_forwarder(board))
            self._links[board].add_state_listener(self._link_watcher(board))
            self._channels.update(board, {f"{board}.link_up": False})

    def loops(self) -> list[asyncio.Task[None]]:
        """One keep-alive task per board, so a silent board does not starve the others."""
        return [
            asyncio.create_task(self._keep_alive(board), name=f"{board} heartbeat")
            for board in self._drivers
        ]

    def on_packet(self, board: str, values: Mapping[str, Any]) -> None:
        """A board's packet reached the channels: watch its boot count and its FAULT."""
        self._watch_boot(board, values)
        self._watch_fault(board, values)

    # --- packets ---------------------------------------------------------------------

    def _packet_forwarder(self, board: str) -> Callable[[Any], None]:
        link_up, channels = f"{board}.link_up", self._channels

        def forward(snapshot: Any) -> None:
            # link_up rides in every packet: a packet is the proof, and late joiners see it.
            values = snapshot_values(board, snapshot)
            values[link_up] = bool(channels.values.get(link_up))
            derive = self._derive.get(board)
            channels.update(board, values if derive is None else derive(values))

        return forward

    def _watch_boot(self, board: str, values: Mapping[str, Any]) -> None:
        boot = values.get(self._watched[board][0])
        known = self._boots.get(board)
        if boot is None or boot == known:
            return
        self._boots[board] = boot
        if known is not None:
            self._events.emit("BOARD_RESET", board=board, old=known, new=boot)
            active = self._active.get(board)
            if active is not None:
                active.cancel()
            self._spawn(self.configure(board))

    def _watch_fault(self, board: str, values: Mapping[str, Any]) -> None:
        """A board entering FAULT, or naming a new cause, is reported (BOARD_FAULT), and one
        leaving it too (BOARD_FAULT_CLEARED). A tripped host watchdog (HOST_TIMEOUT: the
        flight software was silent, e.g. frozen, for 3 s) makes the payload SAFE, whose STOP
        clears the board's FAULT; other causes are answered by their limits."""
        state = values.get(self._watched[board][1])
        if state is None:
            return
        was = self._faults.get(board)
        if state != "FAULT":
            self._faults[board] = None
            if was is not None:
                self._events.emit("BOARD_FAULT_CLEARED", board=board)
            return
        causes = frozenset(c for c in FAULT_CAUSES[board] if values.get(c))
        self._faults[board] = causes
        new = [c for c in FAULT_CAUSES[board] if c in causes - (was or frozenset())]
        if was is not None and not new:
            return
        cause = "+".join(c.split(".", 1)[1].upper() for c in new) or "no cause flagged"
        if f"{board}.host_timeout" in new:
            action = "its host watchdog tripped (no request for 3 s); going SAFE, STOP clears it"
            self._spawn(
                self._safing.respond(
                    SafingResponse.SAFE, reason=f"{board} board host watchdog tripped"
                )
            )
        else:
            action = "the board switched its actuators off; STOP clears it once the cause is gone"
        self._events.emit("BOARD_FAULT", board=board, cause=cause, action=action)

    # --- links -----------------------------------------------------------------------

    def _link_watcher(self, board: str) -> Callable[[LinkState], None]:
        def watch(state: LinkState) -> None:
            if state is LinkState.OPEN:
                self._spawn(self.configure(board))
            elif state is LinkState.LOST:
                self._board_lost(board, self._links[board].last_error or "port gone")

        return watch

    def _board_lost(self, board: str, detail: str) -> None:
        """The board is out of reach (its port went, or it stopped answering): once per
        outage, LINK_LOST and the payload SAFE; the reopen attempts that follow are quiet."""
        self._channels.update(board, {f"{board}.link_up": False})
        if board in self._lost:
            return
        self._lost.add(board)
        self._events.emit("LINK_LOST", board=board, detail=detail)
        self._spawn(self._safing.respond(SafingResponse.SAFE, reason=f"{board} link lost"))

    async def configure(self, board: str) -> bool:
        """A board has (re)appeared: identify it, make it safe, set its telemetry rate.

        In SAFE (at boot, and after any outage) every actuator of the board is switched off
        and every valve closed: what safing could not reach while the link was down.
        """
        driver: BoardDriver[Any] = self._drivers[board]
        rate = self._rates[board]
        try:
            info = await driver.info()
            if self._modes.mode is Mode.SAFE:
                failures = await self._safing.safe_board(board)
                if failures:
                    raise HalError("; ".join(failures))
            else:
                await driver.stop()
            await driver.set_telemetry_rate(rate)
        except HalError as exc:
            self._board_lost(board, f"not answering: {exc}")
            return False
        self._boots[board] = info.boot_count
        self._channels.update(board, {f"{board}.link_up": True})
        if board in self._lost:
            self._lost.discard(board)
            self._events.emit("LINK_RESTORED", board=board)
        return True

    async def _keep_alive(self, board: str) -> None:
        """Feed one board's host watchdog every HEARTBEAT_S. A board that stops answering is
        lost (even with its port still open); one that answers again is configured afresh."""
        driver: BoardDriver[Any] = self._drivers[board]
        misses = 0
        while True:
            await self._clock.sleep(HEARTBEAT_S)
            if not self._links[board].is_open:
                continue  # the link reopens by itself and says so
            if not self._channels.values.get(f"{board}.link_up"):
                await self.configure(board)
                continue
            try:
                if self._stream_quiet(board):
                    await driver.get_status()  # a packet: channels, limits, resets see it
                else:
                    await driver.info()
                misses = 0
            except HalError as exc:
                misses += 1
                if misses >= HEARTBEAT_MISSES:
                    self._board_lost(board, f"not answering: {exc}")

    def _stream_quiet(self, board: str) -> bool:
        """No packet from ``board`` for a heartbeat period (its stream off or slower)."""
        heard = self._channels.updated_at.get(f"{board}.state")
        return heard is None or self._clock.monotonic() - heard >= HEARTBEAT_S
