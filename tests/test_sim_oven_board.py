"""The emulated oven board at handle() level, on a manual clock: lid, heater, cold trap, pump,
eject, their interlocks, the trips and faults, and the oven between the scoop and the elec
board (regolith in, water out)."""

from __future__ import annotations

import random

import pytest

from hal.commands import (
    HeatCommand,
    LidCommand,
    TransferCommand,
    TrapCommand,
)
from hal.message import NackCode
from hal.telemetry import OvenFlags, OvenState, OvenTelemetry
from sim import ManualClock
from sim.boot_store import BootStore
from sim.oven_board import HEATER_RATED_W, OvenFirmware
from sim.oven_control import PUMP_FLOW_G_S
from sim.oven_sensors import OPEN_CIRCUIT_READING
from tests.firmware_requests import Collector, acked, nack, oven_tm, request

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
