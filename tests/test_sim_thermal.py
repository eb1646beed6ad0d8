"""sim.regolith_thermal against the published equations and the papers' own table values."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim import regolith_thermal as rt

M = 0.01801528  # kg/mol
R = 8.314462618


def simpson(f: Callable[[float], float], a: float, b: float, n: int = 2000) -> float:
    h = (b - a) / n
    s = f(a) + f(b) + sum((4 if i % 2 else 2) * f(a + i * h) for i in range(1, n))
    return s * h / 3


def hayne(t: float) -> float:
    """Hayne et al. 2017 Eq. A6, Table A1, written out independently."""
    return -3.6125 + 2.7431 * t + 2.3616e-3 * t**2 - 1.2340e-5 * t**3 + 8.9093e-9 * t**4


def biele(t: float) -> float:
    """Biele et al. 2022 Eq. 24 (lunar regolith)."""
    x = math.log(t)
    return math.exp((3.0 * x**3 - 54.45 * x**2 + 306.8 * x - 376.6) / (x**2 - 16.81 * x + 87.32))


@pytest.mark.req("SIM-15")
@pytest.mark.parametrize(
    ("temp_k", "table_pa"),
    # Murphy & Koop 2005 Table C1, "values recommended for checking computer codes".
    [(150.0, 6.106e-6), (180.0, 0.0053975), (210.0, 0.70202), (240.0, 27.272), (273.16, 611.657)],
)
def test_sim_thermal_ice_vapour_pressure_matches_murphy_koop_table(
    temp_k: float, table_pa: float
) -> None:
    assert rt.p_ice(temp_k) == pytest.approx(table_pa, rel=1e-4)


@pytest.mark.req("SIM-15")
def test_sim_thermal_liquid_vapour_pressure_matches_the_tables() -> None:
    # Murphy & Koop Table C1 (liquid at 273.16 and 300 K); the normal boiling point
    # (101.325 kPa at 373.124 K on ITS-90, IAPWS).
    assert rt.p_liquid(273.16) == pytest.approx(611.657, rel=1e-5)
    assert rt.p_liquid(300.0) == pytest.approx(3536.8, rel=1e-4)
    assert rt.p_liquid(373.124) == pytest.approx(101325.0, rel=1e-4)
    assert rt.p_water(273.16) == rt.p_ice(273.16)  # ice up to the triple point
    assert rt.p_water(273.2) == rt.p_liquid(273.2)


@pytest.mark.req("SIM-15")
def test_sim_thermal_latent_heat_is_2834_kj_per_kg_at_the_triple_point() -> None:
    # Eq. 5 at 273.16 K: 51058.98 J/mol (by hand), / 18.01528 g/mol.
    assert rt.latent_sublimation(273.16) == pytest.approx(2.834e6, abs=0.5e3)
    assert rt.latent_sublimation(273.16) == pytest.approx(51058.98 / M, rel=1e-6)
    # Eq. 5 minus Eq. 9 (45051.0 J/mol): the heat of melting, 6008 J/mol.
    fusion = rt.LATENT_FUSION
    assert fusion == pytest.approx(6007.97 / M, rel=1e-5)


@pytest.mark.req("SIM-15")
def test_sim_thermal_ice_heat_capacity_is_murphy_koop_eq1() -> None:
    # By hand from Eq. 1, J/(mol K): 15.8398 at 100 K, 28.1876 at 200 K, 38.0874 at 273.16 K.
    for temp_k, molar in ((100.0, 15.8398), (200.0, 28.1876), (273.16, 38.0874)):
        assert rt.cp_ice(temp_k) == pytest.approx(molar / M, rel=1e-5)
    # within 1 % of IAPWS R10-06 at the triple point, 2096.78 J/(kg K)
    assert rt.cp_ice(273.16) == pytest.approx(2096.78, rel=0.01)


@pytest.mark.req("SIM-15")
@pytest.mark.parametrize(
    ("temp_k", "cp"), [(100.0, 282.864), (200.0, 555.006), (300.0, 770.847), (350.0, 850.386)]
)
def test_sim_thermal_regolith_heat_capacity_is_hayne_a6(temp_k: float, cp: float) -> None:
    assert rt.cp_regolith(temp_k) == pytest.approx(cp, rel=1e-5)
    assert rt.cp_regolith(temp_k) == pytest.approx(hayne(temp_k), rel=1e-12)


def test_sim_thermal_regolith_heat_capacity_above_350_k_follows_biele_and_stays_physical() -> None:
    scale = hayne(350.0) / biele(350.0)
    assert rt.cp_regolith(350.0 + 1e-9) == pytest.approx(rt.cp_regolith(350.0), rel=1e-6)
    for temp_k in (400.0, 500.0, 700.0, 1000.0):
        assert rt.cp_regolith(temp_k) == pytest.approx(scale * biele(temp_k), rel=1e-5)
    values = [rt.cp_regolith(t) for t in range(350, 1001, 10)]
    assert values == sorted(values)
    assert values[-1] < 1250.0  # Hayne's polynomial alone gives 1670 at 1000 K


@given(st.floats(20.0, 1000.0), st.floats(20.0, 1000.0))
def test_sim_thermal_enthalpy_is_the_integral_of_heat_capacity(a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    exact = simpson(rt.cp_regolith, lo, hi)
    assert rt.h_regolith(hi) - rt.h_regolith(lo) == pytest.approx(exact, rel=1e-5, abs=1e-3)
    top = min(hi, 273.16)
    lo_ice = min(lo, top)
    ice = simpson(rt.cp_ice, lo_ice, top)
    assert rt.h_ice(top) - rt.h_ice(lo_ice) == pytest.approx(ice, rel=1e-6, abs=1e-6)


@given(st.floats(110.0, 273.16))
def test_sim_thermal_vapour_pressure_obeys_clausius_clapeyron(temp_k: float) -> None:
    # Eq. 7 is Clapeyron integrated with Eq. 5's latent heat: d ln p / dT = L M / (R T^2).
    h = 1e-3
    slope = (math.log(rt.p_ice(temp_k + h)) - math.log(rt.p_ice(temp_k - h))) / (2 * h)
    expected = rt.latent_sublimation(temp_k) * M / (R * temp_k**2)
    assert slope == pytest.approx(expected, rel=5e-3)


@pytest.mark.req("SIM-15")
def test_sim_thermal_hertz_knudsen_flux_into_vacuum() -> None:
    # 200 K: p = 0.162691 Pa (Eq. 7), J = p sqrt(M / (2 pi R T)) = 2.13630e-4 kg/(m2 s).
    assert rt.p_ice(200.0) == pytest.approx(0.162691, rel=1e-5)
    assert rt.hertz_knudsen(200.0) == pytest.approx(2.13630e-4, rel=1e-5)
    assert rt.hertz_knudsen(200.0, sticking=0.5) == pytest.approx(1.06815e-4, rel=1e-5)
    # at saturation pressure and equal temperatures nothing net moves
    assert rt.hertz_knudsen(200.0, pressure_pa=rt.p_ice(200.0)) == pytest.approx(0.0, abs=1e-18)
    assert rt.hertz_knudsen(200.0, pressure_pa=1.0) < 0  # supersaturated: ice grows


def test_sim_thermal_bound_water_desorbs_where_redhead_puts_the_peak() -> None:
    assert rt.desorption_rate(1.0, 300.0) == pytest.approx(1.58759e-4, rel=1e-5)
    assert rt.desorption_heat(1.0) == pytest.approx(5.35575e6, rel=1e-5)
    # A 5 K/min ramp: the lowest bin (0.66 eV) peaks at -50 degC, the highest (1.74 eV) at
    # 300 degC, the window Reiss et al. 2019 saw adsorbed water leave.
    for energy, peak_k in ((rt.BOUND_E_MIN_EV, 223.15), (rt.BOUND_E_MAX_EV, 573.15)):
        mass, temp, dt, best = 1.0, 150.0, 0.05, (0.0, 0.0)
        while temp < 700.0:
            rate = rt.desorption_rate(energy, temp) * mass
            best = max(best, (rate, temp))
            mass -= rate * dt
            temp += 5 / 60 * dt
        assert best[1] == pytest.approx(peak_k, abs=1.5)


@pytest.mark.req("SIM-15")
def test_sim_thermal_extraction_heat_per_kg_of_water() -> None:
    ice = 0.056
    # 100 -> 250 K, all within the papers' ranges: Hayne integrated, Eq. 1 integrated, Eq. 5.
    regolith = (1 - ice) / ice * simpson(hayne, 100.0, 250.0)
    water = simpson(lambda t: rt.cp_ice(t), 100.0, 250.0)
    heat = rt.extraction_heat(5.6, 100.0, 250.0)
    assert heat.regolith_sensible == pytest.approx(regolith / 1e6, rel=1e-6)
    assert heat.water_sensible == pytest.approx(water / 1e6, rel=1e-6)
    assert heat.latent == pytest.approx(rt.latent_sublimation(250.0) / 1e6)
    assert heat.total == pytest.approx(4.278, abs=1e-3)
    # 100 -> 400 K: regolith by Hayne then scaled Biele; ice to 273.16 K, sublimes there, the
    # vapour at 1864 J/(kg K) to 400 K.
    scale = hayne(350.0) / biele(350.0)
    regolith = simpson(hayne, 100.0, 350.0) + simpson(lambda t: scale * biele(t), 350.0, 400.0)
    water = simpson(lambda t: rt.cp_ice(t), 100.0, 273.16) + 1864.0 * (400.0 - 273.16)
    total = ((1 - ice) / ice * regolith + water + 2.834204e6) / 1e6
    assert rt.extraction_heat(5.6, 100.0, 400.0).total == pytest.approx(total, rel=1e-4)
    with pytest.raises(ValueError, match="ice_wt_pct"):
        rt.extraction_heat(0.0, 100.0, 400.0)
