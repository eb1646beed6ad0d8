"""Gas crossover and the Faradaic efficiency it leaves, alone and in the simulated cell."""

from __future__ import annotations

import pytest

from sim.electrolysis import WATER_MOLAR_MASS, CellParams, ElectrolysisCell
from sim.pem_crossover import crossover, faradaic_efficiency
from sim.pem_params import FARADAY, shipped_params
from tests.test_pem_model import reference_rows

TJARKS = shipped_params("tjarks2017")


@pytest.mark.req("SIM-07")
def test_pem_crossover_efficiency_matches_simses_at_30_60_80_c() -> None:
    for row in reference_rows():
        ours = faradaic_efficiency(TJARKS, row["current_density_a_cm2"], row["temperature_c"])
        assert ours == pytest.approx(row["faradaic_efficiency"], abs=1e-5), row


@pytest.mark.req("SIM-07")
def test_pem_crossover_efficiency_falls_at_low_current_density() -> None:
    effs = [faradaic_efficiency(TJARKS, j, 60.0) for j in (0.01, 0.05, 0.5, 2.0)]
    assert effs == sorted(effs)
    assert effs[0] < 0.95 < 0.98 < effs[1] < 0.99 < effs[2] < effs[3] < 1.0
    assert faradaic_efficiency(TJARKS, 0.0, 60.0) == 0.0


def test_pem_crossover_grows_with_gas_pressure_and_shrinks_with_membrane_thickness() -> None:
    at_1_bar = faradaic_efficiency(TJARKS, 0.1, 60.0)
    assert faradaic_efficiency(TJARKS, 0.1, 60.0, cathode_bar=4.0, anode_bar=4.0) < at_1_bar
    membrane = TJARKS.membrane.model_copy(update={"thickness_cm": 0.04})
    thick = TJARKS.model_copy(update={"membrane": membrane})
    lost = crossover(TJARKS, 0.1, 60.0).h2_lost_mol_s_cm2
    assert crossover(thick, 0.1, 60.0).h2_lost_mol_s_cm2 == pytest.approx(lost / 2)


def test_pem_crossover_follows_an_activation_energy_when_the_set_has_one() -> None:
    warm = TJARKS.crossover.model_copy(update={"activation_energy_j_mol": 20e3})
    params = TJARKS.model_copy(update={"crossover": warm})
    # at the reference temperature nothing changes; below it less gas crosses
    assert crossover(params, 0.5, 80.0) == crossover(TJARKS, 0.5, 80.0)
    cold, ref = crossover(params, 0.5, 30.0), crossover(TJARKS, 0.5, 30.0)
    assert cold.o2_mol_s_cm2 < 0.5 * ref.o2_mol_s_cm2


def run_cell(current_a: float, seconds: float) -> tuple[ElectrolysisCell, float, float, float]:
    cell = ElectrolysisCell(CellParams(tank_l=1000.0))  # tanks so large their pressure holds
    h2, o2, water = cell.h2_mol, cell.o2_mol, cell.water_g
    cell.source_on, cell.setpoint_a = True, current_a
    for _ in range(round(seconds / 0.5)):
        cell.step(0.5)
    return cell, cell.h2_mol - h2, cell.o2_mol - o2, water - cell.water_g


@pytest.mark.req("SIM-07")
def test_pem_crossover_h2_o2_and_water_follow_the_efficiency_in_the_cell() -> None:
    for current_a in (0.25, 1.25, 10.0):  # 10, 50 and 400 mA/cm2 on 25 cm2
        cell, h2, o2, water = run_cell(current_a, 600.0)
        faraday_mol = current_a * 600.0 / (2 * FARADAY)
        assert h2 == pytest.approx(cell.faradaic_efficiency * faraday_mol, rel=2e-3)
        assert o2 == pytest.approx(h2 / 2, rel=1e-12)
        assert water == pytest.approx(h2 * WATER_MOLAR_MASS, rel=1e-9)
    low, high = run_cell(0.25, 10.0)[0], run_cell(10.0, 10.0)[0]
    assert low.faradaic_efficiency < 0.95 < 0.99 < high.faradaic_efficiency
