"""Gas crossover through the membrane and the Faradaic efficiency it leaves.

Per cm2 of cell, with the electrodes' partial pressures ``p_H2``, ``p_O2`` (bar, from
:func:`sim.pem_model.partial_pressures_bar`) and membrane thickness ``L`` (cm)::

    n_H2 = (k_H2 p_H2 + k_dp (p_H2 - p_O2)) / L x f(T)       mol/(s cm2), to the anode
    n_O2 = k_O2 p_O2 / L x f(T)                               mol/(s cm2), to the cathode
    f(T) = exp(-Ea / R (1/T - 1/T_ref))

as Tjarks's model in SimSES (``pem_analytic.PemMembraneModel``: diffusion plus a
pressure-driven H2 term; ``Ea`` = 0 there). Crossed gas recombines on the other electrode's
catalyst: each H2 that crosses is lost with half an O2 (and makes a water), each O2 that
crosses takes two H2 (and makes two waters). So, per cell::

    H2 out    = I / 2F - n_H2 - 2 n_O2 = eta_F I / 2F
    O2 out    = H2 out / 2
    water in  = H2 out                 (mol)

with the Faradaic efficiency ``eta_F = 1 - 2F (n_H2 + 2 n_O2) / j``. Crossover is nearly
independent of current while production is proportional to it, so ``eta_F`` falls at low
current density. The H2 balance is SimSES's (``PemFluidModel.get_h2_net_cathode``); SimSES's
O2 and water balances do not count the H2 that recombines at the anode, these do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.pem_model import partial_pressures_bar
from sim.pem_params import FARADAY, GAS_CONSTANT, KELVIN, PemParams


@dataclass(frozen=True, slots=True)
class Crossover:
    """Gas crossing the membrane, mol/(s cm2)."""

    h2_mol_s_cm2: float
    o2_mol_s_cm2: float

    @property
    def h2_lost_mol_s_cm2(self) -> float:
        """H2 lost to crossover and recombination."""
        return self.h2_mol_s_cm2 + 2.0 * self.o2_mol_s_cm2


def crossover(
    p: PemParams, j: float, t_c: float, cathode_bar: float = 1.0, anode_bar: float = 1.0
) -> Crossover:
    """Gas crossing the membrane at ``j`` A/cm2, ``t_c`` degC and the electrode pressures."""
    c = p.crossover
    p_h2, p_o2 = partial_pressures_bar(p, j, t_c, cathode_bar, anode_bar)
    inverse = 1.0 / (t_c + KELVIN) - 1.0 / (c.reference_c + KELVIN)
    factor = math.exp(-c.activation_energy_j_mol / GAS_CONSTANT * inverse)
    per_cm = factor / p.membrane.thickness_cm
    h2 = c.h2_permeability_mol_cm_s_bar * p_h2 + c.h2_pressure_driven_mol_cm_s_bar * (p_h2 - p_o2)
    return Crossover(
        h2_mol_s_cm2=max(0.0, h2 * per_cm),
        o2_mol_s_cm2=c.o2_permeability_mol_cm_s_bar * p_o2 * per_cm,
    )


def faradaic_efficiency(
    p: PemParams, j: float, t_c: float, cathode_bar: float = 1.0, anode_bar: float = 1.0
) -> float:
    """Fraction of the current that ends as H2 leaving the cathode (0 at no current)."""
    if j <= 0.0:
        return 0.0
    lost = crossover(p, j, t_c, cathode_bar, anode_bar).h2_lost_mol_s_cm2
    return max(0.0, 1.0 - lost * 2.0 * FARADAY / j)
