"""The oven in the flight software against the simulated oven board over real ptys: the
extraction chain with its cross-board handovers, the limits that make the payload SAFE, and
a flight software that restarts while the oven heats."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from flight.clock import ScaledClock
from flight.dispatcher import Reason, Stage
from flight.vehicle import FlightApp
from interface.dictionary import Mode
from sim import RealClock, SimBoards
from tests.flightstack import TIME_SCALE, WAIT_S, Stack, flight_config, flight_stack

#: The hot oven's setpoint: enough to drive the ice out, cool enough to eject soon after.
HOT_C = 80.0


@pytest.fixture
async def stack(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with flight_stack(tmp_path) as s:
        yield s


async def _refused(stack: Stack, name: str, **args: Any) -> str:
    acks = await stack.send(name, **args)
    assert acks[-1].stage is Stage.FAILED and acks[-1].reason is Reason.INTERLOCK, acks[-1]
    return acks[-1].detail.split(":", 1)[0]


async def _fire(stack: Stack, name: str, **args: Any) -> None:
    await stack.ok("CORE.ARM", command=name)
    await stack.ok(name, **args)


async def _loaded(stack: Stack, regolith_g: float = 30.0, ice_wt_pct: float = 0.0) -> None:
    """A sample in the sealed chamber, as if dumped there (at room temperature)."""
    stack.sim.oven.physics.load(regolith_g=regolith_g, ice_wt_pct=ice_wt_pct, temp_k=293.0)
    await stack.until(lambda v: v.get("oven.sample_loaded") is True)


@pytest.mark.req("FLT-01", "FLT-17")
async def test_flight_oven_app_boots_safe_reporting_the_lid(stack: Stack) -> None:
    safed = await stack.event("OVEN_SAFED")
    assert safed.args["lid"] == "SEALED"
    assert safed.text.startswith("oven safe: heater, pump and trap off; lid SEALED, sample")
    values = stack.app.channels.values
    assert (values["oven.lid"], values["oven.heater_on"], values["oven.trap_on"]) == (
        "SEALED",
        False,
        False,
    )
    assert values["oven.heater_stall_s"] == 0.0


@pytest.mark.req("FLT-06", "FLT-08", "FLT-17")
async def test_flight_oven_app_extraction_chain_from_scoop_to_cell(stack: Stack) -> None:
    """Dig, dump into the open oven, seal, heat with the trap cold, melt, pump to the cell,
    eject: every command completes on its effect, and the interlocks guard each handover."""
    await stack.ok("MODE.IDLE")
    await stack.ok("SCOOP.HOME")
    await stack.ok("SCOOP.DIG", depth_mm=30)
    await stack.ok("CORE.ARM", command="SCOOP.DUMP")
    assert await _refused(stack, "SCOOP.DUMP", target="OVEN") == "OVEN_LID_NOT_OPEN"
    await stack.ok("OVEN.LID", state="OPEN")
    assert stack.sim.oven.lid.open and stack.app.channels.values["oven.lid"] == "OPEN"
    await _fire(stack, "SCOOP.DUMP", target="OVEN")  # completes once the oven weighs it
    loaded = stack.app.channels.values["oven.sample_mass_g"]
    assert loaded > 50.0 and stack.sim.ground_g == 0.0
    await stack.ok("OVEN.LID", state="SEALED")
    await stack.ok("OVEN.TRAP", setpoint_c=-60.0)
    heat = {"setpoint_c": HOT_C, "ramp_c_per_min": 30.0, "power_limit_w": 150.0}
    await _fire(stack, "OVEN.HEAT", **heat)
    assert stack.app.modes.mode is Mode.OPERATING  # the oven heats: the payload is busy
    await stack.until(lambda v: v["oven.state"] == "HOLDING")
    collected = stack.app.channels.values["oven.water_collected_g"]
    assert collected > 0.5
    assert await _refused(stack, "OVEN.LID", state="OPEN") == "OVEN_HOT"
    await stack.ok("OVEN.HEATER_OFF")
    assert await _refused(stack, "OVEN.TRANSFER", water_g=0.5) == "TRAP_FROZEN"
    await stack.ok("OVEN.TRAP", setpoint_c=10.0)  # melt what it caught
    await stack.until(lambda v: v["oven.trap_temp_c"] > 5.0)
    await stack.ok("ELEC.START", current_a=1.0)
    assert await _refused(stack, "OVEN.TRANSFER", water_g=0.5) == "CELL_RUNNING"
    await stack.ok("ELEC.STOP")
    tank = stack.sim.elec.cell.water_g
    await stack.ok("OVEN.TRANSFER", water_g=0.5)
    assert stack.app.channels.values["oven.water_transferred_g"] >= 0.4
    assert stack.sim.elec.cell.water_g - tank == pytest.approx(0.5, abs=0.1)
    await stack.ok("OVEN.TRAP_OFF")
    await stack.until(lambda v: v["oven.sample_temp_c"] <= 60.0)
    await stack.ok("OVEN.EJECT")
    assert stack.app.channels.values["oven.sample_loaded"] is False
    assert "COMMAND_FAILED" in stack.ids()  # the refusals above, and only those
    failed = [e.args["reason"] for e in stack.events if e.id == "COMMAND_FAILED"]
    assert set(failed) == {"INTERLOCK"}


@pytest.mark.req("FLT-09", "FLT-17")
async def test_flight_oven_app_open_thermocouple_while_heating_ends_in_safe(
    stack: Stack,
) -> None:
    await stack.ok("MODE.IDLE")
    await _loaded(stack)
    await _fire(stack, "OVEN.HEAT", setpoint_c=150.0, ramp_c_per_min=30.0, power_limit_w=50.0)
    stack.sim.set_sensor_open("sample_temp")  # it reads 2000 degC
    red = await stack.event("LIMIT_RED", lambda e: e.args["channel"] == "oven.sample_temp_c")
    assert red.args["response"] == "SAFE"
    await stack.event("SAFING")
    await stack.until(lambda v: v["core.mode"] == "SAFE" and v["oven.heater_on"] is False)
    assert not stack.sim.oven.heater.enabled
    assert stack.app.channels.values["oven.heater_power_w"] == 0.0


@pytest.mark.req("FLT-09", "FLT-17")
async def test_flight_oven_app_heater_that_warms_nothing_ends_in_safe(stack: Stack) -> None:
    """A thermocouple drifting down as fast as the sample heats: the heater draws power and
    the reading never rises, so the stall limit (5 minutes) makes the payload SAFE."""
    await stack.ok("MODE.IDLE")
    await _loaded(stack)
    stack.sim.set_drift("oven", "sample_temp", -1.0)
    await _fire(stack, "OVEN.HEAT", setpoint_c=200.0, ramp_c_per_min=60.0, power_limit_w=5.0)
    red = await stack.event("LIMIT_RED", lambda e: e.args["channel"] == "oven.heater_stall_s")
    assert float(red.args["value"]) > 300.0
    await stack.until(lambda v: v["core.mode"] == "SAFE" and v["oven.heater_on"] is False)
    assert not stack.sim.oven.heater.enabled
    assert "LIMIT_YELLOW" in stack.ids()  # it warned at 2 minutes


@pytest.mark.req("FLT-01", "FLT-17")
async def test_flight_oven_app_restart_while_heating_comes_back_safe(tmp_path: Path) -> None:
    """The flight software dies while the oven heats (no shutdown, no safing) and starts
    again before the board's host watchdog trips: it boots SAFE, switches the heater off
    and reports the oven safe with its lid."""
    async with SimBoards(clock=RealClock(TIME_SCALE)) as sim:
        config = flight_config(sim.urls, tmp_path)
        first = FlightApp(config=config, clock=ScaledClock(scale=TIME_SCALE))
        await first.__aenter__()
        stack = Stack(first, sim)
        first.events.subscribe(stack.events.append)
        await stack.until(lambda v: all(v.get(f"{b}.link_up") for b in ("scoop", "elec", "oven")))
        await stack.ok("MODE.IDLE")
        await _loaded(stack)
        await _fire(stack, "OVEN.HEAT", setpoint_c=150.0, ramp_c_per_min=30.0, power_limit_w=50.0)
        await _die(first)
        assert sim.oven.heater.enabled and sim.oven.state.name in ("HEATING", "HOLDING")
        second = FlightApp(config=config, clock=ScaledClock(scale=TIME_SCALE))
        again = Stack(second, sim)
        second.events.subscribe(again.events.append)
        async with second:
            safed = await again.event("OVEN_SAFED")
            assert safed.args["lid"] == "SEALED"
            assert not sim.oven.heater.enabled
            assert second.modes.mode is Mode.SAFE
            assert second.state.boot_count == 2
            await again.until(lambda v: v.get("oven.heater_on") is False)
            assert "BOARD_FAULT" not in again.ids()  # back before the host watchdog tripped


async def _die(app: FlightApp) -> None:
    """The process is gone: its tasks stop and its ports close, nothing is safed."""
    tasks = [*app._tasks, *app._loops]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    async with asyncio.timeout(WAIT_S):
        await app._exit.aclose()
