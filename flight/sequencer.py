"""The sequencer: runs one sequence at a time, step by step, and leaves the payload SAFE
when a step fails."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from flight.channels import ChannelStore
from flight.clock import Clock
from flight.dispatcher import Ack, Command, Stage
from flight.events import EventLog
from flight.sequence import AbsoluteTag, CommandStep, RelativeTag, Sequence, WaitStep
from flight.state import RunningSequence, StateStore


class SeqState(enum.StrEnum):
    IDLE = "IDLE"
    RUNNING = "RUNNING"


class Outcome(enum.StrEnum):
    COMPLETED = "COMPLETED"
    ABORTED = "ABORTED"


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
    reason: str = ""


class SequencerBusy(Exception):
    """A sequence is already running; ``running`` names it."""

    def __init__(self, running: str) -> None:
        super().__init__(f"sequence {running!r} is running: abort it first")
        self.running = running


class _StepFailed(Exception):
    pass


RunCommand = Callable[[Command], Awaitable[Ack]]
MakeSafe = Callable[[str], Awaitable[object]]


class Sequencer:
    """Runs a parsed :class:`Sequence`. Relative tags count from the end of the previous step.

    A failed command, a timed-out WAIT or an abort ends the run ABORTED and calls
    ``make_safe``. The running sequence and line are persisted at every step so that after a
    restart it is reported as interrupted, never resumed.
    """

    def __init__(
        self,
        *,
        run_command: RunCommand,
        make_safe: MakeSafe,
        channels: ChannelStore,
        events: EventLog,
        clock: Clock,
        state: StateStore,
    ) -> None:
        self._run_command = run_command
        self._make_safe = make_safe
        self._channels = channels
        self._events = events
        self._clock = clock
        self._state = state
        self._task: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self.status = SequenceStatus(SeqState.IDLE)
        self._started_at = 0.0
        self._abort_reason = ""
        self._safe_on_abort = True
        self._ending = False
        self._done = asyncio.Event()

    def report_interrupted(self) -> None:
        """At boot: report a sequence that a restart cut short, and forget it."""
        interrupted = self._state.running_sequence
        if interrupted is not None:
            self._events.emit("SEQ_INTERRUPTED", name=interrupted.name, line=interrupted.line)
            self._state.update(running_sequence=None)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, sequence: Sequence) -> None:
        """Start ``sequence``; raise :class:`SequencerBusy` if one is running."""
        if self.running:
            raise SequencerBusy(self.status.name)
        self._abort_reason, self._safe_on_abort, self._ending = "", True, False
        self._done.clear()
        self._started_at = self._clock.monotonic()
        self._set_status(sequence, 0)
        self._events.emit("SEQ_STARTED", name=sequence.name, steps=len(sequence.steps))
        self._task = asyncio.create_task(self._run(sequence), name=f"sequence {sequence.name}")

    def cancel(self, reason: str) -> None:
        """Abort the running sequence without safing: whoever calls this is safing already.

        Does nothing once the run is ending (it may be the one safing).
        """
        task = self._task
        if task is None or task.done() or self._ending:
            return
        self._abort_reason, self._safe_on_abort = reason, False
        task.cancel()

    async def abort(self, reason: str) -> None:
        """Abort the running sequence (if any), leave the payload SAFE, wait until done."""
        task = self._task
        if task is None or task.done() or self._ending:
            return
        self._abort_reason, self._safe_on_abort = reason, True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def wait_done(self) -> SequenceStatus:
        """The status once the running sequence (if any) has ended."""
        if self.running:
            await self._done.wait()
        return self.status

    async def _run(self, sequence: Sequence) -> None:
        failure = ""
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
            failure = str(exc)
        except asyncio.CancelledError:
            failure = self._abort_reason or "aborted"
        except Exception as exc:
            # A bug in a step must still end the run ABORTED and the payload SAFE.
            failure = f"internal error: {type(exc).__name__}: {exc}"
        finally:
            self._ending = True
            self._state.update(running_sequence=None)
        elapsed = round(self._clock.monotonic() - self._started_at, 3)
        if failure:
            line = self.status.line
            self.status = _ended(self.status, Outcome.ABORTED, failure, elapsed)
            self._events.emit("SEQ_ABORTED", name=sequence.name, line=line, reason=failure)
            if self._safe_on_abort:
                await self._make_safe(f"sequence {sequence.name} aborted: {failure}")
        else:
            self.status = _ended(self.status, Outcome.COMPLETED, "", elapsed)
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


def _ended(status: SequenceStatus, outcome: Outcome, reason: str, elapsed: float) -> SequenceStatus:
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
    )
