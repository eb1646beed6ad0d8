"""PEM cell voltage and its parts, from a parameter set (:mod:`sim.pem_params`).

At current density ``j`` (A/cm2), cell temperature ``t`` (degC) and absolute pressures
``p_cathode``, ``p_anode`` (bar) of the gas leaving the electrodes::

    p_sat    = 10 ** (sum b_k t^k)                                          bar
    p_H2     = p_cathode - p_sat + rise_c j,   p_O2 = p_anode - p_sat + rise_a j
    E        = E_rev(T) + R T / (2F) ln(p_H2 sqrt(p_O2))      (1 bar reference)
    eta_act  = sum over electrodes b(T) asinh(j / (2 i0(T)))
    sigma    = (0.005139 lambda - 0.00326) exp(1268 (1/303 - 1/T))          S/cm
    eta_ohm  = j (R_el + L / sigma)
    eta_mt   = -B ln(1 - j / j_lim)                    (only if the set has one)
    V        = E + eta_act + eta_ohm + eta_mt

``sigma`` is Springer, Zawodzinski & Gottesfeld, J. Electrochem. Soc. 138 (1991) 2334. This
is the structure of Tjarks's model in SimSES (``pem_analytic.PemElectricalModel``), whose
Tafel term ``b ln(j / i0)`` the ``asinh`` form equals for ``j >> i0`` (about 1e-7 A/cm2 there)
while staying finite at zero current. A partial pressure never goes below ``MIN_PARTIAL_BAR``
(water vapour alone near boiling would make the logarithm undefined).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.pem_params import FARADAY, GAS_CONSTANT, KELVIN, PemParams

MIN_PARTIAL_BAR = 1e-3
#: Molar mass of H2, g/mol (2 x 1.00794).
H2_MOLAR_MASS = 2.01588


@dataclass(frozen=True, slots=True)
class VoltageParts:
    """The cell voltage's parts at one operating point, V."""

    reversible_v: float
    activation_v: float
    ohmic_v: float
    mass_transport_v: float

    @property
    def cell_voltage_v(self) -> float:
        return self.reversible_v + self.activation_v + self.ohmic_v + self.mass_transport_v


def partial_pressures_bar(
    p: PemParams, j: float, t_c: float, cathode_bar: float = 1.0, anode_bar: float = 1.0
) -> tuple[float, float]:
    """H2 and O2 partial pressures at the electrodes, bar."""
    p_sat = p.pressure.vapour_bar(t_c)
    p_h2 = cathode_bar - p_sat + p.pressure.cathode_rise_bar_cm2_a * j
    p_o2 = anode_bar - p_sat + p.pressure.anode_rise_bar_cm2_a * j
    return max(p_h2, MIN_PARTIAL_BAR), max(p_o2, MIN_PARTIAL_BAR)


def nernst_voltage(
    p: PemParams, j: float, t_c: float, cathode_bar: float = 1.0, anode_bar: float = 1.0
) -> float:
    """Reversible voltage at the electrodes' gas partial pressures, V."""
    p_h2, p_o2 = partial_pressures_bar(p, j, t_c, cathode_bar, anode_bar)
    t_k = t_c + KELVIN
    return p.reversible.volts(t_c) + GAS_CONSTANT * t_k / (2 * FARADAY) * math.log(
        p_h2 * math.sqrt(p_o2)
    )


def activation_voltage(p: PemParams, j: float, t_c: float) -> float:
    """Activation overpotential of both electrodes, V."""
    t_kin = p.kinetics.clamp_c(t_c)
    total = 0.0
    for electrode in (p.kinetics.anode, p.kinetics.cathode):
        if electrode is not None:
            i0 = electrode.i0_a_cm2(t_kin)
            total += electrode.slope_v(t_kin) * math.asinh(j / (2 * i0))
    return total


def membrane_conductivity(t_c: float, water_content: float) -> float:
    """Springer et al. 1991 conductivity of a Nafion membrane, S/cm."""
    arrhenius = math.exp(1268.0 * (1.0 / 303.0 - 1.0 / (t_c + KELVIN)))
    return (0.005139 * water_content - 0.00326) * arrhenius


def area_resistance(p: PemParams, t_c: float) -> float:
    """Membrane plus electronic area resistance, ohm cm2."""
    m = p.membrane
    return m.electronic_resistance_ohm_cm2 + m.thickness_cm / membrane_conductivity(
        t_c, m.water_content
    )


def mass_transport_voltage(p: PemParams, j: float) -> float:
    """Mass-transport overpotential, V (infinite at and beyond the limiting current)."""
    mt = p.mass_transport
    if mt is None or j <= 0.0:
        return 0.0
    if j >= mt.limiting_current_a_cm2:
        return math.inf
    return -mt.coefficient_v * math.log(1.0 - j / mt.limiting_current_a_cm2)


def voltage_parts(
    p: PemParams, j: float, t_c: float, cathode_bar: float = 1.0, anode_bar: float = 1.0
) -> VoltageParts:
    """One cell's voltage and its parts at ``j`` A/cm2, ``t_c`` degC and the pressures."""
    return VoltageParts(
        reversible_v=nernst_voltage(p, j, t_c, cathode_bar, anode_bar),
        activation_v=activation_voltage(p, j, t_c),
        ohmic_v=j * area_resistance(p, t_c),
        mass_transport_v=mass_transport_voltage(p, j),
    )


def cell_voltage(
    p: PemParams, j: float, t_c: float, cathode_bar: float = 1.0, anode_bar: float = 1.0
) -> float:
    """One cell's voltage at ``j`` A/cm2, V."""
    return voltage_parts(p, j, t_c, cathode_bar, anode_bar).cell_voltage_v


def h2_mg_per_h(p: PemParams, current_a: float, faradaic_efficiency: float) -> float:
    """Hydrogen the whole stack makes at ``current_a`` (Faraday's law times the efficiency)."""
    mol_s = faradaic_efficiency * p.stack.cells * current_a / (2 * FARADAY)
    return mol_s * H2_MOLAR_MASS * 3600.0 * 1000.0
