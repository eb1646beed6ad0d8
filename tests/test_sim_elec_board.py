"""The emulated electrolysis board at handle() level, on a manual clock: the cell, valves,
heater, interlocks and trips."""

from __future__ import annotations

import pytest

from hal.commands import (
    CellCurrent,
    HeaterCommand,
    Valve,
    ValveCommand,
)
from hal.message import NackCode
from hal.telemetry import (
    ElecFlags,
    ElecState,
)
from sim.clock import ManualClock
from sim.elec_board import ElecFirmware
from tests.firmware_requests import acked, elec_tm, nack, request


async def test_sim_elec_board_start_runs_at_the_setpoint_and_stop_switches_off(
    elec: ElecFirmware, clock: ManualClock
) -> None:
    acked(request(elec, "SET_CURRENT", CellCurrent(2.0)))
    acked(request(elec, "START"))
    await clock.advance(10.0)
    tm = elec_tm(elec)
    assert tm.state is ElecState.RUNNING
    assert tm.flags & ElecFlags.CURRENT_ON
    assert tm.cell_current_a == 2.0
    assert 1.5 < tm.cell_voltage_v < 2.0
    assert tm.h2_pressure_kpa == pytest.approx(102.5, abs=0.2)
    acked(request(elec, "STOP"))
    await clock.advance(0.1)
    tm = elec_tm(elec)
    assert (tm.state, tm.cell_current_a) == (ElecState.IDLE, 0.0)


async def test_sim_elec_board_stop_shows_no_current_before_the_cell_settles(
    elec: ElecFirmware, clock: ManualClock
) -> None:
    """ICD §6.4: with CURRENT_ON clear the cell current reads 0, even in the packet sent
    between the STOP and the model's next step."""
    acked(request(elec, "SET_CURRENT", CellCurrent(1.0)))
    acked(request(elec, "START"))
    await clock.advance(1.0)
    acked(request(elec, "STOP"))
    tm = elec_tm(elec)  # no clock step since the STOP
    assert not tm.flags & ElecFlags.CURRENT_ON
    assert (tm.cell_current_a, tm.cell_voltage_v) == (0.0, 0.0)


async def test_sim_elec_board_valves_and_heater_show_in_flags(
    elec: ElecFirmware, clock: ManualClock
) -> None:
    for valve in Valve:
        acked(request(elec, "SET_VALVE", ValveCommand(valve, 1)))
    acked(request(elec, "SET_HEATER", HeaterCommand(1, 40.0)))
    await clock.advance(1.0)
    tm = elec_tm(elec)
    want = (
        ElecFlags.WATER_VALVE_OPEN
        | ElecFlags.H2_VENT_OPEN
        | ElecFlags.O2_VENT_OPEN
        | ElecFlags.HEATER_ON
    )
    assert tm.flags & want == want
    assert tm.heater_power_w == 15.0
    assert tm.cell_temp_c > 20.0


async def test_sim_elec_board_heater_thermostat_holds_the_setpoint(
    elec: ElecFirmware, clock: ManualClock
) -> None:
    acked(request(elec, "SET_HEATER", HeaterCommand(1, 30.0)))
    await clock.advance(600.0)
    assert elec_tm(elec).cell_temp_c == pytest.approx(30.0, abs=0.7)


async def test_sim_elec_board_start_with_empty_reservoir_is_interlocked(elec: ElecFirmware) -> None:
    elec.cell.water_g = 0.0
    assert nack(request(elec, "START")) == (NackCode.INTERLOCK, None)
    assert elec_tm(elec).flags & ElecFlags.WATER_LOW


@pytest.mark.req("SIM-09")
async def test_sim_elec_board_h2_overpressure_trips_then_start_is_interlocked_until_vented(
    elec: ElecFirmware, clock: ManualClock
) -> None:
    acked(request(elec, "SET_CURRENT", CellCurrent(10.0)))
    acked(request(elec, "START"))
    await clock.advance(250.0)  # 10 A: ~1.26 kPa/s, past 400 kPa after ~240 s
    tm = elec_tm(elec)
    assert tm.state is ElecState.FAULT
    assert tm.flags & ElecFlags.H2_OVERPRESSURE
    assert tm.cell_current_a == 0.0
    assert nack(request(elec, "SET_CURRENT", CellCurrent(1.0)))[0] is NackCode.FAULT
    elec.cell.h2_mol *= 1.1  # keep the cause there (the cooling cell lowers the pressure)
    acked(request(elec, "STOP"))  # the cause is still there: FAULT stays
    assert elec_tm(elec).state is ElecState.FAULT
    assert nack(request(elec, "START"))[0] is NackCode.FAULT
    acked(request(elec, "SET_VALVE", ValveCommand(Valve.H2_VENT, 1)))  # allowed in FAULT
    await clock.advance(15.0)
    acked(request(elec, "STOP"))
    assert elec_tm(elec).state is ElecState.IDLE
    assert not elec_tm(elec).flags & ElecFlags.H2_OVERPRESSURE


async def test_sim_elec_board_start_above_h2_limit_is_interlocked(elec: ElecFirmware) -> None:
    elec.cell.h2_mol *= 4.5
    assert nack(request(elec, "START")) == (NackCode.INTERLOCK, None)


@pytest.mark.req("SIM-09")
async def test_sim_elec_board_dry_cell_trips_overvoltage(
    elec: ElecFirmware, clock: ManualClock
) -> None:
    acked(request(elec, "SET_CURRENT", CellCurrent(2.0)))
    acked(request(elec, "START"))
    elec.cell.water_g = 0.0
    await clock.advance(0.1)
    tm = elec_tm(elec)
    assert tm.state is ElecState.FAULT
    assert tm.flags & ElecFlags.OVERVOLTAGE
    acked(request(elec, "STOP"))
    assert elec_tm(elec).state is ElecState.IDLE


@pytest.mark.req("SIM-09")
async def test_sim_elec_board_overtemp_trips_and_switches_the_heater_off(
    elec: ElecFirmware, clock: ManualClock
) -> None:
    elec.drift_rate["cell_temp"] = 10.0  # a sensor running away
    acked(request(elec, "SET_HEATER", HeaterCommand(1, 80.0)))
    await clock.advance(8.0)
    tm = elec_tm(elec)
    assert tm.state is ElecState.FAULT
    assert tm.flags & ElecFlags.OVERTEMP
    assert not tm.flags & ElecFlags.HEATER_ON


async def test_sim_elec_board_reset_closes_valves_and_keeps_the_gas(
    elec: ElecFirmware, clock: ManualClock
) -> None:
    acked(request(elec, "SET_CURRENT", CellCurrent(5.0)))
    acked(request(elec, "START"))
    acked(request(elec, "SET_VALVE", ValveCommand(Valve.WATER_FEED, 1)))
    await clock.advance(20.0)
    pressure = elec_tm(elec).h2_pressure_kpa
    acked(request(elec, "RESET"))
    tm = elec_tm(elec)
    assert (tm.state, tm.boot_count, tm.current_setpoint_a) == (ElecState.IDLE, 2, 0.0)
    assert not tm.flags & (ElecFlags.CURRENT_ON | ElecFlags.WATER_VALVE_OPEN)
    assert tm.h2_pressure_kpa == pytest.approx(pressure, abs=0.1)
