"""The composition root: builds the vehicle from its config and owns the lifetime of its parts.

:class:`FlightApp` wires the boards (links, drivers, :class:`~flight.boards.BoardSupervisor`),
the dictionary's dispatch (:class:`~flight.dispatcher.Dispatcher` with the handlers'
routes and :class:`~flight.sequence_commands.SequenceCommands`), limits, modes, arming,
safing, the sequencer and :class:`~flight.housekeeping.Housekeeping`; what each part does is
in its own module. See docs/design/flight.md.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from types import TracebackType
from typing import Any

from flight.arming import Arming
from flight.boards import BOARDS, BoardSupervisor
from flight.channels import ChannelStore
from flight.clock import Clock, ScaledClock, SystemClock
from flight.config import FlightConfig, effective_limits
from flight.dispatcher import Ack, AckSink, Command, Dispatcher
from flight.events import EventLog
from flight.handlers import Payload
from flight.housekeeping import Housekeeping
from flight.interlocks import Interlocks
from flight.limits import LimitMonitor
from flight.modes import ModeKeeper
from flight.oven import OvenChannels
from flight.safing import Safing
from flight.sample_handlers import sample_desk
from flight.samples import CustodySink
from flight.sequence_commands import SequenceCommands
from flight.sequencer import AbortCause, Sequencer
from flight.state import StateStore
from hal import ElecDriver, ElecState, OvenDriver, OvenState, ScoopDriver, SerialLink
from hal.telemetry import ScoopState
from interface.catalog import DICTIONARY, VERSION
from interface.dictionary import Dictionary, SafingResponse
from interface.sequence import Sequence

#: The state names that leave a board at rest (looked at for every packet: taken once).
_SCOOP_IDLE, _OVEN_IDLE, _ELEC_RUNNING = (
    ScoopState.IDLE.name,
    OvenState.IDLE.name,
    ElecState.RUNNING.name,
)
_SCOOP_AT_REST = frozenset((_SCOOP_IDLE, ScoopState.FAULT.name))
_OVEN_AT_REST = frozenset((_OVEN_IDLE, OvenState.FAULT.name))


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
        sink: CustodySink | None = None,
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
        self.links = _links(config, scale=self.clock.scale)
        self.scoop = ScoopDriver(self.links["scoop"])
        self.elec = ElecDriver(self.links["elec"])
        self.oven = OvenDriver(self.links["oven"])
        self.safing = Safing(
            scoop=self.scoop, elec=self.elec, oven=self.oven, modes=self.modes, events=self.events
        )
        self.limits = LimitMonitor(
            limits=effective_limits(config),
            dictionary=dictionary,
            events=self.events,
            on_red=self._on_red,
        )
        self.sequencer = Sequencer(
            run_command=self.execute,
            safing=self.safing,
            channels=self.channels,
            events=self.events,
            clock=self.clock,
            state=self.state,
        )
        self.sequences = SequenceCommands(sequencer=self.sequencer, dictionary=dictionary)
        self.samples = sample_desk(
            config, clock=self.clock, events=self.events, channels=self.channels, sink=sink
        )
        self.samples.sequencer = self.sequencer
        self.dispatcher = self._dispatcher()
        # Going SAFE stops the sequence first, then the commands, then any arm.
        for part in (self.sequencer, self.dispatcher, self.arming):
            self.safing.interrupts(part)
        #: Short-lived work (configuring a board, a safing response); empty when settled.
        self._tasks: set[asyncio.Task[Any]] = set()
        #: The loops that run as long as the app: core telemetry, board heartbeat.
        self._loops: list[asyncio.Task[None]] = []
        self.boards = BoardSupervisor(
            links=self.links,
            drivers={"scoop": self.scoop, "elec": self.elec, "oven": self.oven},
            channels=self.channels,
            events=self.events,
            clock=self.clock,
            modes=self.modes,
            safing=self.safing,
            rates={board: getattr(config.telemetry, f"{board}_hz") for board in BOARDS},
            active=self.dispatcher.active,
            spawn=self._spawn,
            derive={"oven": OvenChannels()},
        )
        self.housekeeping = Housekeeping(
            channels=self.channels,
            clock=self.clock,
            modes=self.modes,
            arming=self.arming,
            state=self.state,
            dispatcher=self.dispatcher,
            sequencer=self.sequencer,
            core_hz=config.telemetry.core_hz,
        )
        self._exit = contextlib.AsyncExitStack()

    def _dispatcher(self) -> Dispatcher:
        timeouts = {c.name: c.completion_timeout_s for c in self.dictionary.commands}
        payload = Payload(
            scoop=self.scoop,
            elec=self.elec,
            oven=self.oven,
            clock=self.clock,
            modes=self.modes,
            arming=self.arming,
            limits=self.limits,
            safing=self.safing,
            state=self.state,
            timeouts=timeouts,
        )
        dispatcher = Dispatcher(
            dictionary=self.dictionary,
            routes=self.samples.hook(payload.routes() | self.sequences.routes())
            | self.samples.routes(),
            modes=self.modes,
            arming=self.arming,
            interlocks=Interlocks(dictionary=self.dictionary),
            values=self.channels.values,
            events=self.events,
            clock=self.clock,
        )
        dispatcher.on_activity = self._follow_activity
        return dispatcher

    # --- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> FlightApp:
        warning = self.state.load()
        boot = self.state.bump_boot()
        self.housekeeping.boot()
        self.events.emit("BOOT", version=VERSION, boot_count=boot)
        if warning:
            self.events.emit("STATE_RECOVERED", detail=warning)
        self.sequencer.report_interrupted()
        await self.samples.keeper.open()
        self.samples.start()
        self.channels.listen(self._on_packet)
        self.boards.start()
        for link in self.links.values():
            await self._exit.enter_async_context(link)
        self._loops = [self.housekeeping.loop(), *self.boards.loops()]
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
        await self.samples.stop()
        await self.samples.camera.close()
        self.samples.keeper.close()
        self.state.flush()
        await self._exit.aclose()

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- commanding ------------------------------------------------------------------

    async def execute(self, command: Command, sink: AckSink | None = None) -> Ack:
        """Run one command to its end; each verification stage goes to ``sink``."""
        return await self.dispatcher.run(command, sink or (lambda _: None))

    def execute_now(self, command: Command, sink: AckSink) -> Ack | None:
        """Run a command that waits for nothing to its end at once and return its final ack;
        None for any other (run it with :meth:`execute`)."""
        return self.dispatcher.run_now(command, sink)

    @property
    def uploaded(self) -> dict[str, Sequence]:
        """Sequences uploaded (SEQ.UPLOAD) and checked, by name, ready to start."""
        return self.sequences.uploaded

    def load_sequence(self, text: str, *, name: str) -> Sequence:
        """Parse and check ``text`` (raises SequenceError listing every problem)."""
        return self.sequences.load(text, name=name)

    def start_sequence(self, text: str, *, name: str) -> Sequence:
        """Check and start a sequence; raises SequenceError or SequencerBusy."""
        sequence = self.load_sequence(text, name=name)
        self.sequencer.start(sequence)
        self.samples.sequence_started(name, text)
        return sequence

    # --- sample custody --------------------------------------------------------------

    def attach_custody(self, sink: CustodySink | None) -> None:
        """Hand every new ledger line and stored image to ``sink`` (the downlink) from now
        on; the ledger's head at once when it is open."""
        self.samples.keeper.attach(sink)

    def custody_head(self) -> dict[str, Any] | None:
        """The ledger's head (``samples/head``); None while custody is off."""
        return self.samples.keeper.head()

    # --- telemetry and fault protection ----------------------------------------------

    def _on_packet(self, packet: str, values: dict[str, Any]) -> None:
        if packet == "elec":
            self.housekeeping.count_charge(values)
        if packet in BOARDS:
            self.boards.on_packet(packet, values)
            self._follow_activity()
        self.limits.check(values)

    def _follow_activity(self) -> None:
        values = self.channels.values
        busy = (
            bool(self.dispatcher.active)
            or values.get("scoop.state", _SCOOP_IDLE) not in _SCOOP_AT_REST
            or values.get("elec.state") == _ELEC_RUNNING
            or values.get("oven.state", _OVEN_IDLE) not in _OVEN_AT_REST
        )
        self.modes.follow_activity(busy=busy)

    def _on_red(self, channel: str, response: SafingResponse, reason: str) -> None:
        if response is SafingResponse.SAFE:  # the sequence ends for the limit, not the safing
            self.sequencer.cancel(reason, cause=AbortCause.LIMIT)
        self._spawn(self.safing.respond(response, reason=reason))


def _links(config: FlightConfig, *, scale: float) -> dict[str, SerialLink]:
    """One serial link per board, opened (and reopened) in the background. The read hold is
    mission time (a board's stream runs ``scale`` times as fast in SIL): the link holds
    ``read_hold_s / scale`` real seconds."""
    return {
        board: SerialLink(
            url=device.url,
            baudrate=device.baudrate,
            timeout_s=device.timeout_s,
            retries=device.retries,
            reconnect_s=device.reconnect_s,
            read_hold_s=device.read_hold_s / scale,
            wait_open=False,
        )
        for board, device in config.devices  # (name, DeviceConfig): one per board
    }
