"""The simulator's physics tick: 10 ms of virtual time, longer on a clock sped up beyond 10x
so that a fast SIL run does not spend its CPU on ticks, with the same physics."""

from __future__ import annotations

import random

import pytest

from hal.commands import HeatCommand, TrapCommand
from sim.boot_store import BootStore
from sim.clock import MAX_PHYSICS_TICK_S, PHYSICS_TICK_S, ManualClock, physics_tick_s
from sim.oven_board import OvenFirmware


@pytest.mark.parametrize(
    ("scale", "tick"),
    [(1.0, PHYSICS_TICK_S), (10.0, PHYSICS_TICK_S), (20.0, 0.02), (100.0, 0.1), (1000.0, 0.25)],
)
def test_sim_tick_grows_with_the_clock_scale_up_to_its_bound(scale: float, tick: float) -> None:
    assert physics_tick_s(scale) == pytest.approx(tick)
    assert physics_tick_s(scale) <= MAX_PHYSICS_TICK_S


def _heating_oven(scale: float) -> tuple[OvenFirmware, ManualClock]:
    clock = ManualClock()
    clock.scale = scale  # what a RealClock at that scale reports; time still moves by hand
    oven = OvenFirmware(
        clock=clock, boot_store=BootStore("oven", None), rng=random.Random(3), host_timeout_s=None
    )
    oven.physics.load(regolith_g=100.0, ice_wt_pct=5.6)
    oven.start()
    oven.execute("SET_TRAP", TrapCommand(enable=1, setpoint_c=-60.0))
    oven.execute("HEAT", HeatCommand(setpoint_c=100.0, ramp_c_per_min=30.0, power_limit_w=100.0))
    return oven, clock


async def test_sim_tick_at_a_fast_scale_steps_ten_times_less_for_the_same_oven() -> None:
    fine, fine_clock = _heating_oven(1.0)
    coarse, coarse_clock = _heating_oven(100.0)
    await fine_clock.advance(120.0)
    await coarse_clock.advance(120.0)
    assert coarse.tick_s == pytest.approx(10 * fine.tick_s)
    assert fine._ticks == pytest.approx(12_000, abs=1)
    assert coarse._ticks == pytest.approx(1_200, abs=1)
    fine_p, coarse_p = fine.physics, coarse.physics
    assert coarse_p.sample_temp_k == pytest.approx(fine_p.sample_temp_k, abs=0.5)
    assert coarse_p.collected_g == pytest.approx(fine_p.collected_g, rel=0.02, abs=0.01)
    assert coarse_p.heater_energy_j == pytest.approx(fine_p.heater_energy_j, rel=0.01)
