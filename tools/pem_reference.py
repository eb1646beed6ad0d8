"""Write tests/data/pem_simses_reference.csv: SimSES's PEM polarization curve and Faradaic
efficiency, the reference the simulator's default cell parameters are checked against.

SimSES (TUM's open storage-system simulator, BSD-3, on PyPI as ``simses``) implements
G. Tjarks's PEM cell model (Tjarks, "PEM-Elektrolyse-Systeme zur Anwendung in Power-to-Gas
Anlagen", dissertation, RWTH Aachen, Schriften des Forschungszentrums Juelich, Energie &
Umwelt 359, 2017) in ``simses.technology.hydrogen.electrolyzer.stack.pem_analytic``. This
script calls those classes (``PemElectricalModel.get_cell_voltage`` and
``PemFluidModel.get_h2_net_cathode``) at 30, 60 and 80 C, 0 bar gauge on both sides, no
degradation, from 0.05 to 3 A/cm2.

SimSES is not a dependency of the project (it pulls pandas, matplotlib, plotly); run this
by hand in a throwaway virtual environment, not in CI::

    python3 -m venv /tmp/simses-venv
    /tmp/simses-venv/bin/pip install simses==1.3.12
    /tmp/simses-venv/bin/python tools/pem_reference.py  # rewrites the CSV

tests/test_pem_model.py compares the simulator with the CSV (+-5 mV).
"""

from __future__ import annotations

import csv
import sys
from importlib.metadata import version
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "pem_simses_reference.csv"
TEMPERATURES_C = (30.0, 60.0, 80.0)
CURRENT_DENSITIES = (0.05, *(round(0.1 * k, 1) for k in range(1, 31)))  # A/cm2


def main() -> int:
    try:
        from simses.commons.config.data.electrolyzer import ElectrolyzerDataConfig
        from simses.commons.state.technology.electrolyzer import ElectrolyzerState
        from simses.technology.hydrogen.electrolyzer.stack.pem_analytic import (
            electrical_model,
            fluid_model,
            membrane_model,
            parameters,
            pressure_model,
        )
    except ImportError:
        print("simses is not installed here; see this script's docstring", file=sys.stderr)
        return 1
    params = parameters.ParametersPemElectrolyzerMultiDimAnalytic(ElectrolyzerDataConfig())
    pressure = pressure_model.PemPressureModel(params)
    membrane = membrane_model.PemMembraneModel(pressure)
    electrical = electrical_model.PemElectricalModel(membrane, pressure, params)
    fluid = fluid_model.PemFluidModel(membrane)
    area = membrane.get_geometric_area_cell()
    faraday = 96485.3321  # simses.commons.constants.Hydrogen.FARADAY_CONST
    rows = []
    for temp_c in TEMPERATURES_C:
        state = ElectrolyzerState(1, 1)
        state.temperature = temp_c  # the pem_analytic models take degC
        state.pressure_cathode = 0.0  # bar gauge
        state.pressure_anode = 0.0
        state.resistance_increase = 0.0
        state.exchange_current_decrease = 1.0
        for j in CURRENT_DENSITIES:
            volts = electrical.get_cell_voltage(j, state)
            current = j * area
            efficiency = fluid.get_h2_net_cathode(state, current) / (current / (2 * faraday))
            rows.append((temp_c, j, float(volts), float(efficiency)))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", newline="") as out:
        out.write(
            f"# SimSES {version('simses')}, PemElectrolyzerMultiDimAnalytic (Tjarks 2017):"
            " PemElectricalModel.get_cell_voltage and\n"
            "# PemFluidModel.get_h2_net_cathode / (I / 2F); 0 bar gauge anode and cathode,"
            " no degradation.\n# Written by tools/pem_reference.py; do not edit.\n"
        )
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            ("temperature_c", "current_density_a_cm2", "cell_voltage_v", "faradaic_efficiency")
        )
        for temp_c, j, volts, efficiency in rows:
            writer.writerow((f"{temp_c:g}", f"{j:g}", f"{volts:.6f}", f"{efficiency:.6f}"))
    print(f"wrote {len(rows)} rows to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
