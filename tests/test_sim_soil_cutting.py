"""Dig resistance (sim/soil_cutting.py): McKyes's wide-blade factors by hand and against
Rankine, force and current growing with depth and speed, the scoop board digging the
sequences' cuts without a stall trip and stalling on a deep fast one, and ``isru sim model
dig`` as a user runs it."""

from __future__ import annotations

import json
import math
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hal.commands import Dig
from hal.telemetry import ScoopFlags, ScoopState
from sim.clock import ManualClock
from sim.regolith import Soil
from sim.scoop_arm import (
    BOOM_LEVER_M,
    CURL_S,
    STALL_CURRENT_A,
    ScoopArm,
    sample_mass_g,
)
from sim.scoop_board import STALL_TRIP_A, ScoopFirmware
from sim.soil_cutting import (
    SCOOP_GEARMOTOR,
    Blade,
    cutting_force,
    factors,
    load_current_a,
)
from tests.firmware_requests import acked, homed, request, scoop_tm

SEQUENCES = Path(__file__).parents[1] / "sequences"
#: The cuts the shipped sequences make (demo.seq 30 mm, water.seq 60 mm).
SEQUENCE_DIGS = sorted(
    {
        float(depth)
        for name in ("demo.seq", "water.seq")
        for depth in re.findall(r"SCOOP\.DIG depth_mm=([\d.]+)", (SEQUENCES / name).read_text())
    }
)
STALLS = ScoopFlags.BOOM_STALL | ScoopFlags.SCOOP_STALL


def run(arm: ScoopArm, seconds: float, dt: float = 0.01) -> float:
    """Step the arm; return the highest motor current it drew."""
    peak = 0.0
    for _ in range(round(seconds / dt)):
        arm.step(dt)
        peak = max(peak, arm.boom.current_a, arm.scoop.current_a)
    return peak


@pytest.mark.req("SIM-08")
def test_sim_soil_cutting_factors_by_hand() -> None:
    # rake 45, tool friction 0, soil friction 30, failure plane 30 deg: cot 45 = 1,
    # cot 30 = 1.73205, cot 60 = 0.57735, D = cos 45 + sin 45 cot 60 = 1.115355
    f = factors(45.0, 0.0, 30.0, 30.0)
    assert f.n_gamma == pytest.approx((1 + 1.732051) / (2 * 1.115355), rel=1e-6)  # 1.22474
    assert f.n_c == pytest.approx((1 + 1.732051 * 0.577350) / 1.115355, rel=1e-6)  # 1.79315
    assert f.n_q == pytest.approx(2.732051 / 1.115355, rel=1e-6)  # 2.44949
    assert f.n_ca == pytest.approx((1 - 0.577350) / 1.115355, rel=1e-6)  # 0.37894
    # N_a = (tan 30 + cot 60) / ((1 + tan 30 cot 45) D) = 1.154701 / 1.759311 = 0.65634
    assert f.n_a == pytest.approx(1.154701 / (1.577350 * 1.115355), rel=1e-6)


@pytest.mark.req("SIM-08")
@pytest.mark.parametrize("phi", [30.0, 42.0, 54.0])
def test_sim_soil_cutting_smooth_vertical_blade_is_rankine_s_passive_pressure(phi: float) -> None:
    # Against a smooth vertical wall the least-force wedge is Rankine's passive one:
    # Kp = tan^2(45 + phi/2), N_gamma = Kp/2, N_c = 2 sqrt(Kp), N_q = Kp, plane at 45 - phi/2
    cut = cutting_force(0.1, 0.0, Blade(rake_deg=90.0, tool_friction_ratio=0.0), Soil(1500, 0, phi))
    kp = math.tan(math.radians(45.0 + phi / 2.0)) ** 2
    assert cut.factors.beta_deg == pytest.approx(45.0 - phi / 2.0, abs=1e-4)
    assert cut.factors.n_gamma == pytest.approx(kp / 2.0, rel=1e-9)
    assert cut.factors.n_c == pytest.approx(2.0 * math.sqrt(kp), rel=1e-9)
    assert cut.factors.n_q == pytest.approx(kp, rel=1e-9)


def test_sim_soil_cutting_force_is_its_terms_on_the_weakest_plane() -> None:
    cut = cutting_force(0.03, 0.005)  # the demo's cut, in the regolith above 30 mm
    f, soil = cut.factors, cut.soil
    # F = w (rho g d^2 N_g + c d N_c + rho v^2 d N_a), w = 0.05 m, g = 1.62 m/s2
    gravity = 0.05 * soil.density_kg_m3 * 1.62 * 0.03**2 * f.n_gamma
    cohesion = 0.05 * 520.0 * 0.03 * f.n_c
    inertia = 0.05 * soil.density_kg_m3 * 0.005**2 * 0.03 * f.n_a
    assert (cut.gravity_n, cut.cohesion_n, cut.inertia_n) == pytest.approx(
        (gravity, cohesion, inertia), rel=1e-12
    )
    assert cut.force_n == pytest.approx(gravity + cohesion + inertia, rel=1e-12)
    # inclined rake + tool friction = 45 + 2/3 x 42 = 73 deg from the vertical
    assert cut.draft_n == pytest.approx(cut.force_n * math.sin(math.radians(73.0)))
    assert cut.vertical_n == pytest.approx(cut.force_n * math.cos(math.radians(73.0)))
    # the wedge fails on the weakest plane: either side of it costs more
    for step in (-0.5, 0.5):
        other = factors(45.0, 28.0, 42.0, f.beta_deg + step)
        dearer = (
            0.05 * 0.03 * (soil.density_kg_m3 * 1.62 * 0.03 * other.n_gamma + 520.0 * other.n_c)
        )
        assert dearer > cut.gravity_n + cut.cohesion_n


def test_sim_soil_cutting_gearmotor_by_hand() -> None:
    # maxon RE 25 (23.4 mN m/A) on a GP 32 A (14976/175 = 85.577:1, 70 %): 1.40175 N m/A
    assert SCOOP_GEARMOTOR.nm_per_a == pytest.approx(0.0234 * 85.577143 * 0.70, rel=1e-6)
    assert load_current_a(1.40175) == pytest.approx(1.0, abs=1e-5)
    # the drive's 2.5 A limit gives the joint 3.5 N m, inside the gearhead's 4.5 N m rating
    assert STALL_CURRENT_A * SCOOP_GEARMOTOR.nm_per_a == pytest.approx(3.504, abs=1e-3)


@pytest.mark.req("SIM-08")
@given(
    st.floats(0.001, 0.6),
    st.floats(0.001, 0.6),
    st.floats(0.0, 2.0),
    st.floats(0.0, 2.0),
)
def test_sim_soil_cutting_deeper_or_faster_costs_more_force_and_current(
    d1: float, d2: float, v1: float, v2: float
) -> None:
    (shallow, deep), (slow, fast) = sorted((d1, d2)), sorted((v1, v2))

    def amps(depth: float, speed: float) -> float:
        return load_current_a(cutting_force(depth, speed).force_n * BOOM_LEVER_M)

    assert cutting_force(shallow, slow).force_n <= cutting_force(deep, slow).force_n + 1e-9
    assert cutting_force(deep, slow).force_n <= cutting_force(deep, fast).force_n + 1e-9
    assert amps(shallow, slow) <= amps(deep, fast) + 1e-9
    if deep > shallow + 1e-4:
        assert cutting_force(shallow, fast).force_n < cutting_force(deep, fast).force_n


@pytest.mark.parametrize(
    ("depth", "speed", "match"), [(-0.1, 0.0, "depth"), (0.1, math.nan, "speed")]
)
def test_sim_soil_cutting_refuses_a_cut_that_is_not_one(
    depth: float, speed: float, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        cutting_force(depth, speed)


def test_sim_soil_cutting_refuses_a_blade_with_no_wedge() -> None:
    with pytest.raises(ValueError, match="no soil wedge"):
        factors(45.0, 40.0, 50.0, 50.0)  # 185 deg


@pytest.mark.req("SIM-08")
@pytest.mark.parametrize("depth_mm", [*SEQUENCE_DIGS, 100.0])
async def test_sim_soil_cutting_sequence_digs_complete_without_a_stall_trip(
    scoop: ScoopFirmware, clock: ManualClock, depth_mm: float
) -> None:
    assert SEQUENCE_DIGS == [30.0, 60.0]
    await homed(scoop, clock)
    acked(request(scoop, "DIG", Dig(depth_mm)))
    peak = 0.0
    for _ in range(round((depth_mm / 5 + CURL_S) / 0.1) + 2):
        await clock.advance(0.1)
        peak = max(peak, scoop.arm.boom.current_a, scoop.arm.scoop.current_a)
    tm = scoop_tm(scoop)
    assert tm.state is ScoopState.IDLE
    assert not tm.flags & STALLS
    assert peak < STALL_TRIP_A  # 100 mm, the ICD's deepest: 1.87 A on the scoop's curl
    assert scoop.arm.sample_g == pytest.approx(sample_mass_g(depth_mm))


@pytest.mark.req("SIM-09")
async def test_sim_soil_cutting_deep_fast_dig_stalls_the_boom_and_trips_the_board(
    scoop: ScoopFirmware, clock: ManualClock
) -> None:
    await homed(scoop, clock)
    scoop.arm.dig(100.0, speed_mm_s=400.0)  # the deepest cut, the blade going in 80 times faster
    await clock.advance(1.0)
    tm = scoop_tm(scoop)
    assert tm.state is ScoopState.FAULT
    assert tm.flags & ScoopFlags.BOOM_STALL
    assert 0.0 < scoop.arm.tool_depth_mm < 100.0  # stopped in the ground
    assert scoop.arm.sample_g == 0.0  # nothing swept


def test_sim_soil_cutting_cut_deeper_than_the_icd_allows_stalls_at_the_drive_s_limit() -> None:
    arm = ScoopArm(random.Random(0), boom_deg=0.0, scoop_deg=0.0)
    arm.dig(150.0)
    assert run(arm, 40.0) == STALL_CURRENT_A
    assert arm.boom.blocked
    # stuck where 0.15 + 0.0125 A + F(z) x 0.2292 m / 1.40175 N m/A reaches 2.5 A: F = 14.3 N
    assert arm.tool_depth_mm == pytest.approx(136.6, abs=0.5)


def test_sim_soil_cutting_stop_in_the_curl_keeps_what_was_swept() -> None:
    arm = ScoopArm(random.Random(0), boom_deg=0.0, scoop_deg=0.0)
    arm.dig(60.0)
    run(arm, 60.0 / 5.0 + CURL_S / 2)
    arm.halt()
    assert arm.sample_g == pytest.approx(sample_mass_g(60.0) / 2, rel=0.01)  # 99.7 of 199.5 g


def isru(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "isru.cli", "sim", "model", "dig", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.req("SIM-08")
def test_sim_soil_cutting_cli_prints_the_force_and_the_predicted_current() -> None:
    result = isru("--depth-m", "0.03", "--width-m", "0.05", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["force_n"] == pytest.approx(cutting_force(0.03, 0.005).force_n, rel=1e-12)
    assert out["force_n"] == pytest.approx(2.214, abs=1e-3)
    # no-load 0.15 A + 1.25 deg/s x 0.01 A + F x 0.229183 m / 1.401754 N m/A
    expected = 0.15 + 0.0125 + out["force_n"] * 0.229183 / 1.401754
    assert out["current_a"] == pytest.approx(expected, rel=1e-5)
    assert (out["trips"], out["stalls"]) == (False, False)
    assert out["sample_mass_g"] == pytest.approx(92.301, abs=1e-3)
    deep = json.loads(isru("--depth-m", "0.15", "--json").stdout)
    assert (deep["trips"], deep["stalls"], deep["current_a"]) == (True, True, STALL_CURRENT_A)


def test_sim_soil_cutting_cli_prints_a_table_without_json() -> None:
    result = isru("--depth-m", "0.06", "--speed-m-s", "0.1")
    assert result.returncode == 0, result.stderr
    lines = dict(line.split() for line in result.stdout.splitlines())
    assert float(lines["force_n"]) == pytest.approx(cutting_force(0.06, 0.1).force_n, rel=1e-5)
    assert lines["trips"] == "no"


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--depth-m", "0"], "--depth-m"),
        (["--depth-m", "-0.1"], "--depth-m"),
        (["--depth-m", "0.7"], "--depth-m"),
        (["--depth-m", "deep"], "--depth-m"),
        (["--width-m", "0.05"], "--depth-m"),
        (["--depth-m", "0.03", "--width-m", "0"], "--width-m"),
        (["--depth-m", "0.03", "--speed-m-s", "nan"], "--speed-m-s"),
        (["--depth-m", "0.03", "--speed-m-s", "3"], "--speed-m-s"),
        (["--depth-m", "0.03", "--rake-deg", "0"], "--rake-deg"),
        (["--depth-m", "0.03", "--lever-m", "-1"], "--lever-m"),
    ],
)
def test_sim_soil_cutting_cli_bad_argument_exits_2_naming_the_flag(
    args: list[str], flag: str
) -> None:
    result = isru(*args, "--json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert flag in result.stderr and "Traceback" not in result.stderr
