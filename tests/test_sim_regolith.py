"""The regolith against depth (sim/regolith.py): Hayne et al. 2017's density profile and the
Lunar Sourcebook's cohesion and friction angle, by hand and as properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim import regolith
from sim.regolith import (
    SOURCEBOOK,
    cohesion,
    column_mass,
    density,
    friction_deg,
    mean_cohesion,
    mean_density,
    mean_friction_deg,
    soil_above,
)

DEPTHS = st.floats(0.0, 1.0, allow_nan=False)


@pytest.mark.req("SIM-08")
def test_sim_regolith_density_is_hayne_s_profile() -> None:
    # rho(z) = 1800 - 700 exp(-z / 0.07) kg/m3 (Eq. A2, Table A1)
    assert density(0.0) == pytest.approx(1100.0)
    assert density(0.07) == pytest.approx(1800.0 - 700.0 / math.e)  # 1542.48
    assert density(0.03) == pytest.approx(1800.0 - 700.0 * 0.651439, abs=1e-3)  # 1343.99
    assert density(1.0) == pytest.approx(1800.0, abs=1e-3)


@pytest.mark.req("SIM-08")
def test_sim_regolith_column_mass_of_the_demo_cut_by_hand() -> None:
    # 1800 x 0.03 - 700 x 0.07 x (1 - exp(-3/7)) = 54 - 49 x 0.348561 = 36.9205 kg/m2: the
    # demo's 30 mm cut over the bowl's 25 cm2 is 92.30 g (1.231 g/cm3 on average)
    assert column_mass(0.03) == pytest.approx(36.9205, abs=1e-4)
    assert mean_density(0.0, 0.03) == pytest.approx(1230.68, abs=0.01)
    # water.seq's 60 mm: 108 - 49 x (1 - exp(-6/7)) = 79.794 kg/m2, 199.5 g
    assert column_mass(0.06) == pytest.approx(79.7943, abs=1e-4)


@given(DEPTHS)
def test_sim_regolith_column_mass_is_the_integral_of_density(depth: float) -> None:
    n = 400  # Simpson's rule, even n
    h = depth / n
    simpson = density(0.0) + density(depth)
    simpson += sum((4 if i % 2 else 2) * density(i * h) for i in range(1, n))
    assert column_mass(depth) == pytest.approx(simpson * h / 3, rel=1e-8, abs=1e-9)


@pytest.mark.req("SIM-08")
@given(DEPTHS, DEPTHS)
def test_sim_regolith_deeper_is_denser_and_no_weaker(a: float, b: float) -> None:
    shallow, deep = sorted((a, b))
    assert density(shallow) <= density(deep)
    assert column_mass(shallow) <= column_mass(deep)
    above_shallow, above_deep = soil_above(shallow), soil_above(deep)
    assert above_shallow.density_kg_m3 <= above_deep.density_kg_m3 + 1e-9
    assert above_shallow.cohesion_pa <= above_deep.cohesion_pa + 1e-9
    assert above_shallow.friction_deg <= above_deep.friction_deg + 1e-9
    assert cohesion(shallow) <= cohesion(deep) and friction_deg(shallow) <= friction_deg(deep)
    if deep > shallow + 1e-6:
        assert density(shallow) < density(deep)


def test_sim_regolith_strength_layers_are_the_sourcebook_s_intervals() -> None:
    # 0-15 cm: 0.52 kPa, 42 deg; 15-30 cm: 2 x 0.90 - 0.52 = 1.28 kPa, 2 x 46 - 42 = 50 deg;
    # 30-60 cm and below: 3.0 kPa, 54 deg
    assert (cohesion(0.10), friction_deg(0.10)) == (pytest.approx(520.0), 42.0)
    assert (cohesion(0.20), friction_deg(0.20)) == (pytest.approx(1280.0), 50.0)
    assert (cohesion(0.45), friction_deg(0.45)) == (pytest.approx(3000.0), 54.0)
    assert cohesion(0.9) == pytest.approx(3000.0)
    # the rows the layers were made from come back
    for row in SOURCEBOOK[:3]:
        assert mean_cohesion(row.top_m, row.bottom_m) == pytest.approx(row.cohesion_kpa * 1e3)
        assert mean_friction_deg(row.top_m, row.bottom_m) == pytest.approx(row.friction_deg)
    # the 0-60 cm row is not self-consistent with the others: (0.90 + 3.0) / 2 = 1.95 kPa
    assert mean_cohesion(0.0, 0.6) == pytest.approx(1950.0)


def test_sim_regolith_hayne_profile_is_within_4_percent_of_the_sourcebook_densities() -> None:
    for row in SOURCEBOOK:
        ours = mean_density(row.top_m, row.bottom_m) / 1e3
        assert ours == pytest.approx(row.density_g_cm3, rel=0.04), row
    # the top 15 cm agree within the Sourcebook's +-0.05 g/cm3: 1.511 against 1.50
    assert mean_density(0.0, 0.15) / 1e3 == pytest.approx(1.50, abs=0.05)


def test_sim_regolith_the_surface_soil_is_the_top_layer() -> None:
    surface = soil_above(0.0)
    assert (surface.density_kg_m3, surface.cohesion_pa, surface.friction_deg) == (
        1100.0,
        520.0,
        42.0,
    )


@pytest.mark.parametrize("bad", [-0.01, math.nan, math.inf])
def test_sim_regolith_refuses_a_depth_that_is_not_one(bad: float) -> None:
    with pytest.raises(ValueError, match="depth"):
        density(bad)
    with pytest.raises(ValueError, match="depth"):
        column_mass(bad)
    with pytest.raises(ValueError, match="depth"):
        soil_above(bad)


def test_sim_regolith_mean_needs_a_layer_of_some_thickness() -> None:
    with pytest.raises(ValueError, match="below top"):
        mean_density(0.2, 0.1)
    with pytest.raises(ValueError, match="below top"):
        regolith.mean_cohesion(0.1, 0.1)
