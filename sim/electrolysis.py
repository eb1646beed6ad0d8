"""Physics of one PEM water-electrolysis cell with its gas tanks, water and heat.

A pure, deterministic model: set the inputs (``current_a``, ``heater_w``, vents), call
``step(dt)``. Parameters and where they come from:

* Reversible voltage ``E_rev(T) = 1.229 - 0.9e-3 (T - 298.15)`` V (standard Gibbs energy of
  water splitting, linearised temperature coefficient; e.g. Carmo et al., "A comprehensive
  review on PEM water electrolysis", Int. J. Hydrogen Energy 38 (2013) 4901).
* Anode activation ``(R T / (alpha F)) asinh(i / (2 i0))`` with ``alpha = 0.7`` and
  ``i0 = 1e-6`` A/cm2 at 298 K: the high end of the 1e-7..1e-6 A/cm2 range for IrO2 anodes
  in Carmo et al. 2013. i0 follows Arrhenius with ``Ea = 52 kJ/mol``, a typical order for
  the oxygen evolution reaction, so the overpotential falls as the cell warms.
* Ohmic: Nafion 117 (183 um) membrane, conductivity from Springer, Zawodzinski &
  Gottesfeld, J. Electrochem. Soc. 138 (1991) 2334:
  ``sigma = (0.005139 lambda - 0.00326) exp(1268 (1/303 - 1/T))`` S/cm, ``lambda = 21``
  (liquid-equilibrated), plus 5 mOhm of contact and plate resistance.
* Faraday: H2 ``eta I / 2F`` mol/s, O2 ``eta I / 4F``, water ``eta I / 2F x 18.015`` g/s,
  Faradaic efficiency ``eta = 0.98`` (the lost 2 % crosses over and recombines).
* Tanks: 0.1 L each, ideal gas at cell temperature, starting at 100 kPa absolute; an open
  vent (or a leak) relaxes the pressure toward 100 kPa with a first-order time constant.
  At 2 A the H2 tank rises about 0.25 kPa/s.
* Heat: lumped capacity 250 J/K; in ``I (V - 1.48)`` (1.48 V thermoneutral) plus heater;
  out ``0.3 W/K x (T - 20 C)``.
* A reservoir that runs dry starves the cell: no current flows and the source sits at its
  3.0 V compliance limit. ``add_water`` refills it (the oven board's transfer pump).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FARADAY = 96485.33212  # C/mol
GAS_CONSTANT = 8.314462618  # J/(mol K)
WATER_MOLAR_MASS = 18.015  # g/mol
THERMONEUTRAL_V = 1.48
KELVIN = 273.15


@dataclass(frozen=True, slots=True)
class CellParams:
    """Cell, tank and thermal parameters (see the module docstring for sources)."""

    area_cm2: float = 25.0
    membrane_cm: float = 183e-4  # Nafion 117
    membrane_lambda: float = 21.0
    contact_ohm: float = 0.005
    alpha_anode: float = 0.7
    i0_a_cm2: float = 1e-6
    i0_activation_j_mol: float = 52e3
    faradaic_efficiency: float = 0.98
    tank_l: float = 0.1
    ambient_kpa: float = 100.0
    vent_tau_s: float = 2.0
    heat_capacity_j_k: float = 250.0
    loss_w_k: float = 0.3
    ambient_c: float = 20.0
    water_start_g: float = 200.0
    compliance_v: float = 3.0


def reversible_voltage(temp_k: float) -> float:
    """Reversible cell voltage at ``temp_k``."""
    return 1.229 - 0.9e-3 * (temp_k - 298.15)


def membrane_conductivity(temp_k: float, water_lambda: float) -> float:
    """Springer et al. 1991 membrane conductivity in S/cm."""
    return (0.005139 * water_lambda - 0.00326) * math.exp(1268.0 * (1.0 / 303.0 - 1.0 / temp_k))


def cell_voltage(current_a: float, temp_k: float, p: CellParams = CellParams()) -> float:
    """Cell voltage at ``current_a`` and ``temp_k``: reversible + activation + ohmic."""
    i = current_a / p.area_cm2
    i0 = p.i0_a_cm2 * math.exp(-p.i0_activation_j_mol / GAS_CONSTANT * (1 / temp_k - 1 / 298.15))
    activation = GAS_CONSTANT * temp_k / (p.alpha_anode * FARADAY) * math.asinh(i / (2 * i0))
    sigma = membrane_conductivity(temp_k, p.membrane_lambda)
    resistance = p.membrane_cm / (sigma * p.area_cm2) + p.contact_ohm
    return reversible_voltage(temp_k) + activation + current_a * resistance


class ElectrolysisCell:
    """The cell, its H2 and O2 tanks, water reservoir and thermal mass."""

    def __init__(self, params: CellParams | None = None) -> None:
        self.p = params or CellParams()
        self.temp_k = self.p.ambient_c + KELVIN
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
        # Outputs of the last step.
        self.current_a = 0.0
        self.voltage_v = 0.0

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

    def add_water(self, grams: float) -> None:
        """Water pumped into the reservoir (the oven's transfer pump)."""
        if not (math.isfinite(grams) and grams >= 0.0):
            raise ValueError(f"grams: must be a finite number >= 0, got {grams!r}")
        self.water_g += grams

    def step(self, dt: float) -> None:
        """Advance the cell by ``dt`` seconds with the current inputs."""
        p = self.p
        self._electrical()
        produced_h2 = p.faradaic_efficiency * self.current_a / (2 * FARADAY) * dt
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
        joule = self.current_a * (self.voltage_v - THERMONEUTRAL_V) if self.current_a > 0 else 0.0
        loss = p.loss_w_k * (self.temp_k - (p.ambient_c + KELVIN))
        self.temp_k += (joule + self.heater_w - loss) * dt / p.heat_capacity_j_k

    def _electrical(self) -> None:
        if not self.source_on:
            self.current_a = self.voltage_v = 0.0
        elif self.water_g <= 0.0:
            self.current_a, self.voltage_v = 0.0, self.p.compliance_v
        else:
            self.current_a = self.setpoint_a
            self.voltage_v = cell_voltage(self.current_a, self.temp_k, self.p)

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
