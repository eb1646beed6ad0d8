"""The onboard application: boards, dictionary, dispatch, limits, modes and sequencer, wired."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from types import TracebackType
from typing import Any

from flight.arming import Arming
from flight.channels import ChannelStore, snapshot_values
from flight.clock import Clock, ScaledClock, SystemClock
from flight.config import FlightConfig, effective_limits
from flight.dispatcher import (
    Ack,
    AckSink,
    Command,
    CommandFailed,
    Dispatcher,
    Execution,
    Reason,
    Route,
)
from flight.events import EventLog
from flight.handlers import Payload
from flight.interlocks import Interlocks
from flight.limits import LimitMonitor
from flight.modes import ModeKeeper
from flight.safing import Safing
from flight.sequencer import AbortCause, Sequencer, SequencerBusy
from flight.state import StateStore
from hal import BoardDriver, ElecDriver, ElecState, HalError, LinkState, ScoopDriver, SerialLink
from hal.telemetry import ElecFlags, ScoopFlags, ScoopState
from interface.catalog import DICTIONARY, VERSION
from interface.dictionary import Dictionary, Mode, SafingResponse
from interface.sequence import Sequence, SequenceError, format_problems, parse_sequence

BOARDS = ("scoop", "elec")
#: Mission seconds between keep-alive requests: each board safes itself after its host
#: watchdog (3 s by default, see docs/icd.md) hears nothing.
HEARTBEAT_S = 1.0
#: Heartbeats in a row a board may miss (each after the link's own retries) before it is lost.
HEARTBEAT_MISSES = 2
SEQUENCE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
#: The flags that name why a board is in FAULT (the others say what is on), as channels.
FAULT_CAUSES = {
    "scoop": tuple(
        f"scoop.{flag.name.lower()}"
        for flag in (
            ScoopFlags.BOOM_STALL,
            ScoopFlags.SCOOP_STALL,
            ScoopFlags.OVERCURRENT,
            ScoopFlags.OVERTEMP,
            ScoopFlags.LOADCELL_FAULT,
            ScoopFlags.HOST_TIMEOUT,
        )
        if flag.name
    ),
    "elec": tuple(
        f"elec.{flag.name.lower()}"
        for flag in (
            ElecFlags.OVERTEMP,
            ElecFlags.H2_OVERPRESSURE,
            ElecFlags.O2_OVERPRESSURE,
            ElecFlags.OVERVOLTAGE,
            ElecFlags.HOST_TIMEOUT,
        )
        if flag.name
    ),
}


class FlightApp:
    """The flight software as one async context manager.

    Entering it boots SAFE: state loaded, boot counted, links opening (a missing board is
    reported and retried, not fatal), every board told STOP as soon as it answers. Leaving
    it aborts what runs, safes the actuators and flushes the state.
    """

    def __init__(
        self,
        *,
        config: FlightConfig,
        clock: Clock | None = None,
        dictionary: Dictionary = DICTIONARY,
    ) -> None:
        self.config = config
        scale = config.time_scale
        self.clock: Clock = clock or (SystemClock() if scale == 1 else ScaledClock(scale=scale))
        self.dictionary = dictionary
        self.state = StateStore.in_dir(config.state.dir)
        self.events = EventLog(dictionary=dictionary, clock=self.clock)
        self.channels = ChannelStore(clock=self.clock)
        self.modes = ModeKeeper(events=self.events)
        self.arming = Arming(
            clock=self.clock, events=self.events, window_s=config.commanding.arm_window_s
        )
        self.links = {
            board: SerialLink(
                url=device.url,
                baudrate=device.baudrate,
                timeout_s=device.timeout_s,
                retries=device.retries,
                reconnect_s=device.reconnect_s,
                wait_open=False,
            )
            for board, device in (("scoop", config.devices.scoop), ("elec", config.devices.elec))
        }
        self.scoop = ScoopDriver(self.links["scoop"])
        self.elec = ElecDriver(self.links["elec"])
        self.safing = Safing(
            scoop=self.scoop,
            elec=self.elec,
            modes=self.modes,
            events=self.events,
            before_safe=self._before_safe,
        )
        self.limits = LimitMonitor(
            limits=effective_limits(config),
            dictionary=dictionary,
            events=self.events,
            on_red=self._on_red,
        )
        self.sequencer = Sequencer(
            run_command=self.execute,
            make_safe=lambda reason: self.safing.make_safe(reason=reason),
            channels=self.channels,
            events=self.events,
            clock=self.clock,
            state=self.state,
        )
        timeouts = {c.name: c.completion_timeout_s for c in dictionary.commands}
        payload = Payload(
            self.scoop,
            self.elec,
            self.clock,
            self.modes,
            self.arming,
            self.limits,
            self.safing,
            self.state,
            timeouts,
        )
        self.dispatcher = Dispatcher(
            dictionary=dictionary,
            routes=payload.routes() | self._sequence_routes(),
            modes=self.modes,
            arming=self.arming,
            interlocks=Interlocks(dictionary=dictionary),
            values=self.channels.values,
            events=self.events,
            clock=self.clock,
        )
        self.dispatcher.on_activity = self._follow_activity
        #: Short-lived work (configuring a board, a safing response); empty when settled.
        self._tasks: set[asyncio.Task[Any]] = set()
        #: The loops that run as long as the app: core telemetry, board heartbeat.
        self._loops: list[asyncio.Task[None]] = []
        self._board_boots: dict[str, int] = {}
        #: Per board: the FAULT causes last reported, or None while it is not in FAULT.
        self._board_faults: dict[str, frozenset[str] | None] = {}
        self._lost_boards: set[str] = set()
        self._last_elec_at: float | None = None
        self._started_at = 0.0
        self._exit = contextlib.AsyncExitStack()
        #: Sequences uploaded and checked, by name, ready to start.
        self.uploaded: dict[str, Sequence] = {}

    # --- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> FlightApp:
        warning = self.state.load()
        boot = self.state.bump_boot()
        self._started_at = self.clock.monotonic()
        self.events.emit("BOOT", version=VERSION, boot_count=boot)
        if warning:
            self.events.emit("STATE_RECOVERED", detail=warning)
        self.sequencer.report_interrupted()
        self.channels.listen(self._on_packet)
        for board, driver in self._drivers().items():
            driver.listen(self._packet_forwarder(board))
            self.links[board].add_state_listener(self._link_watcher(board))
            self.channels.update(board, {f"{board}.link_up": False})
        for link in self.links.values():
            await self._exit.enter_async_context(link)
        self._loops = [
            asyncio.create_task(self._core_telemetry(), name="core telemetry"),
            *(
                asyncio.create_task(self._keep_alive(board), name=f"{board} heartbeat")
                for board in BOARDS
            ),
        ]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.shutdown("stopped")

    async def shutdown(self, reason: str) -> None:
        """Abort what runs, actuators off, state flushed, links closed."""
        self.events.emit("SHUTDOWN", reason=reason)
        self.sequencer.cancel(f"flight software {reason}", cause=AbortCause.RESTART)
        await self.safing.make_safe(reason=f"flight software {reason}")
        for task in (*self._tasks, *self._loops):
            task.cancel()
        await asyncio.gather(*self._tasks, *self._loops, return_exceptions=True)
        self.state.flush()
        await self._exit.aclose()

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _drivers(self) -> dict[str, ScoopDriver | ElecDriver]:
        return {"scoop": self.scoop, "elec": self.elec}

    # --- commanding ------------------------------------------------------------------

    async def execute(self, command: Command, sink: AckSink | None = None) -> Ack:
        """Run one command to its end; each verification stage goes to ``sink``."""
        return await self.dispatcher.run(command, sink or (lambda _: None))

    def load_sequence(self, text: str, *, name: str) -> Sequence:
        """Parse and check ``text`` (raises SequenceError listing every problem)."""
        return parse_sequence(text, name=name, dictionary=self.dictionary)

    def start_sequence(self, text: str, *, name: str) -> Sequence:
        """Check and start a sequence; raises SequenceError or SequencerBusy."""
        sequence = self.load_sequence(text, name=name)
        self.sequencer.start(sequence)
        return sequence

    def _sequence_routes(self) -> dict[str, Route]:
        return {
            "SEQ.UPLOAD": Route(self._seq_upload),
            "SEQ.START": Route(self._seq_start),
            "SEQ.ABORT": Route(self._seq_abort),
        }

    async def _seq_upload(self, run: Execution) -> None:
        name = _sequence_name(run.args["name"])
        try:
            self.uploaded[name] = self.load_sequence(run.args["text"], name=name)
        except SequenceError as exc:
            raise CommandFailed(Reason.INVALID_ARGUMENT, format_problems(exc.problems)) from None
        run.started()

    async def _seq_start(self, run: Execution) -> None:
        name = _sequence_name(run.args["name"])
        sequence = self.uploaded.get(name)
        if sequence is None:
            raise CommandFailed(Reason.INVALID_ARGUMENT, f"no sequence {name!r} was uploaded")
        try:
            self.sequencer.start(sequence)
        except SequencerBusy as exc:
            raise CommandFailed(Reason.BUSY, str(exc)) from None
        run.started()

    async def _seq_abort(self, run: Execution) -> None:
        run.started()
        await self.sequencer.abort(f"{run.command.name} from {run.command.source}")

    # --- telemetry and fault protection ----------------------------------------------

    def _packet_forwarder(self, board: str) -> Callable[[Any], None]:
        def forward(snapshot: Any) -> None:
            # link_up rides in every packet: a packet is the proof, and late joiners see it.
            values = snapshot_values(board, snapshot)
            values[f"{board}.link_up"] = bool(self.channels.values.get(f"{board}.link_up"))
            self.channels.update(board, values)

        return forward

    def _on_packet(self, packet: str, values: dict[str, Any]) -> None:
        if packet == "elec":
            self._count_charge(values)
        if packet in BOARDS:
            self._watch_board_boot(packet, values)
            self._watch_board_fault(packet, values)
            self._follow_activity()
        self.limits.check(values)

    def _count_charge(self, values: dict[str, Any]) -> None:
        now = self.clock.monotonic()
        if self._last_elec_at is not None:
            current = float(values.get("elec.cell_current_a", 0.0))
            self.state.add_cell_ah(max(0.0, current) * (now - self._last_elec_at) / 3600)
        self._last_elec_at = now

    def _watch_board_boot(self, board: str, values: dict[str, Any]) -> None:
        boot = values.get(f"{board}.boot_count")
        known = self._board_boots.get(board)
        if boot is None or boot == known:
            return
        self._board_boots[board] = boot
        if known is not None:
            self.events.emit("BOARD_RESET", board=board, old=known, new=boot)
            active = self.dispatcher.active.get(board)
            if active is not None:
                active.cancel()
            self._spawn(self._configure(board))

    def _watch_board_fault(self, board: str, values: dict[str, Any]) -> None:
        """A board entering FAULT, or naming a new cause, is reported (BOARD_FAULT), and one
        leaving it too (BOARD_FAULT_CLEARED). A tripped host watchdog (HOST_TIMEOUT: the
        flight software was silent, e.g. frozen, for 3 s) makes the payload SAFE, whose STOP
        clears the board's FAULT; other causes are answered by their limits."""
        state = values.get(f"{board}.state")
        if state is None:
            return
        was = self._board_faults.get(board)
        if state != "FAULT":
            self._board_faults[board] = None
            if was is not None:
                self.events.emit("BOARD_FAULT_CLEARED", board=board)
            return
        causes = frozenset(c for c in FAULT_CAUSES[board] if values.get(c))
        self._board_faults[board] = causes
        new = [c for c in FAULT_CAUSES[board] if c in causes - (was or frozenset())]
        if was is not None and not new:
            return
        cause = "+".join(c.split(".", 1)[1].upper() for c in new) or "no cause flagged"
        if f"{board}.host_timeout" in new:
            action = "its host watchdog tripped (no request for 3 s); going SAFE, STOP clears it"
            self._spawn(
                self.safing.respond(
                    SafingResponse.SAFE, reason=f"{board} board host watchdog tripped"
                )
            )
        else:
            action = "the board switched its actuators off; STOP clears it once the cause is gone"
        self.events.emit("BOARD_FAULT", board=board, cause=cause, action=action)

    def _follow_activity(self) -> None:
        values = self.channels.values
        busy = (
            bool(self.dispatcher.active)
            or values.get("scoop.state", ScoopState.IDLE.name)
            not in (ScoopState.IDLE.name, ScoopState.FAULT.name)
            or values.get("elec.state") == ElecState.RUNNING.name
        )
        self.modes.follow_activity(busy=busy)

    def _on_red(self, channel: str, response: SafingResponse, reason: str) -> None:
        if response is SafingResponse.SAFE:  # the sequence ends for the limit, not the safing
            self.sequencer.cancel(reason, cause=AbortCause.LIMIT)
        self._spawn(self.safing.respond(response, reason=reason))

    def _before_safe(self, reason: str, keep_sequence: bool) -> None:
        if not keep_sequence:
            self.sequencer.cancel(reason)
        self.dispatcher.abort_all()
        self.arming.disarm("going SAFE")

    def _link_watcher(self, board: str) -> Callable[[LinkState], None]:
        def watch(state: LinkState) -> None:
            if state is LinkState.OPEN:
                self._spawn(self._configure(board))
            elif state is LinkState.LOST:
                self._board_lost(board, self.links[board].last_error or "port gone")

        return watch

    def _board_lost(self, board: str, detail: str) -> None:
        """The board is out of reach (its port went, or it stopped answering): once per
        outage, LINK_LOST and the payload SAFE; the reopen attempts that follow are quiet."""
        self.channels.update(board, {f"{board}.link_up": False})
        if board in self._lost_boards:
            return
        self._lost_boards.add(board)
        self.events.emit("LINK_LOST", board=board, detail=detail)
        self._spawn(self.safing.respond(SafingResponse.SAFE, reason=f"{board} link lost"))

    async def _configure(self, board: str) -> bool:
        """A board has (re)appeared: identify it, make it safe, set its telemetry rate.

        In SAFE (at boot, and after any outage) every actuator of the board is switched off
        and every valve closed: what safing could not reach while the link was down.
        """
        driver: BoardDriver[Any] = self._drivers()[board]
        rate = getattr(self.config.telemetry, f"{board}_hz")
        try:
            info = await driver.info()
            if self.modes.mode is Mode.SAFE:
                failures = await self.safing.safe_board(board)
                if failures:
                    raise HalError("; ".join(failures))
            else:
                await driver.stop()
            await driver.set_telemetry_rate(rate)
        except HalError as exc:
            self._board_lost(board, f"not answering: {exc}")
            return False
        self._board_boots[board] = info.boot_count
        self.channels.update(board, {f"{board}.link_up": True})
        if board in self._lost_boards:
            self._lost_boards.discard(board)
            self.events.emit("LINK_RESTORED", board=board)
        return True

    async def _keep_alive(self, board: str) -> None:
        """Feed one board's host watchdog every HEARTBEAT_S. A board that stops answering is
        lost (even with its port still open); one that answers again is configured afresh.
        One loop per board, so a silent board does not starve the other's heartbeat."""
        driver: BoardDriver[Any] = self._drivers()[board]
        misses = 0
        while True:
            await self.clock.sleep(HEARTBEAT_S)
            if not self.links[board].is_open:
                continue  # the link reopens by itself and says so
            if not self.channels.values.get(f"{board}.link_up"):
                await self._configure(board)
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
        heard = self.channels.updated_at.get(f"{board}.state")
        return heard is None or self.clock.monotonic() - heard >= HEARTBEAT_S

    async def _core_telemetry(self) -> None:
        period = 1.0 / self.config.telemetry.core_hz
        while True:
            status = self.sequencer.status
            self.channels.update(
                "core",
                {
                    "core.mode": self.modes.mode.value,
                    "core.armed": self.arming.armed or "",
                    "core.uptime_s": round(self.clock.monotonic() - self._started_at, 3),
                    "core.boot_count": self.state.boot_count,
                    "core.commands_completed": self.dispatcher.completed,
                    "core.commands_failed": self.dispatcher.failed,
                    "core.seq_state": status.state.value,
                    "core.seq_line": status.line if status.state.value == "RUNNING" else 0,
                    "core.cell_ah_total": round(self.state.cell_ah_total, 6),
                    "core.scoop_cycles_total": self.state.scoop_cycles_total,
                },
            )
            await self.clock.sleep(period)


def _sequence_name(name: str) -> str:
    if not SEQUENCE_NAME.fullmatch(name):
        raise CommandFailed(
            Reason.INVALID_ARGUMENT, f"name: {name!r} must be 1-64 of A-Z a-z 0-9 _ . -"
        )
    return name
