"""The PEM cell voltage model against SimSES's implementation of Tjarks (2017)."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path

import pytest

from sim.electrolysis import CellParams, ElectrolysisCell
from sim.pem_model import (
    activation_voltage,
    cell_voltage,
    h2_mg_per_h,
    partial_pressures_bar,
    voltage_parts,
)
from sim.pem_params import MassTransport, PemParams, shipped_params

REFERENCE = Path(__file__).parent / "data" / "pem_simses_reference.csv"
TJARKS = shipped_params("tjarks2017")


def reference_rows() -> list[dict[str, float]]:
    """tests/data/pem_simses_reference.csv (written by tools/pem_reference.py)."""
    with REFERENCE.open(encoding="utf-8") as lines:
        data = csv.DictReader(line for line in lines if not line.startswith("#"))
        return [{key: float(value) for key, value in row.items()} for row in data]


def deviations_mv() -> dict[float, list[float]]:
    """Ours minus SimSES, mV, per temperature, from 0.1 to 3 A/cm2."""
    out: dict[float, list[float]] = defaultdict(list)
    for row in reference_rows():
        t_c, j = row["temperature_c"], row["current_density_a_cm2"]
        if j >= 0.1:
            out[t_c].append((cell_voltage(TJARKS, j, t_c) - row["cell_voltage_v"]) * 1e3)
    return out


@pytest.mark.req("SIM-07")
def test_pem_model_matches_simses_within_5_mv_at_30_60_80_c() -> None:
    found = deviations_mv()
    assert sorted(found) == [30.0, 60.0, 80.0]
    for t_c, mv in found.items():
        assert len(mv) == 30, t_c  # 0.1 .. 3.0 A/cm2
        assert max(abs(d) for d in mv) < 5.0, t_c


def test_pem_model_reference_covers_the_range_the_issue_asks() -> None:
    js = {row["current_density_a_cm2"] for row in reference_rows()}
    assert min(j for j in js if j >= 0.1) == pytest.approx(0.1)
    assert max(js) == pytest.approx(3.0)
    header = REFERENCE.read_text(encoding="utf-8").splitlines()[0]
    assert "SimSES 1.3.12" in header and "PemElectrolyzerMultiDimAnalytic" in header


@pytest.mark.req("SIM-07")
def test_pem_model_parts_add_up_and_vanish_at_zero_current() -> None:
    parts = voltage_parts(TJARKS, 1.0, 60.0)
    assert parts.cell_voltage_v == pytest.approx(
        parts.reversible_v + parts.activation_v + parts.ohmic_v + parts.mass_transport_v
    )
    assert parts.mass_transport_v == 0.0  # Tjarks's model has none
    idle = voltage_parts(TJARKS, 0.0, 60.0)
    assert (idle.activation_v, idle.ohmic_v) == (0.0, 0.0)


@pytest.mark.req("SIM-07")
def test_pem_model_reversible_voltage_is_1229_mv_at_25_c_and_falls_with_temperature() -> None:
    assert TJARKS.reversible.volts(25.0) == pytest.approx(1.229, abs=1e-3)
    assert TJARKS.reversible.volts(80.0) < TJARKS.reversible.volts(25.0) - 0.04


def test_pem_model_water_vapour_lowers_the_gas_partial_pressures() -> None:
    # Tjarks's fit of the vapour pressure is within 2 % of the steam tables (47.39 kPa at 80 C)
    p_sat = TJARKS.pressure.vapour_bar(80.0)
    assert p_sat == pytest.approx(0.4739, rel=0.02)
    p_h2, p_o2 = partial_pressures_bar(TJARKS, 0.0, 80.0)
    assert p_h2 == p_o2 == pytest.approx(1.0 - p_sat)
    p_h2, p_o2 = partial_pressures_bar(TJARKS, 1.0, 80.0)
    assert (p_h2, p_o2) == pytest.approx((1.0 - p_sat + 2.4, 1.0 - p_sat + 2.8))


def test_pem_model_higher_gas_pressure_raises_the_reversible_voltage() -> None:
    at_1_bar = voltage_parts(TJARKS, 0.5, 60.0).reversible_v
    at_4_bar = voltage_parts(TJARKS, 0.5, 60.0, cathode_bar=4.0, anode_bar=4.0).reversible_v
    # RT/2F ln(5.004/2.004 x sqrt(5.204/2.204)) at 333.15 K: the gas built up at 0.5 A/cm2
    # (1.2 and 1.4 bar) and the vapour (0.196 bar) make it less than ln(4^1.5)'s 29.9 mV
    assert at_4_bar - at_1_bar == pytest.approx(0.0193, abs=2e-4)


@pytest.mark.req("SIM-07")
def test_pem_model_voltage_rises_with_current_and_falls_with_temperature() -> None:
    volts = [cell_voltage(TJARKS, j, 60.0) for j in (0.05, 0.1, 0.5, 1.0, 2.0, 3.0)]
    assert volts == sorted(volts)
    assert cell_voltage(TJARKS, 2.0, 80.0) < cell_voltage(TJARKS, 2.0, 60.0)
    assert cell_voltage(TJARKS, 2.0, 60.0) < cell_voltage(TJARKS, 2.0, 30.0)


def test_pem_model_kinetics_are_held_outside_the_sets_temperature_range() -> None:
    assert activation_voltage(TJARKS, 0.5, 5.0) == activation_voltage(TJARKS, 0.5, 20.0)
    assert activation_voltage(TJARKS, 0.5, 95.0) == activation_voltage(TJARKS, 0.5, 90.0)


@pytest.mark.req("SIM-07")
def test_pem_model_faraday_gives_37_61_mg_h2_per_amp_hour() -> None:
    assert h2_mg_per_h(TJARKS, 1.0, 1.0) == pytest.approx(37.61, abs=0.005)
    assert h2_mg_per_h(TJARKS, 2.0, 0.5) == pytest.approx(37.61, abs=0.005)


def with_mass_transport(limit: float, coefficient: float) -> PemParams:
    mt = MassTransport(limiting_current_a_cm2=limit, coefficient_v=coefficient)
    return TJARKS.model_copy(update={"mass_transport": mt})


def test_pem_model_mass_transport_grows_toward_the_limiting_current() -> None:
    params = with_mass_transport(2.0, 0.05)
    assert voltage_parts(params, 1.0, 60.0).mass_transport_v == pytest.approx(0.05 * math.log(2))
    assert voltage_parts(params, 2.0, 60.0).mass_transport_v == math.inf
    assert voltage_parts(params, 0.0, 60.0).mass_transport_v == 0.0


def test_pem_model_source_at_its_compliance_delivers_the_current_it_can() -> None:
    cell = ElectrolysisCell(CellParams(pem=with_mass_transport(0.2, 0.1)))  # 5 A on 25 cm2
    cell.source_on, cell.setpoint_a = True, 8.0
    cell.step(0.01)
    assert 4.0 < cell.current_a < 5.0
    assert cell.voltage_v == pytest.approx(3.0)
    assert cell.parts is not None
    assert cell.parts.cell_voltage_v == pytest.approx(3.0, abs=1e-6)
    cell.setpoint_a = 2.0  # within reach again
    cell.step(0.01)
    assert (cell.current_a, cell.voltage_v < 2.0) == (2.0, True)
