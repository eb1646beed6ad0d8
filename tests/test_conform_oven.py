"""`isru conform --board oven` against the simulated oven: every rule passes with a sample the
scoop tips in at the kit's prompt, a firmware that breaks an oven rule gets that row FAIL
with the heater left off, and an interrupted run switches the heater off."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hal import ScoopDriver, SerialLink
from hal.commands import DumpTarget
from hal.telemetry import ScoopFlags, ScoopState
from isru.children import ChildProcess
from isru.conform import rules_for, run
from isru.conform.cli import main as conform_main
from isru.sim_child import SimChild
from sim import RealClock, SimBoards
from tests.hung import FAULTHANDLER, exit_code
from tests.test_conform import TIME_SCALE, _rows

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "the oven's lid is open"


async def _dig_and_dump_into_the_oven(url: str, kit: ChildProcess) -> None:
    """The operator's part of ``--load``: HOME and DIG 10 mm (28.7 g), then, once the kit
    says the lid is open, DUMP into the oven."""
    async with SerialLink(url=url) as link:
        scoop = ScoopDriver(link)
        await scoop.home()
        await scoop.wait_for(lambda t: bool(t.flags & ScoopFlags.HOMED), timeout_s=10.0)
        await scoop.dig(depth_mm=10.0)
        await scoop.wait_for(lambda t: t.state is ScoopState.IDLE, timeout_s=10.0)
        await kit.wait_for_line(lambda line: PROMPT in line, timeout_s=60.0)
        await scoop.dump(target=DumpTarget.OVEN)
        await scoop.wait_for(lambda t: t.state is ScoopState.IDLE, timeout_s=10.0)


async def test_conform_oven_every_rule_passes_with_a_sample_loaded_at_the_prompt() -> None:
    async with SimChild(args=["--time-scale", str(TIME_SCALE)]) as sim:
        argv = [sys.executable, "-m", "isru.cli", "conform", "--board", "oven", "--load"]
        argv += ["--port", sim.urls["oven"]]
        async with ChildProcess(argv, name="isru conform", cwd=ROOT) as kit:
            await _dig_and_dump_into_the_oven(sim.urls["scoop"], kit)
            async with asyncio.timeout(120.0):
                code = await kit.wait()
            await kit.stop()  # exited: the rest of its output
    out, err = "\n".join(kit.stdout_lines), "\n".join(kit.stderr_lines)
    rows = _rows(out)
    failed = {rule: row for rule, row in rows.items() if row[0] != "PASS"}
    assert code == 0, f"{failed}\n{out}\n{err}"
    assert set(rows) == {rule.id for rule in rules_for("oven")}
    assert f"{len(rows)} rules: {len(rows)} pass, 0 fail" in out
    assert PROMPT in err
    assert "g loaded; sealing the lid" in err
    assert "Traceback" not in err


async def test_conform_oven_ctrl_c_at_the_prompt_exits_130_saying_the_board_was_stopped() -> None:
    async with SimChild(args=["--time-scale", str(TIME_SCALE)]) as sim:
        argv = [sys.executable, "-m", "isru.cli", "conform", "--board", "oven", "--load"]
        argv += ["--port", sim.urls["oven"]]
        async with ChildProcess(argv, name="isru conform", cwd=ROOT, env=FAULTHANDLER) as kit:
            await kit.wait_for_line(lambda line: PROMPT in line, timeout_s=60.0)
            kit.send_signal(signal.SIGINT)
            code = await exit_code(kit, timeout_s=30.0)
            await kit.stop()
    err = "\n".join(kit.stderr_lines)
    assert code == 130
    assert err.endswith("isru conform: interrupted; the board was sent STOP")
    assert "Traceback" not in err
    assert not kit.stdout_lines


@pytest.fixture
async def sim() -> AsyncIterator[SimBoards]:
    async with SimBoards(clock=RealClock(TIME_SCALE)) as boards:
        yield boards


def _load(sim: SimBoards, grams: float = 30.0) -> None:
    """Regolith in the oven, as a scoop DUMP would tip it in."""
    sim.oven.physics.load(regolith_g=grams, ice_wt_pct=5.6)


async def test_conform_oven_flags_a_heater_not_interlocked_by_an_open_lid_and_leaves_it_off(
    sim: SimBoards, monkeypatch: pytest.MonkeyPatch
) -> None:
    _load(sim)
    monkeypatch.setattr(sim.oven, "_heater_interlock", lambda: None)
    report = await run(sim.urls["oven"], "oven", only=["OVEN-INTERLOCK", "OVEN-LID"])
    verdicts = {o.rule.id: o for o in report.outcomes}
    assert not verdicts["OVEN-INTERLOCK"].passed
    assert "HEAT, lid open: ACK" in verdicts["OVEN-INTERLOCK"].detail
    assert verdicts["OVEN-LID"].passed
    assert not sim.oven.heater.enabled
    assert sim.oven.physics.heater_w == 0.0


async def test_conform_oven_flags_a_heater_above_its_power_limit(sim: SimBoards) -> None:
    _load(sim)
    sim.oven.heater_stuck = True  # its switch fails closed: the heater's full 150 W
    report = await run(sim.urls["oven"], "oven", only=["OVEN-HEAT", "OVEN-STOP"])
    verdicts = {o.rule.id: o for o in report.outcomes}
    assert not verdicts["OVEN-HEAT"].passed
    assert "150.00 W" in verdicts["OVEN-HEAT"].detail
    assert "STOP while heating not checked" in verdicts["OVEN-STOP"].detail
    assert not sim.oven.heater.enabled
    # Stopped once seen over its limit: under a second at full power in the whole run.
    assert sim.oven.physics.heater_energy_j < 150.0


async def test_conform_oven_flags_a_stop_that_leaves_the_lid_moving(
    sim: SimBoards, monkeypatch: pytest.MonkeyPatch
) -> None:
    stop = sim.oven._cmd_stop

    def stop_but_the_lid(args: None) -> None:
        target = sim.oven.lid.target
        stop(args)
        sim.oven.lid.target = target  # the lid motor keeps driving

    _load(sim)
    monkeypatch.setattr(sim.oven, "_cmd_stop", stop_but_the_lid)
    report = await run(sim.urls["oven"], "oven", only=["OVEN-STOP"])
    (outcome,) = report.outcomes
    assert not outcome.passed
    assert "STOP while closing: lid LID_MOVING" in outcome.detail


async def test_conform_oven_without_a_sample_fails_the_heater_rules_naming_load(
    sim: SimBoards,
) -> None:
    report = await run(sim.urls["oven"], "oven", only=["OVEN-HEAT", "OVEN-EJECT", "OVEN-LID"])
    verdicts = {o.rule.id: o for o in report.outcomes}
    assert verdicts["OVEN-LID"].passed
    for rule in ("OVEN-HEAT", "OVEN-EJECT"):
        assert not verdicts[rule].passed
        assert "no sample in the oven" in verdicts[rule].detail
        assert "--load" in verdicts[rule].detail


async def test_conform_oven_pumps_water_the_trap_holds(sim: SimBoards) -> None:
    """A trap with water on it: TRANSFER pumps it (BUSY meanwhile)."""
    oven = sim.oven.physics
    oven.load(regolith_g=30.0, ice_wt_pct=5.6)
    oven.heater_w, oven.trap_w = 100.0, 150.0  # baked out onto a cold trap (60 s)...
    for _ in range(60):
        oven.step(1.0)
    oven.heater_w, oven.trap_w = 0.0, -60.0  # ...then melted (the Peltier warms it)
    for _ in range(300):
        oven.step(1.0)
        if oven.trap_temp_k > 278.15:
            break
    assert oven.trap_liquid_g > 1.0
    report = await run(sim.urls["oven"], "oven", only=["OVEN-TRANSFER", "OVEN-BUSY"])
    verdicts = {o.rule.id: o for o in report.outcomes}
    assert report.passed, report.table()
    assert "PUMP_ON" in verdicts["OVEN-TRANSFER"].detail
    assert "TRANSFER while pumping: BUSY" in verdicts["OVEN-BUSY"].detail
    # Until 0.5 g or the sump dry: the lid step opened the chamber, and some water left.
    assert 0.3 < oven.pumped_g <= 0.5 + 1e-6
    assert f"{oven.pumped_g:.2f} g moved" in verdicts["OVEN-TRANSFER"].detail


async def test_conform_oven_interrupted_while_heating_switches_the_heater_off(
    sim: SimBoards, monkeypatch: pytest.MonkeyPatch
) -> None:
    _load(sim)
    heating = asyncio.Event()
    heat = sim.oven._cmd_heat

    def heat_and_tell(args: object) -> None:
        heat(args)  # type: ignore[arg-type]
        heating.set()

    monkeypatch.setattr(sim.oven, "_cmd_heat", heat_and_tell)
    task = asyncio.create_task(run(sim.urls["oven"], "oven", only=["OVEN-HEAT"]))
    async with asyncio.timeout(30.0):
        await heating.wait()
    assert sim.oven.heater.enabled
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not sim.oven.heater.enabled
    assert sim.oven.physics.heater_w == 0.0


def test_conform_oven_help_says_how_a_sample_is_loaded(capsys: pytest.CaptureFixture[str]) -> None:
    assert conform_main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--board {scoop,elec,oven}" in out
    assert "--load" in out
    assert "40 degC at most" in out


def test_conform_oven_load_is_refused_for_another_board(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert conform_main(["--port", "x", "--board", "scoop", "--load"]) == 2
    err = capsys.readouterr().err
    assert err == "isru conform: error: argument --load: only for --board oven\n"
