"""Lumped thermal model of the PEM stack: one heat capacity, one loss to the surroundings.

::

    C dT/dt = Q - k (T - T_amb)
    Q       = cells x I x V_cell - HHV x n_H2 + P_heater                W

The electrical power in, less the higher heating value of the hydrogen that leaves
(``HHV`` = 285.83 kJ/mol, the standard enthalpy of formation of liquid water at 25 degC,
CODATA Key Values for Thermodynamics, Cox, Wagman & Medvedev 1989), is heat: the
overpotentials' and also the recombination of crossed-over gas. Per cell that is
``I (V_cell - eta_F x 1.481 V)``, the thermoneutral voltage ``HHV / 2F`` being 1.481 V, so a
cell run above it warms and its voltage falls as its kinetics and membrane speed up. ``C``,
``k`` and ``T_amb`` are the parameter set's ``[thermal]`` table.

Over a step ``dt`` with ``Q`` held, the equation is solved exactly::

    T(t + dt) = T_ss + (T(t) - T_ss) exp(-k dt / C),   T_ss = T_amb + Q / k

so the model is stable for any step.
"""

from __future__ import annotations

import math

from sim.pem_params import KELVIN, Thermal

HHV_J_MOL = 285830.0


def stack_heat_w(cells: int, current_a: float, cell_voltage_v: float, h2_mol_s: float) -> float:
    """Heat the stack makes: electrical power in less the HHV of the H2 out, W."""
    return cells * current_a * cell_voltage_v - HHV_J_MOL * h2_mol_s


def step_temperature(p: Thermal, temp_k: float, heat_w: float, dt: float) -> float:
    """The stack temperature ``dt`` seconds on, with ``heat_w`` going in meanwhile, K."""
    if p.loss_w_k == 0.0:
        return temp_k + heat_w * dt / p.heat_capacity_j_k
    steady_k = p.ambient_c + KELVIN + heat_w / p.loss_w_k
    return steady_k + (temp_k - steady_k) * math.exp(-p.loss_w_k * dt / p.heat_capacity_j_k)
