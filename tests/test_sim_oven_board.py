"""The emulated oven board at handle() level, on a manual clock: lid, heater, cold trap, pump,
eject, their interlocks, the trips and faults, and the oven between the scoop and the elec
board (regolith in, water out)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hal import DeviceNack, OvenDriver, SerialLink
from hal.commands import (
    Dig,
    DumpCommand,
    DumpTarget,
    HeatCommand,
    LidCommand,
    TransferCommand,
    TrapCommand,
)
from hal.message import MsgType, NackCode
from hal.telemetry import OvenFlags, OvenState, OvenTelemetry
from sim import ManualClock, SimBoards
from sim.boot_store import BootStore
from sim.oven_board import HEATER_RATED_W, OvenFirmware
from sim.oven_control import PUMP_FLOW_G_S
from sim.oven_sensors import OPEN_CIRCUIT_READING
from sim.scoop_arm import sample_mass_g
from tests.firmware_requests import Collector, acked, homed, nack, oven_tm, request

LID = OvenFlags.LID_SEALED | OvenFlags.LID_OPEN | OvenFlags.LID_MOVING
FAULTS = (
    OvenFlags.OVERTEMP
    | OvenFlags.OVERPRESSURE
    | OvenFlags.SENSOR_FAULT
    | OvenFlags.PUMP_STALL
    | OvenFlags.HOST_TIMEOUT
)


def load(oven: OvenFirmware, grams: float = 30.0) -> None:
    """Regolith in the chamber, 5.6 wt% ice (as the scoop's DUMP would hand it over)."""
    oven.physics.load(regolith_g=grams, ice_wt_pct=5.6)


def refused(oven: OvenFirmware, name: str, args: object = None) -> NackCode:
    return nack(request(oven, name, args))[0]


async def advance(oven: OvenFirmware, clock: ManualClock, seconds: float) -> None:
    """Let ``seconds`` pass with a host that keeps the board's watchdog fed."""
    for _ in range(round(seconds * 2)):
        await clock.advance(0.5)
        acked(request(oven, "GET_INFO"))


async def water_on_trap(oven: OvenFirmware, clock: ManualClock) -> float:
    """Bake a sample's ice onto a -60 degC trap, then melt it at +10 degC (the sample warmer
    than the trap, or the water would go back to it): the grams of liquid on the trap."""
    load(oven)
    acked(request(oven, "SET_TRAP", TrapCommand(1, -60.0)))
    acked(request(oven, "HEAT", HeatCommand(60.0, 60.0, 100.0)))
    await advance(oven, clock, 60.0)
    acked(request(oven, "HEATER_OFF"))
    acked(request(oven, "SET_TRAP", TrapCommand(1, 10.0)))
    await advance(oven, clock, 30.0)
    assert oven_tm(oven).trap_temp_c > 0.0
    return oven.physics.trap_liquid_g


@pytest.mark.req("SIM-16")
async def test_sim_oven_board_boots_with_everything_off_and_reports_the_lid(
    oven: OvenFirmware, clock: ManualClock
) -> None:
    tm = oven_tm(oven)
    assert (tm.state, tm.flags) == (OvenState.IDLE, OvenFlags.LID_SEALED)
    assert (tm.heater_power_w, tm.heater_setpoint_c, tm.heater_energy_wh) == (0.0, 0.0, 0.0)
    load(oven)
    acked(request(oven, "SET_TRAP", TrapCommand(1, -40.0)))
    acked(request(oven, "HEAT", HeatCommand(60.0, 30.0, 80.0)))
    await clock.advance(20.0)
    assert oven_tm(oven).heater_energy_wh > 0.0
    acked(request(oven, "RESET"))
    tm = oven_tm(oven)
    assert tm.boot_count == 2
    assert (tm.state, tm.flags) == (OvenState.IDLE, OvenFlags.LID_SEALED | OvenFlags.SAMPLE_LOADED)
    assert (tm.heater_power_w, tm.heater_setpoint_c, tm.heater_energy_wh) == (0.0, 0.0, 0.0)
    assert tm.water_collected_g == 0.0  # counts from this boot; the trap keeps its ice
    assert oven.physics.trap_ice_g > 0.0


@pytest.mark.req("SIM-16")
async def test_sim_oven_board_reset_leaves_the_lid_where_it_is(
    oven: OvenFirmware, clock: ManualClock
) -> None:
    acked(request(oven, "SET_LID", LidCommand(1)))
    await clock.advance(3.0)
    acked(request(oven, "RESET"))
    assert oven_tm(oven).flags & LID == OvenFlags.LID_OPEN
    acked(request(oven, "SET_LID", LidCommand(0)))
    await clock.advance(1.0)  # half way down
    acked(request(oven, "RESET"))
    await clock.advance(5.0)
    assert oven_tm(oven).flags & LID == OvenFlags(0)  # stopped part way: neither
    assert oven.lid.position == pytest.approx(0.5)


@pytest.mark.req("SIM-16")
async def test_sim_oven_board_set_lid_moves_for_two_seconds_then_reports_its_end(
    oven: OvenFirmware, clock: ManualClock
) -> None:
    acked(request(oven, "SET_LID", LidCommand(1)))
    assert oven_tm(oven).flags & LID == OvenFlags.LID_MOVING
    assert refused(oven, "SET_LID", LidCommand(0)) is NackCode.BUSY
    await clock.advance(1.9)
    assert oven_tm(oven).flags & LID == OvenFlags.LID_MOVING
    await clock.advance(0.2)
    assert oven_tm(oven).flags & LID == OvenFlags.LID_OPEN
    acked(request(oven, "SET_LID", LidCommand(1)))  # already open: nothing moves
    assert oven_tm(oven).flags & LID == OvenFlags.LID_OPEN
    acked(request(oven, "SET_LID", LidCommand(0)))
    await clock.advance(2.1)
    assert oven_tm(oven).flags & LID == OvenFlags.LID_SEALED


async def test_sim_oven_board_stop_halts_the_lid_part_way(
    oven: OvenFirmware, clock: ManualClock
) -> None:
    load(oven)
    acked(request(oven, "SET_LID", LidCommand(1)))
    await clock.advance(0.5)
    acked(request(oven, "STOP"))
    await clock.advance(2.0)
    assert oven_tm(oven).flags & LID == OvenFlags(0)
    assert refused(oven, "HEAT", HeatCommand(80.0, 10.0, 50.0)) is NackCode.INTERLOCK
    acked(request(oven, "SET_LID", LidCommand(0)))
    await clock.advance(0.6)  # a quarter of the stroke back
    assert oven_tm(oven).flags & LID == OvenFlags.LID_SEALED


@pytest.mark.req("SIM-16")
async def test_sim_oven_board_opening_a_hot_or_pressurised_chamber_is_interlocked(
    oven: OvenFirmware, clock: ManualClock
) -> None:
    oven.sensors.drift["sample_temp"] = 45.0  # 20 degC + 45: above 60
    assert refused(oven, "SET_LID", LidCommand(1)) is NackCode.INTERLOCK
    acked(request(oven, "SET_LID", LidCommand(0)))  # closing is always allowed
    oven.sensors.drift["sample_temp"] = 35.0
    acked(request(oven, "SET_LID", LidCommand(1)))
    await clock.advance(2.5)
    acked(request(oven, "SET_LID", LidCommand(0)))
    await clock.advance(2.5)
    oven.sensors.drift["pressure"] = 5.5
    assert oven_tm(oven).chamber_pressure_kpa > 5.0
    assert refused(oven, "SET_LID", LidCommand(1)) is NackCode.INTERLOCK
    oven.sensors.drift["pressure"] = 0.0
    acked(request(oven, "SET_LID", LidCommand(1)))
    oven.sensors.drift["pressure"] = 5.5
    assert refused(oven, "SET_LID", LidCommand(1)) is NackCode.BUSY  # BUSY comes first


@pytest.mark.req("SIM-16")
async def test_sim_oven_board_heat_is_interlocked_without_a_sealed_lid_or_a_sample(
    oven: OvenFirmware, clock: ManualClock
) -> None:
    heat = HeatCommand(100.0, 10.0, 50.0)
    assert refused(oven, "HEAT", heat) is NackCode.INTERLOCK  # sealed but empty
    assert refused(oven, "HOLD") is NackCode.INTERLOCK
    load(oven, 5.0)
    acked(request(oven, "SET_LID", LidCommand(1)))
    assert refused(oven, "HEAT", heat) is NackCode.INTERLOCK  # moving
    await clock.advance(2.5)
    assert refused(oven, "HEAT", heat) is NackCode.INTERLOCK  # open
    assert refused(oven, "HOLD") is NackCode.INTERLOCK
    acked(request(oven, "SET_LID", LidCommand(0)))
    await clock.advance(2.5)
    acked(request(oven, "HEAT", heat))
    assert oven_tm(oven).state is OvenState.HEATING


@pytest.mark.req("SIM-16")
async def test_sim_oven_board_heat_ramps_the_target_then_holds_the_sample_at_the_setpoint(
    oven: OvenFirmware, clock: ManualClock
) -> None:
    load(oven)
    acked(request(oven, "SET_TRAP", TrapCommand(1, -60.0)))
    await clock.advance(60.0)  # the ice goes to the trap
    start = oven_tm(oven).sample_temp_c
    acked(request(oven, "HEAT", HeatCommand(80.0, 30.0, 100.0)))
    tm = oven_tm(oven)
    assert (tm.state, tm.flags & OvenFlags.HEATER_ON) == (OvenState.HEATING, OvenFlags.HEATER_ON)
    assert tm.heater_setpoint_c == pytest.approx(start, abs=0.01)
    await clock.advance(10.0)
    assert oven_tm(oven).heater_setpoint_c == pytest.approx(start + 5.0, abs=0.01)
    packets: list[OvenTelemetry] = []
    for _ in range(60):
        await clock.advance(5.0)
        packets.append(oven_tm(oven))
    assert max(p.heater_power_w for p in packets) <= 100.0
    assert packets[-1].state is OvenState.HOLDING
    assert packets[-1].heater_setpoint_c == 80.0
    assert packets[-1].sample_temp_c == pytest.approx(80.0, abs=2.0)
    assert packets[-1].heater_energy_wh > packets[0].heater_energy_wh > 0.0


async def test_sim_oven_board_heater_power_never_exceeds_the_limit(
    oven: OvenFirmware, clock: ManualClock
) -> None:
    load(oven)
    acked(request(oven, "HEAT", HeatCommand(300.0, 60.0, 12.5)))
    powers = []
    for _ in range(40):
        await clock.advance(1.0)
        powers.append(oven_tm(oven).heater_power_w)
    assert max(powers) == 12.5  # saturated at the limit, never above it
    assert oven_tm(oven).state is OvenState.HEATING


async def test_sim_oven_board_hold_freezes_the_target_at_the_sample_temperature(
    oven: OvenFirmware, clock: ManualClock
) -> None:
    load(oven)
    acked(request(oven, "HEAT", HeatCommand(200.0, 20.0, 60.0)))
    await clock.advance(60.0)
    acked(request(oven, "HOLD"))
    tm = oven_tm(oven)
    assert tm.state is OvenState.HOLDING
    assert tm.heater_setpoint_c == pytest.approx(tm.sample_temp_c, abs=0.01)
    await clock.advance(60.0)
    assert oven_tm(oven).heater_setpoint_c == tm.heater_setpoint_c
    assert oven_tm(oven).sample_temp_c == pytest.approx(tm.sample_temp_c, abs=3.0)


async def test_sim_oven_board_hold_with_the_heater_off_takes_the_last_power_limit(
    oven: OvenFirmware, clock: ManualClock
) -> None:
    load(oven)
    acked(request(oven, "HOLD"))
    assert (oven_tm(oven).state, oven.heater.limit_w) == (OvenState.HOLDING, 50.0)
    acked(request(oven, "HEAT", HeatCommand(90.0, 20.0, 20.0)))
    acked(request(oven, "HEATER_OFF"))
    acked(request(oven, "HOLD"))
    assert oven.heater.limit_w == 20.0


async def test_sim_oven_board_heater_off_shows_no_power_at_once(
    oven: OvenFirmware, clock: ManualClock
) -> None:
    load(oven)
    acked(request(oven, "HEAT", HeatCommand(150.0, 60.0, 80.0)))
    await clock.advance(5.0)
    assert oven_tm(oven).heater_power_w > 0.0
    acked(request(oven, "HEATER_OFF"))
    tm = oven_tm(oven)  # no control cycle since
    assert (tm.state, tm.heater_power_w) == (OvenState.IDLE, 0.0)
    assert not tm.flags & OvenFlags.HEATER_ON


async def test_sim_oven_board_set_trap_cools_and_warms_the_trap(
    oven: OvenFirmware, clock: ManualClock
) -> None:
    acked(request(oven, "SET_TRAP", TrapCommand(1, -60.0)))
    assert oven_tm(oven).flags & OvenFlags.TRAP_ON
    await clock.advance(60.0)
    assert oven_tm(oven).trap_temp_c == pytest.approx(-60.0, abs=1.0)
    acked(request(oven, "SET_TRAP", TrapCommand(1, 10.0)))
    await clock.advance(30.0)
    assert oven_tm(oven).trap_temp_c == pytest.approx(10.0, abs=1.0)
    acked(request(oven, "SET_TRAP", TrapCommand(0, 10.0)))
    assert not oven_tm(oven).flags & OvenFlags.TRAP_ON
    assert oven.physics.trap_w == 0.0


@pytest.mark.req("SIM-16")
async def test_sim_oven_board_transfer_pumps_the_trap_s_water_to_the_sink(
    oven: OvenFirmware, clock: ManualClock
) -> None:
    pumped: list[float] = []
    oven.water_sink = pumped.append
    liquid = await water_on_trap(oven, clock)
    assert liquid > 1.2  # of 1.68 g of ice in 30 g of regolith
    acked(request(oven, "TRANSFER", TransferCommand(0.5)))
    tm = oven_tm(oven)
    assert (tm.state, tm.flags & OvenFlags.PUMP_ON) == (OvenState.TRANSFERRING, OvenFlags.PUMP_ON)
    assert refused(oven, "TRANSFER", TransferCommand(0.5)) is NackCode.BUSY
    await clock.advance(0.5 / PUMP_FLOW_G_S + 0.1)
    tm = oven_tm(oven)
    assert tm.state is OvenState.IDLE
    assert tm.water_transferred_g == pytest.approx(0.5, abs=1e-6)
    assert sum(pumped) == pytest.approx(0.5, abs=1e-6)
    acked(request(oven, "TRANSFER", TransferCommand(100.0)))  # more than there is
    await clock.advance(liquid / PUMP_FLOW_G_S + 1.0)
    tm = oven_tm(oven)
    assert tm.state is OvenState.IDLE  # the sump ran dry
    assert tm.water_transferred_g == pytest.approx(sum(pumped))
    assert sum(pumped) > liquid - 0.1


async def test_sim_oven_board_transfer_is_interlocked_while_the_water_is_ice(
    oven: OvenFirmware, clock: ManualClock
) -> None:
    assert refused(oven, "TRANSFER", TransferCommand(1.0)) is NackCode.INTERLOCK  # dry
    load(oven)
    acked(request(oven, "SET_TRAP", TrapCommand(1, -60.0)))
    await clock.advance(60.0)
    assert oven.physics.trap_ice_g > 1.0
    assert refused(oven, "TRANSFER", TransferCommand(1.0)) is NackCode.INTERLOCK


async def test_sim_oven_board_heating_goes_on_during_a_transfer(
    oven: OvenFirmware, clock: ManualClock
) -> None:
    await water_on_trap(oven, clock)
    acked(request(oven, "HEAT", HeatCommand(40.0, 10.0, 30.0)))
    acked(request(oven, "TRANSFER", TransferCommand(0.5)))
    tm = oven_tm(oven)
    assert tm.state is OvenState.TRANSFERRING
    assert tm.flags & (OvenFlags.HEATER_ON | OvenFlags.PUMP_ON) == (
        OvenFlags.HEATER_ON | OvenFlags.PUMP_ON
    )
    await clock.advance(10.0)
    assert oven_tm(oven).state is OvenState.HEATING


@pytest.mark.req("SIM-16")
async def test_sim_oven_board_eject_drops_the_sample_once_cool_and_off(
    oven: OvenFirmware, clock: ManualClock
) -> None:
    load(oven, 100.0)
    assert oven_tm(oven).flags & OvenFlags.SAMPLE_LOADED
    acked(request(oven, "HEAT", HeatCommand(40.0, 10.0, 30.0)))
    assert refused(oven, "EJECT") is NackCode.INTERLOCK  # heater on
    acked(request(oven, "HEATER_OFF"))
    oven.sensors.drift["sample_temp"] = 100.0
    assert refused(oven, "EJECT") is NackCode.INTERLOCK  # hot
    oven.sensors.drift["sample_temp"] = 0.0
    acked(request(oven, "EJECT"))
    tm = oven_tm(oven)
    assert tm.state is OvenState.EJECTING
    assert tm.sample_mass_g == pytest.approx(0.0, abs=1.0)
    assert not tm.flags & OvenFlags.SAMPLE_LOADED
    assert not oven.physics.lid_sealed  # the chute is open to vacuum
    assert refused(oven, "EJECT") is NackCode.BUSY
    await clock.advance(3.05)
    assert oven_tm(oven).state is OvenState.IDLE
    assert oven.physics.lid_sealed
    acked(request(oven, "EJECT"))  # an empty chamber may be ejected again
    acked(request(oven, "STOP"))  # and STOP shuts the chute
    assert oven_tm(oven).state is OvenState.IDLE


@pytest.mark.req("SIM-09")
async def test_sim_oven_board_overtemp_trips_and_stop_clears_it_once_cool(
    oven: OvenFirmware, clock: ManualClock
) -> None:
    load(oven)
    acked(request(oven, "SET_TRAP", TrapCommand(1, -40.0)))
    acked(request(oven, "HEAT", HeatCommand(100.0, 30.0, 60.0)))
    await clock.advance(5.0)
    oven.sensors.drift["wall_temp"] = 490.0  # the wall reads above 500 degC
    await clock.advance(0.02)
    tm = oven_tm(oven)
    assert tm.state is OvenState.FAULT
    assert tm.flags & FAULTS == OvenFlags.OVERTEMP
    assert tm.flags & OvenFlags.TRAP_ON  # the trap keeps catching vapour
    assert (tm.heater_power_w, tm.flags & OvenFlags.HEATER_ON) == (0.0, OvenFlags(0))
    assert refused(oven, "HEAT", HeatCommand(100.0, 30.0, 60.0)) is NackCode.FAULT
    acked(request(oven, "SET_TRAP", TrapCommand(1, -50.0)))  # allowed in FAULT
    acked(request(oven, "STOP"))
    assert oven_tm(oven).state is OvenState.FAULT  # still hot
    oven.sensors.drift["wall_temp"] = 0.0
    acked(request(oven, "STOP"))
    tm = oven_tm(oven)
    assert (tm.state, tm.flags & FAULTS) == (OvenState.IDLE, OvenFlags(0))
    assert tm.flags & OvenFlags.TRAP_ON  # STOP leaves the trap's thermostat on


@pytest.mark.req("SIM-09")
async def test_sim_oven_board_overpressure_trips_and_stop_clears_it_once_low(
    oven: OvenFirmware, clock: ManualClock
) -> None:
    oven.sensors.drift["pressure"] = 50.5
    await clock.advance(0.02)
    assert oven_tm(oven).flags & FAULTS == OvenFlags.OVERPRESSURE
    acked(request(oven, "STOP"))
    assert oven_tm(oven).state is OvenState.FAULT
    oven.sensors.drift["pressure"] = 0.0
    acked(request(oven, "STOP"))
    assert oven_tm(oven).state is OvenState.IDLE


@pytest.mark.req("SIM-09")
@pytest.mark.parametrize(
    ("sensor", "field"),
    [
        ("sample_temp", "sample_temp_c"),
        ("wall_temp", "wall_temp_c"),
        ("trap_temp", "trap_temp_c"),
        ("pressure", "chamber_pressure_kpa"),
    ],
)
async def test_sim_oven_board_open_sensor_reads_2000_and_latches_sensor_fault(
    sensor: str, field: str, oven: OvenFirmware, clock: ManualClock
) -> None:
    oven.sensors.open.add(sensor)
    await clock.advance(0.02)
    tm = oven_tm(oven)
    assert getattr(tm, field) == OPEN_CIRCUIT_READING
    assert tm.flags & FAULTS == OvenFlags.SENSOR_FAULT  # not OVERTEMP nor OVERPRESSURE
    acked(request(oven, "STOP"))
    assert oven_tm(oven).state is OvenState.FAULT
    oven.sensors.open.clear()
    acked(request(oven, "STOP"))
    assert oven_tm(oven).state is OvenState.IDLE


@pytest.mark.req("SIM-09")
async def test_sim_oven_board_pump_stall_trips_and_stop_clears_it(
    oven: OvenFirmware, clock: ManualClock
) -> None:
    await water_on_trap(oven, clock)
    oven.pump.stalled = True
    acked(request(oven, "TRANSFER", TransferCommand(1.0)))
    await clock.advance(0.9)
    assert oven_tm(oven).state is OvenState.TRANSFERRING
    await clock.advance(0.2)
    tm = oven_tm(oven)
    assert tm.flags & FAULTS == OvenFlags.PUMP_STALL
    assert not tm.flags & OvenFlags.PUMP_ON
    assert tm.water_transferred_g == 0.0
    acked(request(oven, "STOP"))
    assert oven_tm(oven).state is OvenState.IDLE
    acked(request(oven, "TRANSFER", TransferCommand(1.0)))  # still blocked: trips again
    await clock.advance(1.1)
    assert oven_tm(oven).flags & OvenFlags.PUMP_STALL


async def test_sim_oven_board_stuck_heater_runs_at_its_rating_until_switched_off(
    oven: OvenFirmware, clock: ManualClock
) -> None:
    oven.heater_stuck = True
    load(oven)
    assert oven_tm(oven).heater_power_w == 0.0  # the safety relay is open
    acked(request(oven, "HEAT", HeatCommand(60.0, 10.0, 10.0)))
    await clock.advance(1.0)
    assert oven_tm(oven).heater_power_w == HEATER_RATED_W  # far above the 10 W asked for
    acked(request(oven, "HEATER_OFF"))
    assert oven_tm(oven).heater_power_w == 0.0


async def test_sim_oven_board_leaking_lid_loses_the_vapour(clock: ManualClock) -> None:
    def board(seed: int, leak_tau_s: float | None) -> OvenFirmware:
        fw = OvenFirmware(
            clock=clock, boot_store=BootStore("oven"), rng=random.Random(seed), host_timeout_s=None
        )
        fw.physics.leak_tau_s = leak_tau_s
        fw.start()
        load(fw)
        return fw

    tight, leaky = board(1, None), board(2, 0.5)
    await clock.advance(20.0)  # no trap: the vapour stays in a tight chamber
    assert oven_tm(leaky).chamber_pressure_kpa < 0.8 * oven_tm(tight).chamber_pressure_kpa
    assert tight.physics.lost_g == 0.0
    assert leaky.physics.lost_g > 0.2


@pytest.mark.req("SIM-14")
async def test_sim_oven_board_host_watchdog_switches_heater_trap_pump_and_lid_off(
    clock: ManualClock,
) -> None:
    oven = OvenFirmware(
        clock=clock, boot_store=BootStore("oven"), rng=random.Random(4), host_timeout_s=1.0
    )  # 1 s, so that the lid is still moving when it trips
    oven.start()
    await water_on_trap(oven, clock)  # a host that keeps talking keeps it going
    acked(request(oven, "HEAT", HeatCommand(60.0, 10.0, 30.0)))
    acked(request(oven, "TRANSFER", TransferCommand(5.0)))
    acked(request(oven, "SET_LID", LidCommand(1)))
    await clock.advance(1.1)
    tm = oven.telemetry()
    assert tm.state is OvenState.FAULT
    assert tm.flags & FAULTS == OvenFlags.HOST_TIMEOUT
    off = OvenFlags.HEATER_ON | OvenFlags.TRAP_ON | OvenFlags.PUMP_ON | LID
    assert tm.flags & off == OvenFlags(0)  # the lid stopped part way
    assert refused(oven, "SET_LID", LidCommand(1)) is NackCode.FAULT
    acked(request(oven, "STOP"))
    assert oven.telemetry().state is OvenState.IDLE


async def test_sim_oven_board_streams_its_packet(clock: ManualClock) -> None:
    out = Collector()
    oven = OvenFirmware(clock=clock, boot_store=BootStore("oven"), rng=random.Random(5), emit=out)
    oven.start()
    await clock.advance(1.0)
    assert len(out.messages) == 10
    assert {m.msg_id for m in out.messages} == {0x03}
    assert {len(m.body) for m in out.messages} == {53}


# -- the oven between the scoop and the elec board -----------------------------------------


@pytest.fixture
async def sim() -> AsyncIterator[SimBoards]:
    async with SimBoards(tcp=True, clock=ManualClock(), host_timeout_s=None, seed=7) as boards:
        yield boards


DUG_G = sample_mass_g(30.0)


async def dig_and_dump(sim: SimBoards, target: DumpTarget, depth_mm: float = 30.0) -> None:
    """HOME, DIG (30 mm: ``sample_mass_g(30.0)``, 92.3 g), DUMP at ``target``."""
    assert isinstance(sim.clock, ManualClock)
    await homed(sim.scoop, sim.clock)
    acked(request(sim.scoop, "DIG", Dig(depth_mm)))
    await sim.clock.advance(10.0)
    acked(request(sim.scoop, "DUMP", DumpCommand(target)))
    await sim.clock.advance(10.0)


async def open_lid(sim: SimBoards) -> None:
    assert isinstance(sim.clock, ManualClock)
    acked(request(sim.oven, "SET_LID", LidCommand(1)))
    await sim.clock.advance(2.5)


@pytest.mark.req("SIM-16")
async def test_sim_oven_board_dump_to_an_open_oven_fills_its_hopper(sim: SimBoards) -> None:
    await open_lid(sim)
    await dig_and_dump(sim, DumpTarget.OVEN)
    tm = oven_tm(sim.oven)
    assert sim.oven_loaded_g == pytest.approx(DUG_G)
    # on the load cell: less the ice subliming in the open hopper (about 1 %), and its noise
    assert tm.sample_mass_g == pytest.approx(DUG_G, rel=0.02)
    assert tm.flags & OvenFlags.SAMPLE_LOADED
    assert sim.oven.physics.water_in_g == pytest.approx(DUG_G * (5.6 + 0.15) / 100)
    assert sim.ground_g == 0.0


@pytest.mark.req("SIM-16")
@pytest.mark.parametrize("target", [DumpTarget.OVEN, DumpTarget.GROUND])
async def test_sim_oven_board_dump_at_a_closed_lid_or_the_ground_is_lost(
    sim: SimBoards, target: DumpTarget
) -> None:
    if target is DumpTarget.GROUND:
        await open_lid(sim)  # open or not, the ground is the ground
    await dig_and_dump(sim, target)
    assert sim.ground_g == pytest.approx(DUG_G)
    assert sim.oven.physics.sample_mass_g == 0.0


async def test_sim_oven_board_ice_content_is_the_simulator_s_setting() -> None:
    async with SimBoards(tcp=True, clock=ManualClock(), host_timeout_s=None, ice_wt_pct=10) as sim:
        await open_lid(sim)
        await dig_and_dump(sim, DumpTarget.OVEN)
        assert sim.oven.physics.water_in_g == pytest.approx(DUG_G * (10 + 0.15) / 100)


@pytest.mark.req("SIM-16")
async def test_sim_oven_board_pump_fills_the_elec_reservoir(sim: SimBoards) -> None:
    assert isinstance(sim.clock, ManualClock)
    before = sim.elec.cell.water_g
    liquid = await water_on_trap(sim.oven, sim.clock)
    acked(request(sim.oven, "TRANSFER", TransferCommand(1.0)))
    await sim.clock.advance(1.0 / PUMP_FLOW_G_S + 0.5)
    assert liquid > 1.0
    assert sim.elec.cell.water_g == pytest.approx(before + 1.0, abs=1e-6)
    assert oven_tm(sim.oven).water_transferred_g == pytest.approx(1.0, abs=1e-6)


@pytest.mark.req("SIM-16")
async def test_sim_oven_board_heat_cycle_turns_dug_regolith_into_cell_water(
    sim: SimBoards,
) -> None:
    """Dig, dump into the oven, seal, freeze the vapour out, melt it, pump it to the cell."""
    clock, oven = sim.clock, sim.oven
    assert isinstance(clock, ManualClock)
    acked(request(oven, "SET_TRAP", TrapCommand(1, -60.0)))
    await open_lid(sim)
    await homed(sim.scoop, clock)
    acked(request(sim.scoop, "DIG", Dig(13.0)))  # 37.7 g
    await clock.advance(10.0)
    acked(request(sim.scoop, "DUMP", DumpCommand(DumpTarget.OVEN)))
    while not oven_tm(oven).flags & OvenFlags.SAMPLE_LOADED:
        await clock.advance(0.1)
    acked(request(oven, "SET_LID", LidCommand(0)))  # at once: the ice sublimes to vacuum
    await clock.advance(2.5)
    sealed_in = oven.physics.water_in_g - oven.physics.lost_g  # what the sealed oven holds
    assert sealed_in > 1.0  # of 2.16 g (5.6 % ice and 0.15 % bound water)
    acked(request(oven, "HEAT", HeatCommand(120.0, 30.0, 150.0)))
    for _ in range(30):
        await clock.advance(10.0)
        assert oven_tm(oven).state is not OvenState.FAULT
    tm = oven_tm(oven)
    assert tm.state is OvenState.HOLDING
    assert tm.sample_temp_c == pytest.approx(120.0, abs=2.0)
    assert tm.water_collected_g > 0.85 * sealed_in  # the trap catches 90 % of what it sees
    acked(request(oven, "HEATER_OFF"))
    acked(request(oven, "SET_TRAP", TrapCommand(1, 10.0)))
    await clock.advance(60.0)
    water_before = sim.elec.cell.water_g
    acked(request(oven, "TRANSFER", TransferCommand(100.0)))
    await clock.advance(tm.water_collected_g / PUMP_FLOW_G_S + 5.0)
    tm = oven_tm(oven)
    assert tm.state is OvenState.IDLE
    assert tm.water_transferred_g > 0.8 * sealed_in
    assert sim.elec.cell.water_g - water_before == pytest.approx(tm.water_transferred_g, rel=1e-5)


async def test_sim_oven_board_answers_the_hal_driver_on_its_own_pty() -> None:
    """The SIL oven: OvenDriver over a real pty, every command, an INTERLOCK as DeviceNack."""
    clock = ManualClock()
    async with (
        SimBoards(clock=clock, host_timeout_s=None) as sim,
        SerialLink(url=sim.urls["oven"], timeout_s=0.1, retries=5) as link,
    ):
        oven = OvenDriver(link)
        assert (await oven.info()).board.name == "OVEN"
        with pytest.raises(DeviceNack, match="INTERLOCK") as refusal:
            await oven.heat(setpoint_c=100.0, ramp_c_per_min=10.0, power_limit_w=50.0)
        assert refusal.value.code == NackCode.INTERLOCK
        load(sim.oven)
        await oven.set_trap(enabled=True, setpoint_c=-60.0)
        await oven.heat(setpoint_c=60.0, ramp_c_per_min=60.0, power_limit_w=100.0)
        await oven.hold()
        assert (await oven.get_status()).state is OvenState.HOLDING
        await clock.advance(60.0)
        await oven.heater_off()
        await oven.set_trap(enabled=True, setpoint_c=10.0)
        await clock.advance(30.0)
        await oven.transfer(water_g=0.5)
        assert (await oven.get_status()).flags & OvenFlags.PUMP_ON
        await clock.advance(10.0)
        await oven.eject()
        await oven.set_lid(open=True)
        tm = await oven.get_status()
        assert tm.state is OvenState.EJECTING
        assert tm.flags & OvenFlags.LID_MOVING
        assert tm.water_transferred_g == pytest.approx(0.5, abs=1e-6)
        await oven.stop()


# -- any sequence of commands, time and faults ---------------------------------------------

_COMMANDS = st.one_of(
    st.tuples(st.just("SET_LID"), st.builds(LidCommand, st.integers(0, 1))),
    st.tuples(
        st.just("HEAT"),
        st.builds(
            HeatCommand,
            st.floats(-50.0, 450.0),
            st.floats(0.5, 60.0),
            st.floats(1.0, 200.0),
        ),
    ),
    st.tuples(st.sampled_from(["HOLD", "HEATER_OFF", "EJECT", "STOP", "GET_STATUS"]), st.none()),
    st.tuples(
        st.just("SET_TRAP"), st.builds(TrapCommand, st.integers(0, 1), st.floats(-150.0, 40.0))
    ),
    st.tuples(st.just("TRANSFER"), st.builds(TransferCommand, st.floats(0.5, 100.0))),
)
_ACTIONS = st.one_of(
    st.tuples(st.just("request"), _COMMANDS),
    st.tuples(st.just("wait"), st.floats(0.01, 2.0)),
    st.tuples(st.just("load"), st.floats(0.5, 5.0)),
    st.tuples(st.just("fault"), st.sampled_from(["stuck", "stall", "open", "hot", "clear"])),
)


def _check_invariants(oven: OvenFirmware, stuck: bool) -> None:
    tm = oven.telemetry()
    lid = tm.flags & LID
    assert lid in (OvenFlags(0), OvenFlags.LID_SEALED, OvenFlags.LID_OPEN, OvenFlags.LID_MOVING)
    assert (tm.state is OvenState.FAULT) == bool(tm.flags & FAULTS)
    heater_on = bool(tm.flags & OvenFlags.HEATER_ON)
    if tm.state in (OvenState.HEATING, OvenState.HOLDING):
        assert heater_on
    if heater_on:
        assert tm.state in (OvenState.HEATING, OvenState.HOLDING, OvenState.TRANSFERRING)
        assert tm.heater_power_w <= (HEATER_RATED_W if stuck else oven.heater.limit_w)
    else:
        assert tm.heater_power_w == 0.0
    assert (tm.state is OvenState.TRANSFERRING) == (
        bool(tm.flags & OvenFlags.PUMP_ON) and tm.state is not OvenState.EJECTING
    ) or tm.state is OvenState.FAULT
    if tm.state is OvenState.FAULT:
        assert not tm.flags & (OvenFlags.HEATER_ON | OvenFlags.PUMP_ON)


@settings(max_examples=150, deadline=None)
@given(actions=st.lists(_ACTIONS, max_size=15))
def test_sim_oven_board_any_sequence_keeps_its_state_and_flags_consistent(
    actions: list[tuple[str, object]],
) -> None:
    clock = ManualClock()
    oven = OvenFirmware(
        clock=clock, boot_store=BootStore("oven"), rng=random.Random(0), host_timeout_s=None
    )
    oven.start()
    for kind, what in actions:
        if kind == "request":
            assert isinstance(what, tuple)
            reply = request(oven, what[0], what[1])
            assert reply.type in (MsgType.ACK, MsgType.NACK)
        elif kind == "wait":
            assert isinstance(what, float)
            clock.step_to(clock.now() + what)
        elif kind == "load":
            assert isinstance(what, float)
            load(oven, what)
        elif what == "clear":
            oven.heater_stuck = oven.pump.stalled = False
            oven.sensors.clear()
        else:
            oven.heater_stuck |= what == "stuck"
            oven.pump.stalled |= what == "stall"
            if what == "open":
                oven.sensors.open.add("trap_temp")
            if what == "hot":
                oven.sensors.drift["wall_temp"] = 600.0
        _check_invariants(oven, oven.heater_stuck)
