"""Sequences run onboard against the simulated boards: the scenario, failures and restarts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flight.sequencer import AbortCause, Outcome, SequencerBusy
from interface.dictionary import Mode
from sim.scoop_arm import sample_mass_g
from tests.flightstack import WAIT_S, flight_stack

SCENARIO = """\
# The scenario of the onboard application issue, checked from telemetry.
MODE.IDLE
R00:00:00 SCOOP.HOME
R00:00:02 SCOOP.DIG depth_mm=30
WAIT scoop.state == IDLE TIMEOUT 00:01:00
R00:00:00 SCOOP.WEIGH
R00:00:00 ELEC.START current_a=2.0
WAIT elec.h2_pressure_kpa >= 150 TIMEOUT 00:10:00
R00:00:00 ELEC.STOP
"""

#: What a 30 mm cut collects (92.3 g; sim.scoop_arm), within the load cell's noise.
EXPECTED_SAMPLE_G = sample_mass_g(30.0)


def run_cell_until(condition: str, *, timeout: str = "00:10:00", current_a: float = 2.0) -> str:
    """A three-line sequence: leave SAFE, start the cell, wait for ``condition``."""
    return f"MODE.IDLE\nELEC.START current_a={current_a}\nWAIT {condition} TIMEOUT {timeout}\n"


async def test_flight_sequences_scenario_digs_weighs_and_makes_hydrogen(tmp_path: Path) -> None:
    async with flight_stack(tmp_path) as stack:
        stack.app.start_sequence(SCENARIO, name="scenario")
        status = await _finished(stack)
        assert status.outcome is Outcome.COMPLETED, status.reason
        values = stack.app.channels.values
        assert values["scoop.sample_mass_g"] == pytest.approx(EXPECTED_SAMPLE_G, abs=2.0)
        assert values["elec.h2_pressure_kpa"] >= 150
        assert values["elec.current_on"] is False
        assert values["scoop.homed"] is True
        assert stack.app.state.scoop_cycles_total == 1
        assert stack.ids().count("SEQ_STEP") == 8
        assert "SEQ_COMPLETED" in stack.ids()


async def test_flight_sequences_demo_file_completes(tmp_path: Path) -> None:
    text = (Path(__file__).parents[1] / "sequences" / "demo.seq").read_text()
    async with flight_stack(tmp_path) as stack:
        stack.app.start_sequence(text, name="demo")
        status = await _finished(stack)
        assert status.outcome is Outcome.COMPLETED, status.reason
        assert stack.app.channels.values["scoop.load_mass_g"] == pytest.approx(0, abs=5)


async def test_flight_sequences_timed_out_wait_aborts_and_leaves_safe(tmp_path: Path) -> None:
    text = (
        "MODE.IDLE\nELEC.START current_a=1.0\nWAIT elec.h2_pressure_kpa >= 390 TIMEOUT 00:00:20\n"
    )
    async with flight_stack(tmp_path) as stack:
        stack.app.start_sequence(text, name="too-hopeful")
        status = await _finished(stack)
        assert status.outcome is Outcome.ABORTED
        assert status.line == 3
        assert "timed out" in status.reason
        aborted = await stack.event("SEQ_ABORTED")
        assert "line 3" in aborted.text
        await stack.until(lambda v: v.get("core.mode") == "SAFE" and not v.get("elec.current_on"))


async def test_flight_sequences_failed_step_aborts_at_its_line(tmp_path: Path) -> None:
    text = (
        "MODE.IDLE\n# dig without homing: the interlock refuses\nSCOOP.DIG depth_mm=30\nCORE.NOOP\n"
    )
    async with flight_stack(tmp_path) as stack:
        stack.app.start_sequence(text, name="unhomed")
        status = await _finished(stack)
        assert status.outcome is Outcome.ABORTED
        assert status.line == 3
        assert "INTERLOCK" in status.reason
        assert stack.app.modes.mode is Mode.SAFE


async def test_flight_sequences_abort_by_command_leaves_safe(tmp_path: Path) -> None:
    text = (
        "MODE.IDLE\nELEC.START current_a=2.0\nWAIT elec.h2_pressure_kpa >= 190 TIMEOUT 00:10:00\n"
    )
    async with flight_stack(tmp_path) as stack:
        stack.app.start_sequence(text, name="long")
        await stack.until(lambda v: v.get("elec.current_on") is True)
        with pytest.raises(SequencerBusy, match="abort it first"):
            stack.app.start_sequence(text, name="second")
        await stack.app.sequencer.abort("operator abort")
        assert stack.app.sequencer.status.outcome is Outcome.ABORTED
        assert stack.app.sequencer.status.reason == "command: operator abort"
        await stack.until(lambda v: v.get("core.mode") == "SAFE" and not v.get("elec.current_on"))


async def test_flight_sequences_safing_event_aborts_it(tmp_path: Path) -> None:
    text = (
        "MODE.IDLE\nELEC.START current_a=2.0\nWAIT elec.o2_pressure_kpa >= 190 TIMEOUT 00:10:00\n"
    )
    async with flight_stack(tmp_path) as stack:
        stack.app.start_sequence(text, name="pressured")
        await stack.until(lambda v: v.get("elec.current_on") is True)
        stack.sim.set_drift("elec", "h2_pressure", 50.0)
        status = await _finished(stack)
        assert status.outcome is Outcome.ABORTED
        assert status.cause is AbortCause.LIMIT
        assert status.reason.startswith("limit: elec.h2_pressure_kpa = ")
        assert "beyond red limit 200" in status.reason
        aborted = await stack.event("SEQ_ABORTED")
        assert aborted.args["cause"] == "limit"
        assert stack.app.modes.mode is Mode.SAFE


@pytest.mark.req("FLT-12")
async def test_flight_sequences_interrupted_by_restart_is_reported_not_resumed(
    tmp_path: Path,
) -> None:
    text = (
        "MODE.IDLE\nELEC.START current_a=2.0\nWAIT elec.h2_pressure_kpa >= 190 TIMEOUT 00:10:00\n"
    )
    crash_copy = tmp_path / "state-at-crash.json"
    async with flight_stack(tmp_path) as first:
        first.app.start_sequence(text, name="cut-short")
        await first.until(lambda v: v.get("core.seq_line") == 3)
        # What a power cut would leave on disk: the state file as it is mid-sequence.
        shutil.copy(first.app.state.path, crash_copy)
    shutil.copy(crash_copy, first.app.state.path)
    async with flight_stack(tmp_path) as second:
        interrupted = await second.event("SEQ_INTERRUPTED")
        assert interrupted.args == {"name": "cut-short", "line": 3}
        assert second.app.modes.mode is Mode.SAFE
        assert not second.app.sequencer.running
        assert second.app.state.running_sequence is None
        status = second.app.sequencer.status
        assert (status.name, status.line, status.outcome) == ("cut-short", 3, Outcome.ABORTED)
        assert status.cause is AbortCause.RESTART
        assert status.reason == "restart: interrupted at line 3 by a restart; not resumed"


async def test_flight_sequences_running_at_shutdown_ends_aborted_by_restart(tmp_path: Path) -> None:
    async with flight_stack(tmp_path) as stack:
        stack.app.start_sequence(run_cell_until("elec.h2_pressure_kpa >= 190"), name="cut")
        await stack.until(lambda v: v.get("core.seq_line") == 3)
    (aborted,) = [e for e in stack.events if e.id == "SEQ_ABORTED"]
    assert aborted.args["cause"] == "restart"
    assert aborted.args["reason"] == "restart: flight software stopped"
    assert stack.app.state.running_sequence is None  # ended, so not reported again at boot


async def _finished(stack):  # type: ignore[no-untyped-def]
    import asyncio

    async with asyncio.timeout(WAIT_S):
        return await stack.app.sequencer.wait_done()


async def test_flight_sequences_commands_upload_start_and_abort(tmp_path: Path) -> None:
    async with flight_stack(tmp_path) as stack:
        bad = await stack.send("SEQ.UPLOAD", name="bad", text="MODE.IDLE\nSCOOP.DIG depth_mm=300\n")
        assert bad[-1].reason is not None and bad[-1].reason.value == "INVALID_ARGUMENT"
        assert "line 2" in bad[-1].detail
        missing = await stack.send("SEQ.START", name="never-uploaded")
        assert "no sequence 'never-uploaded'" in missing[-1].detail
        await stack.ok(
            "SEQ.UPLOAD", name="cell", text=run_cell_until("elec.h2_pressure_kpa >= 190")
        )
        await stack.ok("SEQ.START", name="cell")
        await stack.until(lambda v: v.get("elec.current_on") is True)
        busy = await stack.send("SEQ.START", name="cell")
        assert busy[-1].reason is not None and busy[-1].reason.value == "BUSY"
        await stack.ok("SEQ.ABORT")
        assert stack.app.sequencer.status.outcome is Outcome.ABORTED
        assert stack.app.sequencer.status.cause is AbortCause.COMMAND
        assert stack.app.sequencer.status.reason == "command: SEQ.ABORT from test"
        await stack.until(lambda v: v.get("core.mode") == "SAFE" and not v.get("elec.current_on"))


async def test_flight_sequences_cannot_start_sequences(tmp_path: Path) -> None:
    async with flight_stack(tmp_path) as stack:
        acks = await stack.send("SEQ.UPLOAD", name="nested", text="SEQ.START name=other\n")
        assert "cannot be run from a sequence" in acks[-1].detail


async def test_flight_sequences_mode_safe_step_safes_everything_and_goes_on(tmp_path: Path) -> None:
    text = "MODE.IDLE\nELEC.START current_a=2.0\nMODE.SAFE\nCORE.NOOP\n"
    async with flight_stack(tmp_path) as stack:
        stack.app.start_sequence(text, name="ends-safe")
        status = await _finished(stack)
        assert status.outcome is Outcome.COMPLETED, status.reason
        assert stack.app.modes.mode is Mode.SAFE
        assert not stack.sim.elec.current_on
        assert not any(stack.sim.elec.valves.values())
