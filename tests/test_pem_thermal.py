"""The cell's lumped thermal model: exact steps, the energy balance, a long run warming."""

from __future__ import annotations

import pytest

from sim.electrolysis import KELVIN, CellParams, ElectrolysisCell
from sim.pem_params import FARADAY, shipped_params
from sim.pem_thermal import HHV_J_MOL, stack_heat_w, step_temperature

THERMAL = shipped_params("tjarks2017").thermal  # 250 J/K, 0.3 W/K, 20 degC


def test_pem_thermal_one_long_step_equals_many_short_ones() -> None:
    one = step_temperature(THERMAL, 300.0, 12.0, 3600.0)
    many = 300.0
    for _ in range(3600):
        many = step_temperature(THERMAL, many, 12.0, 1.0)
    assert one == pytest.approx(many, abs=1e-9)
    assert one == pytest.approx(20.0 + KELVIN + 12.0 / 0.3, abs=0.5)  # 4.3 time constants


def test_pem_thermal_a_cell_at_the_thermoneutral_voltage_makes_no_heat() -> None:
    volts = HHV_J_MOL / (2 * FARADAY)
    assert volts == pytest.approx(1.481, abs=1e-3)
    assert stack_heat_w(1, 10.0, volts, 10.0 / (2 * FARADAY)) == pytest.approx(0.0, abs=1e-9)
    # what crossover costs is heat too: 1 % lost at 2 V and 10 A
    assert stack_heat_w(1, 10.0, 2.0, 0.99 * 10.0 / (2 * FARADAY)) == pytest.approx(
        10.0 * (2.0 - 0.99 * volts)
    )


@pytest.mark.req("SIM-07")
def test_pem_thermal_a_long_run_warms_the_cell_and_its_voltage_falls() -> None:
    cell = ElectrolysisCell(CellParams(tank_l=1000.0))
    cell.source_on, cell.setpoint_a = True, 10.0  # 0.4 A/cm2
    cell.step(0.1)
    start_v, start_c = cell.voltage_v, cell.temp_c
    for _ in range(7200):
        cell.step(1.0)
    assert start_c == pytest.approx(20.0, abs=0.01)
    assert cell.temp_c > start_c + 8.0
    assert cell.voltage_v < start_v - 0.05
    # it settles where the heat made equals the loss to the surroundings
    heat = 10.0 * (cell.voltage_v - cell.faradaic_efficiency * HHV_J_MOL / (2 * FARADAY))
    assert cell.temp_c == pytest.approx(20.0 + heat / 0.3, abs=0.3)


def test_pem_thermal_an_idle_cell_cools_to_its_surroundings() -> None:
    cell = ElectrolysisCell()
    cell.temp_k = 70.0 + KELVIN
    for _ in range(100):
        cell.step(100.0)
    assert cell.temp_c == pytest.approx(20.0, abs=0.01)
