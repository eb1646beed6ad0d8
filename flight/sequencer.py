"""The sequencer: runs one sequence at a time, step by step, and leaves the payload SAFE
when a step fails."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from flight.channels import ChannelStore
from flight.clock import Clock
from flight.dispatcher import Ack, Command, Stage
from flight.events import EventLog
from flight.state import RunningSequence, StateStore
from interface.sequence import AbsoluteTag, CommandStep, RelativeTag, Sequence, WaitStep


class SeqState(enum.StrEnum):
    IDLE = "IDLE"
    RUNNING = "RUNNING"


class Outcome(enum.StrEnum):
    COMPLETED = "COMPLETED"
    ABORTED = "ABORTED"


class AbortCause(enum.StrEnum):
    """What ended a run ABORTED. The reason of an aborted run starts with it
    (``limit: elec.h2_pressure_kpa = 201.3 kPa beyond red limit 200``), and the
    ``SEQ_ABORTED`` event carries it as its ``cause`` argument."""

    #: ``SEQ.ABORT`` (or ``Sequencer.abort``) from the ground.
    COMMAND = "command"
    #: A red limit whose response is SAFE.
    LIMIT = "limit"
    #: The flight software stopped (a restart) while the sequence ran, or, found at boot, it
    #: was cut short by a crash or power loss.
    RESTART = "restart"
    #: The payload went SAFE for another reason: ``MODE.SAFE`` from the ground, a lost link.
    SAFING = "safing"
    #: A step failed: a command did not complete, or a WAIT timed out.
    STEP = "step"
    #: An error inside the sequencer itself.
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class SequenceStatus:
    """Where the sequencer is: the running step, or how the last run ended."""

    state: SeqState
    name: str = ""
    line: int = 0
    step: int = 0
    steps: int = 0
    elapsed_s: float = 0.0
    next_step: str = ""
    outcome: Outcome | None = None
    #: For ABORTED: ``<cause>: <detail>``, the cause being one of :class:`AbortCause`.
    reason: str = ""
    cause: AbortCause | None = None


class SequencerBusy(Exception):
    """A sequence is already running; ``running`` names it."""

    def __init__(self, running: str) -> None:
        super().__init__(f"sequence {running!r} is running: abort it first")
        self.running = running


class _StepFailed(Exception):
    pass


def abort_reason(cause: AbortCause, detail: str) -> str:
    """The reason of a run ended by ``cause``: ``"<cause>: <detail>"``."""
    return f"{cause.value}: {detail}" if detail else cause.value


RunCommand = Callable[[Command], Awaitable[Ack]]


class MakesSafe(Protocol):
    """What the sequencer needs of safing (:class:`flight.safing.Safing`): a run that ends
    ABORTED leaves the payload SAFE."""

    async def make_safe(self, *, reason: str) -> object: ...


class Sequencer:
    """Runs a parsed :class:`Sequence`. Relative tags count from the end of the previous step.

    A failed command, a timed-out WAIT or an abort ends the run ABORTED and makes the
    payload SAFE (``safing``); the reason says which (:class:`AbortCause`). The running
    sequence and line are persisted at every step so that after a restart it is reported as
    interrupted, never resumed.
    """

    def __init__(
        self,
        *,
        run_command: RunCommand,
        safing: MakesSafe,
        channels: ChannelStore,
        events: EventLog,
        clock: Clock,
        state: StateStore,
    ) -> None:
        self._run_command = run_command
        self._safing = safing
        self._channels = channels
        self._events = events
        self._clock = clock
        self._state = state
        self._task: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self.status = SequenceStatus(SeqState.IDLE)
        self._started_at = 0.0
        self._abort: tuple[AbortCause, str] | None = None
        self._safe_on_abort = True
        self._ending = False
        self._done = asyncio.Event()

    def report_interrupted(self) -> None:
        """At boot: report a sequence that a restart cut short, and forget it."""
        interrupted = self._state.running_sequence
        if interrupted is not None:
            # The status says so too (the ground's retained seq/status follows this event).
            self.status = SequenceStatus(
                SeqState.IDLE,
                interrupted.name,
                interrupted.line,
                outcome=Outcome.ABORTED,
                reason=abort_reason(
                    AbortCause.RESTART,
                    f"interrupted at line {interrupted.line} by a restart; not resumed",
                ),
                cause=AbortCause.RESTART,
            )
            self._events.emit("SEQ_INTERRUPTED", name=interrupted.name, line=interrupted.line)
            self._state.update(running_sequence=None)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, sequence: Sequence) -> None:
        """Start ``sequence``; raise :class:`SequencerBusy` if one is running."""
        if self.running:
            raise SequencerBusy(self.status.name)
        self._abort, self._safe_on_abort, self._ending = None, True, False
        self._done.clear()
        self._started_at = self._clock.monotonic()
        self._set_status(sequence, 0)
        self._events.emit("SEQ_STARTED", name=sequence.name, steps=len(sequence.steps))
        self._task = asyncio.create_task(self._run(sequence), name=f"sequence {sequence.name}")

    def cancel(self, reason: str, *, cause: AbortCause = AbortCause.SAFING) -> None:
        """Abort the running sequence without safing: whoever calls this is safing already.

        Does nothing once the run is ending (it may be the one safing), nor when an abort is
        already on its way: the first cause is the one reported.
        """
        task = self._task
        if task is None or task.done() or self._ending or self._abort is not None:
            return
        self._abort, self._safe_on_abort = (cause, reason), False
        task.cancel()

    def going_safe(self, reason: str, *, keep_sequence: bool) -> None:
        """The payload goes SAFE: the sequence ends (SAFING), unless a step of it is safing."""
        if not keep_sequence:
            self.cancel(reason)

    async def abort(self, reason: str, *, cause: AbortCause = AbortCause.COMMAND) -> None:
        """Abort the running sequence (if any), leave the payload SAFE, wait until done."""
        task = self._task
        if task is None or task.done() or self._ending:
            return
        if self._abort is None:
            self._abort, self._safe_on_abort = (cause, reason), True
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def wait_done(self) -> SequenceStatus:
        """The status once the running sequence (if any) has ended."""
        if self.running:
            await self._done.wait()
        return self.status

    async def _run(self, sequence: Sequence) -> None:
        failure: tuple[AbortCause, str] | None = None
        try:
            for index, step in enumerate(sequence.steps):
                self._set_status(sequence, index)
                self._state.update(
                    running_sequence=RunningSequence(
                        name=sequence.name, line=step.line, started_utc=self._clock.utc()
                    )
                )
                self._events.emit("SEQ_STEP", name=sequence.name, line=step.line, text=step.text)
                await self._step(step)
        except _StepFailed as exc:
            failure = (AbortCause.STEP, str(exc))
        except asyncio.CancelledError:
            # Cancelled by anything but abort/cancel: the flight software is going down.
            failure = self._abort or (AbortCause.RESTART, "flight software stopped")
        except Exception as exc:
            # A bug in a step must still end the run ABORTED and the payload SAFE.
            failure = (AbortCause.INTERNAL, f"{type(exc).__name__}: {exc}")
        finally:
            self._ending = True
            self._state.update(running_sequence=None)
        elapsed = round(self._clock.monotonic() - self._started_at, 3)
        if failure is not None:
            cause, detail = failure
            reason = abort_reason(cause, detail)
            line = self.status.line
            self.status = _ended(self.status, Outcome.ABORTED, reason, elapsed, cause)
            self._events.emit(
                "SEQ_ABORTED", name=sequence.name, line=line, reason=reason, cause=cause.value
            )
            if self._safe_on_abort:
                await self._safing.make_safe(reason=f"sequence {sequence.name} aborted: {reason}")
        else:
            self.status = _ended(self.status, Outcome.COMPLETED, "", elapsed, None)
            self._events.emit("SEQ_COMPLETED", name=sequence.name, elapsed_s=elapsed)
        self._done.set()

    async def _step(self, step: CommandStep | WaitStep) -> None:
        if isinstance(step, WaitStep):
            try:
                await self._channels.wait_until(step.condition.evaluate, timeout_s=step.timeout_s)
            except TimeoutError:
                raise _StepFailed(
                    f"WAIT {step.condition} timed out after {step.timeout_s:g} s"
                ) from None
            return
        await self._clock.sleep(self._delay(step.tag))
        command = Command(
            f"seq-{self.status.name}-{next(self._ids)}", step.name, step.args, "sequence"
        )
        ack = await self._run_command(command)
        if ack.stage is not Stage.COMPLETED:
            raise _StepFailed(f"{step.name} failed: {ack.reason}: {ack.detail}")

    def _delay(self, tag: RelativeTag | AbsoluteTag) -> float:
        if isinstance(tag, RelativeTag):
            return tag.delay_s
        return (tag.time - self._clock.utc()).total_seconds()

    def _set_status(self, sequence: Sequence, index: int) -> None:
        step = sequence.steps[index]
        following = sequence.steps[index + 1].text if index + 1 < len(sequence.steps) else ""
        self.status = SequenceStatus(
            SeqState.RUNNING,
            sequence.name,
            step.line,
            index + 1,
            len(sequence.steps),
            round(self._clock.monotonic() - self._started_at, 3),
            following,
        )


def _ended(
    status: SequenceStatus,
    outcome: Outcome,
    reason: str,
    elapsed: float,
    cause: AbortCause | None,
) -> SequenceStatus:
    return SequenceStatus(
        SeqState.IDLE,
        status.name,
        status.line,
        status.step,
        status.steps,
        elapsed,
        "",
        outcome,
        reason,
        cause,
    )
