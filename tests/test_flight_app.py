"""The onboard application against the simulated boards over real ptys."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from flight.dispatcher import Reason, Stage
from hal import ElecFlags
from interface.dictionary import Mode
from sim.scoop_arm import sample_mass_g
from tests.flightstack import Stack, flight_stack


@pytest.fixture
async def stack(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with flight_stack(tmp_path) as s:
        yield s


@pytest.mark.req("FLT-01")
async def test_flight_app_boots_safe_with_actuators_off(stack: Stack) -> None:
    assert stack.app.modes.mode is Mode.SAFE
    boot = await stack.event("BOOT")
    assert "mode SAFE" in boot.text
    assert not stack.sim.elec.current_on
    assert stack.app.channels.values["elec.current_on"] is False


@pytest.mark.req("FLT-02")
async def test_flight_app_noop_reports_every_stage_in_safe(stack: Stack) -> None:
    acks = await stack.send("CORE.NOOP")
    assert [a.stage for a in acks] == [Stage.ACCEPTED, Stage.STARTED, Stage.COMPLETED]


@pytest.mark.req("FLT-04")
async def test_flight_app_device_command_in_safe_is_refused_naming_the_mode(stack: Stack) -> None:
    acks = await stack.send("SCOOP.HOME")
    assert [a.stage for a in acks] == [Stage.FAILED]
    assert acks[0].reason is Reason.NOT_ALLOWED_IN_MODE
    assert "not allowed in SAFE" in acks[0].detail


@pytest.mark.req("FLT-08")
async def test_flight_app_scoop_cycle_completes_only_when_confirmed(stack: Stack) -> None:
    await stack.ok("MODE.IDLE")
    acks = await stack.send("SCOOP.HOME")
    assert [a.stage for a in acks] == [Stage.ACCEPTED, Stage.STARTED, Stage.COMPLETED]
    assert stack.app.channels.values["scoop.homed"] is True
    await stack.ok("SCOOP.TARE")
    await stack.ok("SCOOP.DIG", depth_mm=30)
    assert stack.sim.scoop.state.name == "IDLE"  # the device had finished when we said so
    await stack.ok("SCOOP.WEIGH")
    dug_g = stack.app.channels.values["scoop.sample_mass_g"]
    assert dug_g == pytest.approx(sample_mass_g(30.0), abs=2.0)
    assert stack.app.state.scoop_cycles_total == 1


@pytest.mark.req("FLT-03")
async def test_flight_app_invalid_argument_names_it(stack: Stack) -> None:
    await stack.ok("MODE.IDLE")
    acks = await stack.send("SCOOP.DIG", depth_mm=500)
    assert acks[-1].reason is Reason.INVALID_ARGUMENT
    assert "depth_mm" in acks[-1].detail
    assert "COMMAND_FAILED" in stack.ids()


async def test_flight_app_unknown_command_is_refused(stack: Stack) -> None:
    acks = await stack.send("SCOOP.FLY")
    assert acks[-1].reason is Reason.UNKNOWN_COMMAND


@pytest.mark.req("FLT-06")
async def test_flight_app_interlock_refuses_dig_before_home(stack: Stack) -> None:
    await stack.ok("MODE.IDLE")
    acks = await stack.send("SCOOP.DIG", depth_mm=30)
    assert [a.stage for a in acks] == [Stage.FAILED]
    assert acks[0].reason is Reason.INTERLOCK
    assert acks[0].detail.startswith("SCOOP_NOT_HOMED")
    assert stack.sim.scoop.arm.tool_depth_mm == 0.0


@pytest.mark.req("FLT-05")
async def test_flight_app_hazardous_dump_needs_arm_then_fire(stack: Stack) -> None:
    await stack.ok("MODE.IDLE")
    await stack.ok("SCOOP.HOME")
    refused = await stack.send("SCOOP.DUMP", target="GROUND")
    assert refused[-1].reason is Reason.NOT_ARMED
    await stack.ok("CORE.ARM", command="SCOOP.DUMP")
    await stack.ok("SCOOP.DUMP", target="GROUND")
    assert stack.app.arming.armed is None  # FIRE used the arm up


async def test_flight_app_other_command_between_arm_and_fire_cancels_it(stack: Stack) -> None:
    await stack.ok("MODE.IDLE")
    await stack.ok("CORE.ARM", command="ELEC.VENT")
    await stack.ok("CORE.NOOP")
    acks = await stack.send("ELEC.VENT", gas="H2")
    assert acks[-1].reason is Reason.NOT_ARMED
    cancelled = await stack.event("ARM_CANCELLED")
    assert "CORE.NOOP" in cancelled.text
    assert not stack.sim.elec.valves[1]


async def test_flight_app_cell_start_above_five_amps_is_hazardous(stack: Stack) -> None:
    await stack.ok("MODE.IDLE")
    acks = await stack.send("ELEC.START", current_a=6.0)
    assert acks[-1].reason is Reason.NOT_ARMED
    assert not stack.sim.elec.current_on


async def test_flight_app_cell_start_completes_once_current_settles(stack: Stack) -> None:
    await stack.ok("MODE.IDLE")
    acks = await stack.send("ELEC.START", current_a=2.0)
    assert [a.stage for a in acks] == [Stage.ACCEPTED, Stage.STARTED, Stage.COMPLETED]
    assert stack.app.channels.values["elec.cell_current_a"] == pytest.approx(2.0, rel=0.02)
    assert stack.app.modes.mode is Mode.OPERATING
    await stack.ok("ELEC.STOP")
    await stack.until(lambda v: v.get("core.mode") == "IDLE")


@pytest.mark.req("FLT-09")
async def test_flight_app_over_pressure_ends_in_safe_within_persistence(stack: Stack) -> None:
    await stack.ok("MODE.IDLE")
    await stack.ok("ELEC.START", current_a=2.0)
    red_samples: list[float] = []

    def count(packet: str, values: dict[str, object]) -> None:
        pressure = values.get("elec.h2_pressure_kpa")
        if isinstance(pressure, float) and pressure > 200:
            red_samples.append(pressure)

    stack.app.channels.listen(count)
    stack.sim.set_drift("elec", "h2_pressure", 20.0)  # a sensor reading climbing 20 kPa/s
    red = await stack.event("LIMIT_RED")
    assert red.args["channel"] == "elec.h2_pressure_kpa"
    # The dictionary's persistence for this channel is 3: the third red sample trips it.
    assert red.args["value"] == round(red_samples[2], 3)
    await stack.event("SAFING")
    await stack.until(lambda v: v.get("core.mode") == "SAFE" and v.get("elec.current_on") is False)
    assert not stack.sim.elec.current_on


async def test_flight_app_stalled_joint_ends_in_safe(stack: Stack) -> None:
    from hal import Joint

    await stack.ok("MODE.IDLE")
    await stack.ok("SCOOP.HOME")
    stack.sim.set_stall(Joint.BOOM, True)
    acks = await stack.send("SCOOP.MOVE", joint="BOOM", angle_deg=45.0, speed_dps=10.0)
    assert acks[-1].stage is Stage.FAILED
    assert acks[-1].reason in (Reason.DEVICE_FAULT, Reason.ABORTED)
    red = await stack.event("LIMIT_RED", lambda e: e.args["channel"] == "scoop.boom_stall")
    assert red.args["response"] == "SAFE"
    await stack.until(lambda v: v.get("core.mode") == "SAFE")
    assert stack.sim.scoop.arm.boom.target_deg is None  # the motor is not driven


@pytest.mark.req("FLT-10")
async def test_flight_app_lost_link_safes_and_recovers(tmp_path: Path) -> None:
    links = tmp_path / "links"
    links.mkdir()
    # Stable names, as udev gives real boards: the returning pty may get another number.
    async with flight_stack(tmp_path, link_dir=links) as stack:
        await _lose_and_recover_scoop(stack)


async def _lose_and_recover_scoop(stack: Stack) -> None:
    await stack.ok("MODE.IDLE")
    await stack.ok("ELEC.START", current_a=2.0)
    stack.sim.disconnect("scoop", 0.3)
    lost = await stack.event("LINK_LOST")
    assert lost.args["board"] == "scoop"
    await stack.until(lambda v: v.get("core.mode") == "SAFE" and v.get("elec.current_on") is False)
    await stack.event("LINK_RESTORED")
    await stack.until(lambda v: v.get("scoop.link_up") is True)
    assert stack.app.modes.mode is Mode.SAFE  # coming back does not leave SAFE by itself


@pytest.mark.req("FLT-11")
async def test_flight_app_lifetime_counters_survive_restart(tmp_path: Path) -> None:
    async with flight_stack(tmp_path) as first:
        await first.ok("MODE.IDLE")
        await first.ok("ELEC.START", current_a=2.0)
        await first.until(lambda v: v.get("core.cell_ah_total", 0) > 0.001)
        await first.ok("ELEC.STOP")
        charge = first.app.state.cell_ah_total
    async with flight_stack(tmp_path) as second:
        assert second.app.state.boot_count == 2
        assert second.app.state.cell_ah_total == pytest.approx(charge)


@pytest.mark.req("FLT-14", "SIM-14")
async def test_flight_app_board_safes_itself_when_the_flight_goes_quiet(tmp_path: Path) -> None:
    links = tmp_path / "links"
    links.mkdir()
    async with flight_stack(tmp_path, link_dir=links) as stack:
        await stack.ok("MODE.IDLE")
        await stack.ok("ELEC.START", current_a=2.0)
        # Heartbeats keep it running well past the board's host watchdog (3 s, in real
        # time too: at this time scale, that many virtual seconds)...
        timeout = stack.sim.elec.host_timeout_virtual_s
        assert timeout is not None
        uptime = stack.app.channels.values["elec.uptime_ms"]
        await stack.until(lambda v: v["elec.uptime_ms"] > uptime + (timeout + 10) * 1000)
        assert stack.sim.elec.current_on
        # ...until the link is cut for longer: then the board, not the flight software, stops
        # the cell.
        stack.sim.disconnect("elec", timeout / stack.time_scale + 2.0)
        await stack.event("LINK_LOST")
        checked: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        clock = stack.sim.clock
        clock.call_at(
            clock.now() + timeout + 1, lambda: checked.set_result(stack.sim.elec.current_on)
        )
        assert await asyncio.wait_for(checked, 10) is False
        assert stack.sim.elec.telemetry().flags & ElecFlags.HOST_TIMEOUT


async def test_flight_app_silent_board_is_lost_and_found_again(stack: Stack) -> None:
    await stack.ok("MODE.IDLE")
    await stack.ok("ELEC.START", current_a=2.0)
    stack.sim.set_silent("elec", True)  # the port stays open; the board says nothing
    lost = await stack.event("LINK_LOST")
    assert lost.args["board"] == "elec"
    assert "not answering" in lost.args["detail"]
    await stack.until(lambda v: v.get("core.mode") == "SAFE" and v.get("elec.link_up") is False)
    stack.sim.set_silent("elec", False)
    await stack.event("LINK_RESTORED")
    await stack.until(lambda v: v.get("elec.link_up") is True and not v.get("elec.current_on"))
    assert not stack.sim.elec.current_on
    assert stack.ids().count("LINK_LOST") == 1
