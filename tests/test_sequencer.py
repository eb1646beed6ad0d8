"""The sequencer on the manual clock: time tags, waits, aborts, safing, persisted line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from flight.channels import ChannelStore
from flight.dispatcher import (
    Ack,
    Command,
    Reason,
    Stage,
)
from flight.sequencer import Outcome, SeqState, Sequencer, SequencerBusy
from flight.state import RunningSequence, StateStore
from hal.errors import ProtocolError
from interface.catalog import DICTIONARY
from interface.dictionary import Severity
from interface.sequence import Sequence, parse_sequence
from tests.recorder import Recorder


class Runner:
    """A sequencer whose commands are recorded, with the state and time of each."""

    def __init__(self, tmp_path: Path, *, fail: tuple[str, ...] = ()) -> None:
        self.rec = Recorder()
        self.clock = self.rec.clock
        self.channels = ChannelStore(clock=self.clock)
        self.state = StateStore.in_dir(tmp_path)
        self.state.load()
        self.tmp_path = tmp_path
        self.fail = fail
        self.ran: list[tuple[str, float, int | None]] = []
        self.safed: list[str] = []
        self.sequencer = Sequencer(
            run_command=self.run_command,
            safing=self,  # the runner stands in for safing: it records make_safe
            channels=self.channels,
            events=self.rec.log,
            clock=self.clock,
            state=self.state,
        )

    async def run_command(self, command: Command) -> Ack:
        on_disk = StateStore.in_dir(self.tmp_path)
        on_disk.load()
        line = on_disk.running_sequence.line if on_disk.running_sequence else None
        self.ran.append((command.name, self.clock.monotonic(), line))
        if command.name in self.fail:
            return Ack(command.id, command.name, Stage.FAILED, self.clock.utc(), Reason.BUSY, "x")
        return Ack(command.id, command.name, Stage.COMPLETED, self.clock.utc())

    async def make_safe(self, *, reason: str) -> None:
        self.safed.append(reason)

    def start(self, text: str, name: str = "test") -> Sequence:
        sequence = parse_sequence(text, name=name, dictionary=DICTIONARY)
        self.sequencer.start(sequence)
        return sequence

    def names(self) -> list[str]:
        return [r[0] for r in self.ran]


@pytest.mark.req("FLT-13")
async def test_sequencer_relative_tags_wait_exactly_their_delay(tmp_path: Path) -> None:
    r = Runner(tmp_path)
    r.start("R00:00:05 CORE.NOOP\nR00:00:03 CORE.TM_RATE board=elec rate_hz=5\n")
    await r.clock.advance(4.5)
    assert r.ran == []
    await r.clock.advance(0.5)
    assert r.names() == ["CORE.NOOP"]
    await r.clock.advance(2.5)
    assert r.names() == ["CORE.NOOP"]  # the next tag counts from the end of this step
    await r.clock.advance(0.5)
    assert [(n, t) for n, t, _ in r.ran] == [("CORE.NOOP", 5.0), ("CORE.TM_RATE", 8.0)]
    status = await r.sequencer.wait_done()
    assert status.outcome is Outcome.COMPLETED and status.state is SeqState.IDLE
    assert status.elapsed_s == 8.0
    assert r.rec.of("SEQ_COMPLETED")[0].args == {"name": "test", "elapsed_s": 8.0}
    assert r.safed == []


async def test_sequencer_passes_the_arguments_and_source(tmp_path: Path) -> None:
    r = Runner(tmp_path)
    commands: list[Command] = []

    async def run_command(command: Command) -> Ack:
        commands.append(command)
        return Ack(command.id, command.name, Stage.COMPLETED, r.clock.utc())

    r.sequencer._run_command = run_command
    r.start("SCOOP.DIG depth_mm=30\n", name="dig")
    await r.clock.advance(0)
    (command,) = commands
    assert (command.name, command.args, command.source) == (
        "SCOOP.DIG",
        {"depth_mm": 30.0},
        "sequence",
    )
    assert command.id.startswith("seq-dig-")


async def test_sequencer_absolute_tag_waits_until_its_utc_time(tmp_path: Path) -> None:
    r = Runner(tmp_path)  # the manual clock starts at 2026-01-01T00:00:00Z
    await r.clock.advance(10)
    r.start("A2026-01-01T00:01:00Z CORE.NOOP\n")
    await r.clock.advance(49.5)
    assert r.ran == []
    await r.clock.advance(0.5)
    assert r.names() == ["CORE.NOOP"]
    assert r.clock.utc() == datetime(2026, 1, 1, 0, 1, tzinfo=UTC)


async def test_sequencer_absolute_tag_in_the_past_runs_at_once(tmp_path: Path) -> None:
    r = Runner(tmp_path)
    await r.clock.advance(120)
    r.start("A2026-01-01T00:01:00Z CORE.NOOP\n")
    await r.clock.advance(0)
    assert [(n, t) for n, t, _ in r.ran] == [("CORE.NOOP", 120.0)]


async def test_sequencer_wait_completes_when_a_packet_makes_it_true(tmp_path: Path) -> None:
    r = Runner(tmp_path)
    r.start("WAIT scoop.state == IDLE and scoop.homed == true TIMEOUT 00:01:00\nCORE.NOOP\n")
    await r.clock.advance(10)
    r.channels.update("scoop", {"scoop.state": "DIGGING", "scoop.homed": True})
    await r.clock.advance(10)
    assert r.ran == []
    r.channels.update("scoop", {"scoop.state": "IDLE"})
    await r.clock.advance(0)
    assert [(n, t) for n, t, _ in r.ran] == [("CORE.NOOP", 20.0)]
    assert (await r.sequencer.wait_done()).outcome is Outcome.COMPLETED


async def test_sequencer_wait_already_true_goes_on_at_once(tmp_path: Path) -> None:
    r = Runner(tmp_path)
    r.channels.update("scoop", {"scoop.state": "IDLE"})
    r.start("WAIT scoop.state == IDLE TIMEOUT 00:00:10\nCORE.NOOP\n")
    await r.clock.advance(0)
    assert r.names() == ["CORE.NOOP"]


@pytest.mark.req("FLT-12")
async def test_sequencer_wait_timeout_aborts_and_makes_safe(tmp_path: Path) -> None:
    r = Runner(tmp_path)
    r.start("CORE.NOOP\nWAIT elec.h2_pressure_kpa >= 150 TIMEOUT 00:00:10\nCORE.NOOP\n", "hope")
    await r.clock.advance(9.5)
    assert r.sequencer.running and r.safed == []
    await r.clock.advance(0.5)
    status = await r.sequencer.wait_done()
    assert status.outcome is Outcome.ABORTED
    assert status.line == 2
    assert status.reason == "step: WAIT elec.h2_pressure_kpa >= 150 timed out after 10 s"
    assert r.names() == ["CORE.NOOP"]
    assert r.safed == [f"sequence hope aborted: {status.reason}"]
    (aborted,) = r.rec.of("SEQ_ABORTED")
    assert aborted.args == {"name": "hope", "line": 2, "reason": status.reason, "cause": "step"}


@pytest.mark.req("FLT-12")
async def test_sequencer_failed_command_aborts_at_its_line(tmp_path: Path) -> None:
    r = Runner(tmp_path, fail=("SCOOP.HOME",))
    r.start("CORE.NOOP\n# a comment line\nSCOOP.HOME\nCORE.NOOP\n", "homing")
    await r.clock.advance(0)
    status = await r.sequencer.wait_done()
    assert status.outcome is Outcome.ABORTED
    assert status.line == 3
    assert status.reason == "step: SCOOP.HOME failed: BUSY: x"
    assert r.names() == ["CORE.NOOP", "SCOOP.HOME"]
    assert len(r.safed) == 1
    assert r.rec.ids().count("SEQ_ABORTED") == 1 and "SEQ_COMPLETED" not in r.rec.ids()


async def test_sequencer_abort_mid_wait_makes_safe(tmp_path: Path) -> None:
    r = Runner(tmp_path)
    r.start("WAIT elec.h2_pressure_kpa >= 150 TIMEOUT 00:10:00\nCORE.NOOP\n", "long")
    await r.clock.advance(30)
    await r.sequencer.abort("operator abort")
    status = r.sequencer.status
    assert not r.sequencer.running
    assert (status.outcome, status.reason, status.line) == (
        Outcome.ABORTED,
        "command: operator abort",
        1,
    )
    assert r.safed == ["sequence long aborted: command: operator abort"]
    assert r.ran == []
    assert r.state.running_sequence is None
    await r.sequencer.abort("again")  # nothing running: nothing happens
    assert len(r.safed) == 1


async def test_sequencer_cancel_does_not_make_safe(tmp_path: Path) -> None:
    r = Runner(tmp_path)
    r.start("R00:01:00 CORE.NOOP\n")
    await r.clock.advance(1)
    r.sequencer.cancel("safing already")
    status = await r.sequencer.wait_done()
    assert (status.outcome, status.reason) == (Outcome.ABORTED, "safing: safing already")
    assert r.safed == []
    await r.clock.advance(120)
    assert r.ran == []


async def test_sequencer_persists_the_running_line_and_clears_it(tmp_path: Path) -> None:
    r = Runner(tmp_path)
    r.start("CORE.NOOP\n\nR00:00:01 CORE.NOOP\nWAIT scoop.state == IDLE TIMEOUT 00:01:00\n", "p")
    await r.clock.advance(0.5)
    assert r.state.running_sequence is not None
    assert (r.state.running_sequence.name, r.state.running_sequence.line) == ("p", 3)
    await r.clock.advance(0.5)
    on_disk = StateStore.in_dir(tmp_path)
    on_disk.load()
    assert on_disk.running_sequence is not None and on_disk.running_sequence.line == 4
    assert [line for _, _, line in r.ran] == [1, 3]  # on disk while each command ran
    r.channels.update("scoop", {"scoop.state": "IDLE"})
    assert (await r.sequencer.wait_done()).outcome is Outcome.COMPLETED
    assert r.state.running_sequence is None
    on_disk.load()
    assert on_disk.running_sequence is None
    assert [e.args["line"] for e in r.rec.of("SEQ_STEP")] == [1, 3, 4]


async def test_sequencer_status_shows_the_step_and_the_next(tmp_path: Path) -> None:
    r = Runner(tmp_path)
    r.start("CORE.NOOP\nR00:00:10 SCOOP.HOME\nCORE.NOOP\n", "s")
    await r.clock.advance(4)
    status = r.sequencer.status
    assert (status.state, status.line, status.step, status.steps) == (SeqState.RUNNING, 2, 2, 3)
    assert status.next_step == "CORE.NOOP"
    assert r.rec.of("SEQ_STARTED")[0].args == {"name": "s", "steps": 3}


@pytest.mark.req("FLT-12")
async def test_sequencer_report_interrupted_emits_and_clears(tmp_path: Path) -> None:
    r = Runner(tmp_path)
    r.state.update(running_sequence=RunningSequence(name="cut", line=4, started_utc=r.clock.utc()))
    r.sequencer.report_interrupted()
    (interrupted,) = r.rec.of("SEQ_INTERRUPTED")
    assert interrupted.args == {"name": "cut", "line": 4}
    assert interrupted.severity is Severity.WARNING
    assert r.state.running_sequence is None
    r.sequencer.report_interrupted()
    assert len(r.rec.of("SEQ_INTERRUPTED")) == 1
    assert not r.sequencer.running


async def test_sequencer_start_while_running_raises_busy(tmp_path: Path) -> None:
    r = Runner(tmp_path)
    r.start("R00:01:00 CORE.NOOP\n", "first")
    with pytest.raises(SequencerBusy, match="sequence 'first' is running: abort it first"):
        r.start("CORE.NOOP\n", "second")
    await r.clock.advance(60)
    assert (await r.sequencer.wait_done()).outcome is Outcome.COMPLETED
    r.start("CORE.NOOP\n", "second")  # free again once it ended
    await r.clock.advance(0)
    assert (await r.sequencer.wait_done()).name == "second"


async def test_sequencer_command_that_raises_aborts_and_makes_safe(tmp_path: Path) -> None:
    r = Runner(tmp_path)

    async def run_command(command: Command) -> Ack:
        raise ProtocolError("bad frame")

    r.sequencer._run_command = run_command
    r.start("CORE.NOOP\nCORE.NOOP\n", "raising")
    await r.clock.advance(0)
    task = r.sequencer._task
    assert task is not None and task.done()
    try:
        assert r.sequencer.status.outcome is Outcome.ABORTED
        assert len(r.safed) == 1
    finally:
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it at collection
