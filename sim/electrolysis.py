"""Physics of the PEM water-electrolysis stack with its gas tanks, water and heat.

A pure, deterministic model: set the inputs (``source_on``, ``setpoint_a``, ``heater_w``,
vents), call ``step(dt)``. The stack is a parameter set (:mod:`sim.pem_params`; Tjarks 2017
as in SimSES by default); each step:

* Voltage of each cell (:mod:`sim.pem_model`): Nernst at the tanks' pressures and the cell
  temperature, plus activation, ohmic and mass-transport overpotentials, at ``j = I / area``.
* Faradaic efficiency from gas crossover (:mod:`sim.pem_crossover`): each cell puts
  ``eta_F I / 2F`` mol/s of H2 into the H2 tank and half that of O2 into the O2 tank, and
  takes as many moles of water (18.015 g/mol) from the reservoir.
* Heat (:mod:`sim.pem_thermal`): ``cells I V - HHV n_H2 + heater`` into one heat capacity,
  losses to the surroundings, integrated exactly over the step.

Around the stack (``CellParams``, this payload's design values, typical rather than cited):
two 0.1 L tanks, ideal gas at the cell temperature, starting at 100 kPa absolute; an open
vent (or a leak) relaxes a tank toward 100 kPa with a first-order time constant (2 s for a
vent), outward only. The current source has a compliance of 3.0 V per cell: asked for more
current than that voltage drives (near a mass-transport limit), it delivers what the
compliance allows. A reservoir (200 g at start) that runs dry starves the cell: no current
flows and the source sits at its compliance. ``add_water`` refills it (the oven board's
transfer pump).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sim.pem_crossover import faradaic_efficiency
from sim.pem_model import VoltageParts, voltage_parts
from sim.pem_params import FARADAY, GAS_CONSTANT, KELVIN, PemParams, shipped_params
from sim.pem_thermal import stack_heat_w, step_temperature

__all__ = [
    "FARADAY",
    "GAS_CONSTANT",
    "KELVIN",
    "WATER_MOLAR_MASS",
    "CellParams",
    "ElectrolysisCell",
    "cell_voltage",
]

WATER_MOLAR_MASS = 18.015  # g/mol
KPA_PER_BAR = 100.0


@dataclass(frozen=True, slots=True)
class CellParams:
    """The stack (``pem``) and the board's plumbing around it."""

    pem: PemParams = field(default_factory=shipped_params)
    tank_l: float = 0.1
    ambient_kpa: float = 100.0
    vent_tau_s: float = 2.0
    water_start_g: float = 200.0
    compliance_v: float = 3.0  # per cell


def cell_voltage(current_a: float, temp_k: float, p: CellParams | None = None) -> float:
    """One cell's voltage at ``current_a`` through the stack and ``temp_k``, at 1 bar."""
    pem = (p or CellParams()).pem
    return voltage_parts(pem, current_a / pem.stack.area_cm2, temp_k - KELVIN).cell_voltage_v


class ElectrolysisCell:
    """The stack, its H2 and O2 tanks, water reservoir and thermal mass."""

    def __init__(self, params: CellParams | None = None) -> None:
        self.p = params or CellParams()
        self.temp_k = self.p.pem.thermal.ambient_c + KELVIN
        self.h2_mol = self._moles_at(self.p.ambient_kpa, self.temp_k)
        self.o2_mol = self._moles_at(self.p.ambient_kpa, self.temp_k)
        self.water_g = self.p.water_start_g
        # Inputs, set by the board.
        self.source_on = False
        self.setpoint_a = 0.0
        self.heater_w = 0.0
        self.h2_vent_open = False
        self.o2_vent_open = False
        # Faults: a leak time constant per tank (None = tight).
        self.h2_leak_tau_s: float | None = None
        self.o2_leak_tau_s: float | None = None
        # Outputs of the last step: current through the stack, voltage of one cell.
        self.current_a = 0.0
        self.voltage_v = 0.0
        self.parts: VoltageParts | None = None
        self.faradaic_efficiency = 0.0

    def _moles_at(self, kpa: float, temp_k: float) -> float:
        return kpa * 1e3 * self.p.tank_l * 1e-3 / (GAS_CONSTANT * temp_k)

    def _kpa_of(self, mol: float) -> float:
        return mol * GAS_CONSTANT * self.temp_k / (self.p.tank_l * 1e-3) / 1e3

    @property
    def h2_kpa(self) -> float:
        return self._kpa_of(self.h2_mol)

    @property
    def o2_kpa(self) -> float:
        return self._kpa_of(self.o2_mol)

    @property
    def temp_c(self) -> float:
        return self.temp_k - KELVIN

    @property
    def stack_voltage_v(self) -> float:
        return self.p.pem.stack.cells * self.voltage_v

    def add_water(self, grams: float) -> None:
        """Water pumped into the reservoir (the oven's transfer pump)."""
        if not (math.isfinite(grams) and grams >= 0.0):
            raise ValueError(f"grams: must be a finite number >= 0, got {grams!r}")
        self.water_g += grams

    def step(self, dt: float) -> None:
        """Advance the cell by ``dt`` seconds with the current inputs."""
        p, pem = self.p, self.p.pem
        self._electrical()
        h2_mol_s = self.faradaic_efficiency * pem.stack.cells * self.current_a / (2 * FARADAY)
        produced_h2 = min(h2_mol_s * dt, self.water_g / WATER_MOLAR_MASS)
        self.water_g = max(0.0, self.water_g - produced_h2 * WATER_MOLAR_MASS)
        self.h2_mol += produced_h2
        self.o2_mol += produced_h2 / 2
        ambient_mol = self._moles_at(p.ambient_kpa, self.temp_k)
        self.h2_mol = self._relax(
            self.h2_mol, ambient_mol, self._tau(self.h2_vent_open, self.h2_leak_tau_s), dt
        )
        self.o2_mol = self._relax(
            self.o2_mol, ambient_mol, self._tau(self.o2_vent_open, self.o2_leak_tau_s), dt
        )
        heat = stack_heat_w(pem.stack.cells, self.current_a, self.voltage_v, h2_mol_s)
        self.temp_k = step_temperature(pem.thermal, self.temp_k, heat + self.heater_w, dt)

    def _operating(self, current_a: float) -> tuple[VoltageParts, float]:
        pem = self.p.pem
        j = current_a / pem.stack.area_cm2
        pressures = (self.h2_kpa / KPA_PER_BAR, self.o2_kpa / KPA_PER_BAR)
        t_c = self.temp_c
        return (
            voltage_parts(pem, j, t_c, *pressures),
            faradaic_efficiency(pem, j, t_c, *pressures),
        )

    def _electrical(self) -> None:
        if not self.source_on or self.water_g <= 0.0:
            self.current_a, self.parts, self.faradaic_efficiency = 0.0, None, 0.0
            self.voltage_v = self.p.compliance_v if self.source_on else 0.0
            return
        current = self.setpoint_a
        parts, efficiency = self._operating(current)
        if parts.cell_voltage_v > self.p.compliance_v:
            current = self._compliance_current()
            parts, efficiency = self._operating(current)
        self.current_a, self.parts, self.faradaic_efficiency = current, parts, efficiency
        self.voltage_v = min(parts.cell_voltage_v, self.p.compliance_v)

    def _compliance_current(self) -> float:
        """The current at which a cell reaches the source's compliance voltage (bisection)."""
        low, high = 0.0, self.setpoint_a
        for _ in range(50):
            middle = (low + high) / 2
            if self._operating(middle)[0].cell_voltage_v > self.p.compliance_v:
                high = middle
            else:
                low = middle
        return low

    def _tau(self, vent_open: bool, leak_tau_s: float | None) -> float | None:
        taus = [t for t in (self.p.vent_tau_s if vent_open else None, leak_tau_s) if t]
        if not taus:
            return None
        # Two parallel paths to ambient add their conductances.
        return 1.0 / sum(1.0 / t for t in taus)

    @staticmethod
    def _relax(mol: float, target: float, tau: float | None, dt: float) -> float:
        if tau is None or mol <= target:
            return mol  # vents and leaks only let gas out; the tank never draws a vacuum
        return target + (mol - target) * math.exp(-dt / tau)
