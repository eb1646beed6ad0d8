"""Command dispatch: validate, execute, verify, and report every stage of every command."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flight.arming import ARM_COMMAND, Arming
from flight.clock import Clock
from flight.events import EventLog
from flight.interlocks import Interlocks
from flight.modes import ModeKeeper
from hal.errors import DeviceNack, DeviceTimeout, HalError, LinkDown
from interface.dictionary import ArgumentError, Dictionary

log = logging.getLogger(__name__)


class Stage(enum.StrEnum):
    ACCEPTED = "ACCEPTED"
    STARTED = "STARTED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class Reason(enum.StrEnum):
    """Why a command FAILED."""

    UNKNOWN_COMMAND = "UNKNOWN_COMMAND"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_ALLOWED_IN_MODE = "NOT_ALLOWED_IN_MODE"
    NOT_ARMED = "NOT_ARMED"
    INTERLOCK = "INTERLOCK"
    BUSY = "BUSY"
    LINK_DOWN = "LINK_DOWN"
    DEVICE_NACK = "DEVICE_NACK"
    DEVICE_TIMEOUT = "DEVICE_TIMEOUT"
    DEVICE_FAULT = "DEVICE_FAULT"
    VERIFY_TIMEOUT = "VERIFY_TIMEOUT"
    ABORTED = "ABORTED"
    INTERNAL_ERROR = "INTERNAL_ERROR"


@dataclass(frozen=True, slots=True)
class Command:
    id: str
    name: str
    args: dict[str, Any] = field(default_factory=dict)
    source: str = "ground"


@dataclass(frozen=True, slots=True)
class Ack:
    id: str
    name: str
    stage: Stage
    time: datetime
    reason: Reason | None = None
    detail: str = ""


class CommandFailed(Exception):
    """Raised by a handler: the command failed for ``reason``; ``detail`` says how."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(slots=True)
class Execution:
    """What a handler gets: the validated arguments and a way to say the device started."""

    command: Command
    args: dict[str, Any]
    started: Callable[[], None]


Handler = Callable[[Execution], Awaitable[None]]
#: A handler that waits for nothing (no device, no I/O): it is done when it returns.
Immediate = Callable[[Execution], None]
AckSink = Callable[[Ack], None]


@dataclass(frozen=True, slots=True)
class Route:
    """How a command runs: its handler, the device it occupies, whether it pre-empts that
    device, and, for a command that waits for nothing, the same work as a plain function."""

    handler: Handler
    device: str | None = None
    preempts: bool = False
    now: Immediate | None = None

    @classmethod
    def immediate(cls, now: Immediate) -> Route:
        """The route of a command that waits for nothing: :meth:`Dispatcher.run_now` runs it
        to its end in its caller, without a task or a turn of the event loop."""

        async def handler(run: Execution) -> None:
            now(run)

        return cls(handler, now=now)


class Dispatcher:
    """Runs commands one stage at a time. One command at a time per device; a pre-empting
    command (a STOP) aborts whatever that device is doing and always runs."""

    def __init__(
        self,
        *,
        dictionary: Dictionary,
        routes: Mapping[str, Route],
        modes: ModeKeeper,
        arming: Arming,
        interlocks: Interlocks,
        values: Mapping[str, Any],
        events: EventLog,
        clock: Clock,
    ) -> None:
        missing = [c.name for c in dictionary.commands if c.name not in routes]
        if missing:
            raise ValueError(f"routes: no handler for {', '.join(missing)}")
        self._dictionary = dictionary
        self._routes = routes
        self._modes = modes
        self._arming = arming
        self._interlocks = interlocks
        self._values = values
        self._events = events
        self._clock = clock
        self.active: dict[str, asyncio.Task[None]] = {}
        self.completed = 0
        self.failed = 0
        self.on_activity: Callable[[], None] = lambda: None

    def abort_all(self) -> None:
        """Abort every command in progress (their acks say FAILED ABORTED)."""
        for task in tuple(self.active.values()):
            task.cancel()

    def going_safe(self, reason: str, *, keep_sequence: bool) -> None:
        """The payload goes SAFE: every command in progress is aborted."""
        self.abort_all()

    def run_now(self, command: Command, sink: AckSink) -> Ack | None:
        """Run ``command`` to its end here if its route is immediate, and return the final
        ack; otherwise do nothing and return None (run it with :meth:`run`)."""
        route = self._routes.get(command.name)
        if route is None or route.now is None:
            return None
        try:
            args, _ = self._accept(command)
        except CommandFailed as failure:
            return self._finish(command, sink, failure)
        sink(self._ack(command, Stage.ACCEPTED))
        try:
            route.now(Execution(command, args, lambda: sink(self._ack(command, Stage.STARTED))))
        except Exception as exc:
            return self._finish(command, sink, _failure(command, exc))
        return self._complete(command, sink)

    async def run(self, command: Command, sink: AckSink) -> Ack:
        """Run ``command`` to its end; every stage goes to ``sink``; returns the final ack."""
        try:
            args, route = self._accept(command)
        except CommandFailed as failure:
            return self._finish(command, sink, failure)
        sink(self._ack(command, Stage.ACCEPTED))
        if route.device is None:
            return await self._run_here(command, args, route, sink)
        task = asyncio.create_task(self._execute(command, args, route, sink))
        self.active[route.device] = task
        self.on_activity()
        try:
            await asyncio.shield(task)
        except CommandFailed as failure:
            return self._finish(command, sink, failure)
        except asyncio.CancelledError:
            if not task.cancelled():
                # Our caller (a sequence, say) was cancelled: the command goes with it.
                task.cancel()
                self._finish(command, sink, CommandFailed(Reason.ABORTED, "its caller stopped"))
                raise
            return self._finish(command, sink, CommandFailed(Reason.ABORTED, "aborted"))
        finally:
            if self.active.get(route.device) is task:
                del self.active[route.device]
                self.on_activity()
        return self._complete(command, sink)

    async def _run_here(
        self, command: Command, args: dict[str, Any], route: Route, sink: AckSink
    ) -> Ack:
        """A command of no device runs in its caller's task: nothing aborts it but its
        caller (no task and shield of its own, a few loop turns less)."""
        try:
            await self._execute(command, args, route, sink)
        except CommandFailed as failure:
            return self._finish(command, sink, failure)
        except asyncio.CancelledError:
            self._finish(command, sink, CommandFailed(Reason.ABORTED, "its caller stopped"))
            raise
        return self._complete(command, sink)

    def _complete(self, command: Command, sink: AckSink) -> Ack:
        self.completed += 1
        final = self._ack(command, Stage.COMPLETED)
        sink(final)
        return final

    def _accept(self, command: Command) -> tuple[dict[str, Any], Route]:
        if command.name not in (ARM_COMMAND, self._arming.armed):
            self._arming.observe(command.name)  # anything else in between cancels an arm
        definition = self._dictionary.command_index.get(command.name)
        if definition is None:
            raise CommandFailed(Reason.UNKNOWN_COMMAND, f"{command.name!r} is not a command")
        try:
            args = definition.validate_args(command.args)
        except ArgumentError as exc:
            raise CommandFailed(Reason.INVALID_ARGUMENT, exc.detail) from None
        mode = self._modes.mode
        if mode not in definition.modes:
            allowed = ", ".join(m.value for m in definition.modes)
            raise CommandFailed(
                Reason.NOT_ALLOWED_IN_MODE,
                f"{command.name} is not allowed in {mode.value} (allowed in: {allowed})",
            )
        refusal = self._interlocks.refusal(command.name, self._values, args)
        if refusal is not None:
            raise CommandFailed(
                Reason.INTERLOCK, f"{refusal.name}: {refusal.description} ({refusal.require})"
            )
        route = self._routes[command.name]
        busy = None if route.device is None else self.active.get(route.device)
        if busy is not None and not route.preempts:
            raise CommandFailed(Reason.BUSY, f"{route.device} is busy with a command")
        # FIRE last: a FIRE refused by an earlier check leaves the arm for a retry. Any run
        # of the armed command uses the arm up, hazardous with these arguments or not.
        fired = self._arming.fire(command.name)
        if definition.is_hazardous(args) and not fired:
            raise CommandFailed(
                Reason.NOT_ARMED, f"{command.name} is hazardous: send {ARM_COMMAND} first"
            )
        if busy is not None:
            busy.cancel()
        return args, route

    async def _execute(
        self, command: Command, args: dict[str, Any], route: Route, sink: AckSink
    ) -> None:
        def started() -> None:
            sink(self._ack(command, Stage.STARTED))

        try:
            await route.handler(Execution(command, args, started))
        except Exception as exc:
            raise _failure(command, exc) from None

    def _finish(self, command: Command, sink: AckSink, failure: CommandFailed) -> Ack:
        self.failed += 1
        ack = self._ack(command, Stage.FAILED, failure.reason, failure.detail)
        self._events.emit(
            "COMMAND_FAILED",
            name=command.name,
            id=command.id,
            reason=failure.reason.value,
            detail=failure.detail,
        )
        sink(ack)
        return ack

    def _ack(
        self, command: Command, stage: Stage, reason: Reason | None = None, detail: str = ""
    ) -> Ack:
        return Ack(command.id, command.name, stage, self._clock.utc(), reason, detail)


def _failure(command: Command, exc: Exception) -> CommandFailed:
    """What a handler's exception means for its command."""
    if isinstance(exc, CommandFailed):
        return exc
    for error, reason in _DEVICE_FAILURES:
        if isinstance(exc, error):
            return CommandFailed(reason, str(exc))
    # A bug must not leave a command without its final ack or the payload unsafe.
    log.exception("%s (%s) raised", command.name, command.id)
    return CommandFailed(Reason.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")


#: The device's failures, most specific first (HalError is the base of the others).
_DEVICE_FAILURES: tuple[tuple[type[HalError], Reason], ...] = (
    (DeviceNack, Reason.DEVICE_NACK),
    (DeviceTimeout, Reason.DEVICE_TIMEOUT),
    (LinkDown, Reason.LINK_DOWN),
    (HalError, Reason.DEVICE_FAULT),
)
