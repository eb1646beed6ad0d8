"""The oven's state: three thermal nodes that hold enthalpy, and the masses of water.

Part of ``sim.oven_physics`` (which documents the model and its sources). Each node keeps
its enthalpy as state; temperatures (and how much of a node's water is melted, the
enthalpy method at 273.16 K) are solved from it, so heat is never made or lost by the
integration, and ``_stored()`` recomputes the heat held from temperatures and masses alone.
Water enthalpies, on one reference (ice at 0 K): ice ``h_ice``, liquid ``h_liquid``,
vapour ``h_vapour``, bound water ``h_vapour - q`` (``q``: its desorption heat).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim import regolith_thermal as rt

if TYPE_CHECKING:
    from sim.oven_physics import OvenParams

Curve = Callable[[float], tuple[float, float]]
Temps = tuple[float, float, float]
Solved = tuple[float, float, float]
BINS = rt.BOUND_BINS
LATENT_TRIPLE = rt.H_VAPOUR_TRIPLE - rt.H_ICE_TRIPLE  # J/kg, sublimation at 273.16 K
DESORPTION_HEAT = tuple(rt.desorption_heat(e) for e in rt.BOUND_ENERGIES_EV)
T_MAX = 5000.0


def solve_temperature(
    target: float, h_of: Curve, lo: float, hi: float, guess: float
) -> tuple[float, float]:
    """Where the increasing ``h_of(t) -> (h, dh/dt)`` equals ``target``, and dh/dt there:
    Newton, kept inside a bracket that bisection falls back on."""
    t = min(max(guess, lo), hi)
    for _ in range(200):
        h, dh = h_of(t)
        err = h - target
        if err > 0:
            hi = t
        else:
            lo = t
        new = t - err / dh if dh > 0 else (lo + hi) / 2
        if not lo <= new <= hi:
            new = (lo + hi) / 2
        # Quadratic convergence (|h''| / 2h' < 0.01 /K here): after a step under 1e-4 K the
        # error is below 1e-10 K.
        if abs(new - t) <= 1e-4 or hi - lo <= 1e-12 * t:
            return new, dh
        t = new
    return t, dh


@dataclass(frozen=True, slots=True)
class EnergyLedger:
    """Energy since the oven was made, J: heater = sensible + latent change + losses."""

    heater_j: float
    sensible_change_j: float
    latent_change_j: float
    radiated_j: float  # wall to surroundings through the MLI
    conducted_j: float  # wall to the deck
    peltier_j: float  # pumped out of the trap (negative: put in)
    carried_out_j: float  # enthalpy of water lost or pumped and of ejected samples
    carried_in_j: float  # enthalpy of loaded regolith

    @property
    def losses_j(self) -> float:
        out = self.radiated_j + self.conducted_j + self.peltier_j + self.carried_out_j
        return out - self.carried_in_j

    @property
    def imbalance_j(self) -> float:
        return self.heater_j - self.sensible_change_j - self.latent_change_j - self.losses_j


class OvenNodes:
    """Masses (kg), node enthalpies (J) and temperatures (K) of the oven."""

    def __init__(self, params: OvenParams) -> None:
        self.p = p = params
        self.heater_w = 0.0  # electrical heater power, W (negative counts as 0)
        self.trap_w = 0.0  # heat the Peltier is asked to pump out of the trap, W
        self.lid_sealed = True  # open: vapour effuses out through the hopper aperture
        self.leak_tau_s: float | None = None  # fault: the sealed chamber leaks to vacuum
        self.regolith_kg = self.water_kg = self.liquid_kg = self.vapour_kg = 0.0
        self.bound_kg = [0.0] * BINS
        self._bound_q = 0.0  # sum of bound mass x desorption heat, J
        self.trap_water_kg = self.trap_liquid_kg = 0.0
        self.collected_kg = self.lost_kg = self.pumped_kg = self.water_in_kg = 0.0
        self.sample_temp_k = self.wall_temp_k = self.trap_temp_k = p.deck_k
        self._h = [p.crucible_j_k * p.deck_k, p.wall_j_k * p.deck_k, p.trap_j_k * p.deck_k]
        self._flows = dict.fromkeys(("heater", "rad", "cond", "peltier", "out", "in"), 0.0)
        self._settled = list(self._h)  # node enthalpies when temperatures were last solved
        self._cp = [p.crucible_j_k, p.wall_j_k, p.trap_j_k]  # their dH/dT then

    def _set_bound(self, masses: list[float]) -> None:
        self.bound_kg = masses
        self._bound_q = sum(m * q for m, q in zip(masses, DESORPTION_HEAT, strict=True))

    # -- node enthalpies and heat capacities --
    def _sample_base(self, t: float) -> tuple[float, float]:
        """The sample node without its pore water: crucible, regolith, bound water."""
        p, bound = self.p, sum(self.bound_kg)
        h = p.crucible_j_k * t + self.regolith_kg * rt.h_regolith(t)
        cp = p.crucible_j_k + self.regolith_kg * rt.cp_regolith(t)
        if bound > 0:
            hv, cv = rt.vapour_hc(t)
            h += bound * hv - self._bound_q
            cp += bound * cv
        return h, cp

    def _trap_base(self, t: float) -> tuple[float, float]:
        return self.p.trap_j_k * t, self.p.trap_j_k

    def _wall_h(self, t: float) -> tuple[float, float]:
        if self.vapour_kg <= 0:
            return self.p.wall_j_k * t, self.p.wall_j_k
        hv, cv = rt.vapour_hc(t)
        return self.p.wall_j_k * t + self.vapour_kg * hv, self.p.wall_j_k + self.vapour_kg * cv

    @staticmethod
    def _water_h(t: float, water: float, liquid: float) -> float:
        ice = (water - liquid) * rt.h_ice(min(t, rt.T_TRIPLE))
        return ice + (liquid * rt.h_liquid(t) if liquid else 0.0)

    def _stored(self) -> tuple[float, float]:
        """(sensible, latent) heat held now, from temperatures and masses only."""
        ts, tt = self.sample_temp_k, self.trap_temp_k
        total = self._sample_base(ts)[0] + self._water_h(ts, self.water_kg, self.liquid_kg)
        total += self._trap_base(tt)[0] + self._water_h(tt, self.trap_water_kg, self.trap_liquid_kg)
        total += self._wall_h(self.wall_temp_k)[0]
        latent = self.vapour_kg * LATENT_TRIPLE
        latent += (self.liquid_kg + self.trap_liquid_kg) * rt.LATENT_FUSION
        latent += sum(self.bound_kg) * LATENT_TRIPLE - self._bound_q
        return total - latent, latent

    @staticmethod
    def _two_phase(target: float, water: float, base: Curve, guess: float) -> Solved:
        """(T, liquid kg, dH/dT) of a node whose ``water`` melts at 273.16 K (enthalpy method)."""

        def with_ice(t: float) -> tuple[float, float]:
            (h, cp), (hi, ci) = base(t), rt.ice_hc(t)
            return h + water * hi, cp + water * ci

        def with_liquid(t: float) -> tuple[float, float]:
            h, cp = base(t)
            return h + water * rt.h_liquid(t), cp + water * rt.WATER_CP_LIQUID

        if water <= 0:
            t, cp = solve_temperature(target, base, 2.0, T_MAX, guess)
            return t, 0.0, cp
        if guess < rt.T_TRIPLE:  # most often still frozen: no need to look at the melt
            t, cp = solve_temperature(target, with_ice, 2.0, rt.T_TRIPLE, guess)
            if t < rt.T_TRIPLE - 1e-3:  # (a root at the melting point needs a closer look)
                return t, 0.0, cp
        solid = with_ice(rt.T_TRIPLE)[0]
        if target < solid:
            t, cp = solve_temperature(target, with_ice, 2.0, rt.T_TRIPLE, guess)
            return t, 0.0, cp
        if target <= solid + water * rt.LATENT_FUSION:
            return rt.T_TRIPLE, min(water, (target - solid) / rt.LATENT_FUSION), math.inf
        t, cp = solve_temperature(target, with_liquid, rt.T_TRIPLE, T_MAX, guess)
        return t, water, cp

    def _settle(self) -> None:
        """Temperatures (and melt) from the node enthalpies; each solve starts from the last
        temperature moved by the enthalpy added since, over the heat capacity then."""
        hs, hw, ht = self._h
        (s0, w0, t0), (cs, cw, ct) = self._settled, self._cp
        self.sample_temp_k, self.liquid_kg, cs = self._two_phase(
            hs, self.water_kg, self._sample_base, self.sample_temp_k + (hs - s0) / cs
        )
        if self.vapour_kg > 0:
            guess = self.wall_temp_k + (hw - w0) / cw
            self.wall_temp_k, cw = solve_temperature(hw, self._wall_h, 2.0, T_MAX, guess)
        else:
            self.wall_temp_k, cw = hw / self.p.wall_j_k, self.p.wall_j_k
        if self.trap_water_kg > 0:
            self.trap_temp_k, self.trap_liquid_kg, ct = self._two_phase(
                ht, self.trap_water_kg, self._trap_base, self.trap_temp_k + (ht - t0) / ct
            )
        else:
            self.trap_temp_k, self.trap_liquid_kg, ct = ht / self.p.trap_j_k, 0.0, self.p.trap_j_k
        self._settled, self._cp = [hs, hw, ht], [cs, cw, ct]
