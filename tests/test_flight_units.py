"""Unit tests of the flight software's pieces, on the manual clock, with no devices.

Time moves only by ``await clock.advance(s)``; the handlers are plain async functions at the
dispatcher's handler seam.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flight.arming import Arming
from flight.catalog import DICTIONARY
from flight.channels import ChannelStore
from flight.clock import ManualClock, ScaledClock, within
from flight.dictionary import Limits, Mode, SafingResponse, Severity
from flight.dispatcher import (
    Ack,
    Command,
    Dispatcher,
    Execution,
    Reason,
    Route,
    Stage,
)
from flight.events import Event, EventLog
from flight.interlocks import Interlocks
from flight.limits import Level, LimitMonitor
from flight.modes import ModeKeeper
from flight.sequence import Sequence, parse_sequence
from flight.sequencer import Outcome, SeqState, Sequencer, SequencerBusy
from flight.state import RunningSequence, StateStore
from hal.errors import DeviceNack, DeviceTimeout, LinkDown, ProtocolError

WINDOW_S = 10.0


class Recorder:
    """An event log on a manual clock, with every event it emits kept in order."""

    def __init__(self, clock: ManualClock | None = None) -> None:
        self.clock = clock or ManualClock()
        self.log = EventLog(dictionary=DICTIONARY, clock=self.clock)
        self.events: list[Event] = []
        self.log.subscribe(self.events.append)

    def of(self, event_id: str) -> list[Event]:
        return [e for e in self.events if e.id == event_id]

    def ids(self) -> list[str]:
        return [e.id for e in self.events]


# --- ManualClock, ScaledClock, within ----------------------------------------------------


async def test_clock_sleepers_wake_in_order_at_their_deadlines() -> None:
    clock = ManualClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.monotonic()))

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("c", 3.0), ("a", 1.0), ("b", 2.0))]
    await clock.advance(0)
    assert woke == []
    await clock.advance(1.5)
    assert woke == [("a", 1.0)]
    await clock.advance(10)
    assert woke == [("a", 1.0), ("b", 2.0), ("c", 3.0)]
    assert clock.monotonic() == 11.5
    await asyncio.gather(*tasks)


async def test_clock_sleeper_added_during_advance_wakes_within_it() -> None:
    clock = ManualClock()
    woke: list[float] = []

    async def chain() -> None:
        await clock.sleep(1)
        woke.append(clock.monotonic())
        await clock.sleep(1)
        woke.append(clock.monotonic())

    task = asyncio.create_task(chain())
    await clock.advance(5)
    assert woke == [1.0, 2.0]
    await task


async def test_clock_utc_follows_mission_time() -> None:
    clock = ManualClock(start_utc=datetime(2030, 5, 1, tzinfo=UTC))
    await clock.advance(90)
    assert clock.utc() == datetime(2030, 5, 1, 0, 1, 30, tzinfo=UTC)


async def test_clock_advance_refuses_negative_time() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        await ManualClock().advance(-1)


async def test_clock_within_times_out_on_mission_time() -> None:
    clock = ManualClock()
    never: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(within(clock, 5.0, never))
    await clock.advance(4.5)
    assert not task.done()
    await clock.advance(0.5)
    assert task.done()
    with pytest.raises(TimeoutError, match=r"not within 5\.0 s"):
        task.result()
    assert never.cancelled()


async def test_clock_within_returns_the_result_in_time() -> None:
    clock = ManualClock()
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(within(clock, 5.0, future))
    await clock.advance(1)
    future.set_result(42)
    assert await task == 42

    bench.values["scoop.homed"] = True  # the dispatcher reads the live values
    assert (await bench.run("SCOOP.DIG", depth_mm=30))[-1].stage is Stage.COMPLETED


async def test_dispatcher_second_command_on_a_busy_device_fails_busy() -> None:
    release = asyncio.Event()
    bench = Bench({"SCOOP.HOME": waiting_handler(release)})
    first, first_acks = bench.start("SCOOP.HOME")
    await bench.clock.advance(0)
    second = await bench.run("SCOOP.TARE")
    assert stages(second) == [Stage.FAILED]
    assert second[0].reason is Reason.BUSY
    assert second[0].detail == "scoop is busy with a command"
    other_device = await bench.run("ELEC.HEATER", enabled=True, setpoint_c=20.0)
    assert other_device[-1].stage is Stage.COMPLETED
    release.set()
    assert (await first).stage is Stage.COMPLETED
    assert stages(first_acks) == [Stage.ACCEPTED, Stage.STARTED, Stage.COMPLETED]


async def test_dispatcher_preempting_stop_aborts_the_running_command() -> None:
    release = asyncio.Event()
    after_wait: list[str] = []
    stopped: list[str] = []

    async def stop(run: Execution) -> None:
        run.started()
        stopped.append("stop")

    bench = Bench(
        {
            "SCOOP.DIG": waiting_handler(release, after_wait),
            "SCOOP.STOP": Route(stop, "scoop", preempts=True),
        }
    )
    dig, dig_acks = bench.start("SCOOP.DIG", depth_mm=30)
    await bench.clock.advance(0)
    stop_acks = await bench.run("SCOOP.STOP")
    final = await dig
    assert stages(stop_acks) == [Stage.ACCEPTED, Stage.STARTED, Stage.COMPLETED]
    assert stages(dig_acks) == [Stage.ACCEPTED, Stage.STARTED, Stage.FAILED]
    assert final.reason is Reason.ABORTED and final.detail == "aborted"
    assert stopped == ["stop"] and after_wait == []
    assert bench.dispatcher.active == {}
    assert bench.dispatcher.completed == 1 and bench.dispatcher.failed == 1


async def test_dispatcher_abort_all_fails_every_running_command_aborted() -> None:
    release = asyncio.Event()

    async def heat(run: Execution) -> None:
        run.started()
        await release.wait()

    bench = Bench({"SCOOP.HOME": waiting_handler(release), "ELEC.HEATER": Route(heat, "elec")})
    home, home_acks = bench.start("SCOOP.HOME")
    heater, heater_acks = bench.start("ELEC.HEATER", enabled=True, setpoint_c=20.0)
    await bench.clock.advance(0)
    assert set(bench.dispatcher.active) == {"scoop", "elec"}
    bench.dispatcher.abort_all()
    for task in (home, heater):
        final = await task
        assert (final.stage, final.reason) == (Stage.FAILED, Reason.ABORTED)
    assert Stage.COMPLETED not in stages(home_acks) + stages(heater_acks)
    assert bench.dispatcher.active == {}
    assert bench.dispatcher.failed == 2


async def test_dispatcher_cancelled_caller_takes_its_command_with_it() -> None:
    release = asyncio.Event()
    bench = Bench({"SCOOP.HOME": waiting_handler(release)})
    task, acks = bench.start("SCOOP.HOME")
    await bench.clock.advance(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert acks[-1].stage is Stage.FAILED and acks[-1].reason is Reason.ABORTED
    assert acks[-1].detail == "its caller stopped"
    assert bench.dispatcher.active == {}


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (DeviceNack("DIG", 3, "BAD_ARG", 0), Reason.DEVICE_NACK),
        (DeviceTimeout("DIG", 3, 0.2), Reason.DEVICE_TIMEOUT),
        (LinkDown("/dev/ttyUSB0"), Reason.LINK_DOWN),
    ],
)
@pytest.mark.parametrize("after_started", [False, True])
async def test_dispatcher_device_errors_map_to_reasons(
    error: Exception, reason: Reason, after_started: bool
) -> None:
    async def dig(run: Execution) -> None:
        if after_started:
            run.started()
        raise error

    bench = Bench({"SCOOP.DIG": Route(dig, "scoop")})
    acks = await bench.run("SCOOP.DIG", depth_mm=30)
    assert Stage.COMPLETED not in stages(acks)
    expected = (
        [Stage.ACCEPTED, Stage.STARTED, Stage.FAILED]
        if after_started
        else [
            Stage.ACCEPTED,
            Stage.FAILED,
        ]
    )
    assert stages(acks) == expected
    assert acks[-1].reason is reason
    assert acks[-1].detail == str(error)
    assert bench.dispatcher.failed == 1 and bench.dispatcher.completed == 0
    assert bench.dispatcher.active == {}


@pytest.mark.parametrize("error", [ProtocolError("bad frame"), RuntimeError("handler bug")])
async def test_dispatcher_any_handler_error_ends_failed(error: Exception) -> None:
    async def dig(run: Execution) -> None:
        run.started()
        raise error

    bench = Bench({"SCOOP.DIG": Route(dig, "scoop")})
    acks = await bench.run("SCOOP.DIG", depth_mm=30)
    assert stages(acks) == [Stage.ACCEPTED, Stage.STARTED, Stage.FAILED]
    assert bench.dispatcher.failed == 1


async def test_dispatcher_counters_and_command_failed_events() -> None:
    bench = Bench()
    await bench.run("CORE.NOOP")
    await bench.run("CORE.NOOP")
    await bench.run("SCOOP.DIG", depth_mm=1)
    assert (bench.dispatcher.completed, bench.dispatcher.failed) == (2, 1)
    (failed,) = bench.rec.of("COMMAND_FAILED")
    assert failed.severity is Severity.WARNING
    assert failed.args["name"] == "SCOOP.DIG" and failed.args["id"] == "c3"
    assert failed.args["reason"] == "INVALID_ARGUMENT"
    assert failed.text.startswith("SCOOP.DIG (c3) failed: INVALID_ARGUMENT: depth_mm: ")


# --- Sequencer ---------------------------------------------------------------------------


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
            make_safe=self.make_safe,
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

    async def make_safe(self, reason: str) -> None:
        self.safed.append(reason)

    def start(self, text: str, name: str = "test") -> Sequence:
        sequence = parse_sequence(text, name=name, dictionary=DICTIONARY)
        self.sequencer.start(sequence)
        return sequence

    def names(self) -> list[str]:
        return [r[0] for r in self.ran]


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


async def test_sequencer_wait_timeout_aborts_and_makes_safe(tmp_path: Path) -> None:
    r = Runner(tmp_path)
    r.start("CORE.NOOP\nWAIT elec.h2_pressure_kpa >= 150 TIMEOUT 00:00:10\nCORE.NOOP\n", "hope")
    await r.clock.advance(9.5)
    assert r.sequencer.running and r.safed == []
    await r.clock.advance(0.5)
    status = await r.sequencer.wait_done()
    assert status.outcome is Outcome.ABORTED
    assert status.line == 2
    assert status.reason == "WAIT elec.h2_pressure_kpa >= 150 timed out after 10 s"
    assert r.names() == ["CORE.NOOP"]
    assert r.safed == [f"sequence hope aborted: {status.reason}"]
    (aborted,) = r.rec.of("SEQ_ABORTED")
    assert aborted.args == {"name": "hope", "line": 2, "reason": status.reason}


async def test_sequencer_failed_command_aborts_at_its_line(tmp_path: Path) -> None:
    r = Runner(tmp_path, fail=("SCOOP.HOME",))
    r.start("CORE.NOOP\n# a comment line\nSCOOP.HOME\nCORE.NOOP\n", "homing")
    await r.clock.advance(0)
    status = await r.sequencer.wait_done()
    assert status.outcome is Outcome.ABORTED
    assert status.line == 3
    assert status.reason == "SCOOP.HOME failed: BUSY: x"
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
    assert (status.outcome, status.reason, status.line) == (Outcome.ABORTED, "operator abort", 1)
    assert r.safed == ["sequence long aborted: operator abort"]
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
    assert (status.outcome, status.reason) == (Outcome.ABORTED, "safing already")
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
