"""The oven's state: three thermal nodes that hold enthalpy, and the chamber's vapour.

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
BINS = rt.BOUND_BINS
LATENT_TRIPLE = rt.H_VAPOUR_TRIPLE - rt.H_ICE_TRIPLE  # J/kg, sublimation at 273.16 K
DESORPTION_HEAT = tuple(rt.desorption_heat(e) for e in rt.BOUND_ENERGIES_EV)
T_MAX = 5000.0


def solve_temperature(target: float, h_of: Curve, lo: float, hi: float, guess: float) -> float:
    """Where the increasing ``h_of(t) -> (h, dh/dt)`` equals ``target``: safeguarded Newton."""
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
        # Quadratic convergence: after a step this small the error is below 1e-12 K.
        if abs(new - t) <= 1e-6 or hi - lo <= 1e-12 * t:
            return new
        t = new
    return t


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
    def _two_phase(target: float, water: float, base: Curve, guess: float) -> tuple[float, float]:
        """(T, liquid kg) of a node whose ``water`` melts at 273.16 K (enthalpy method)."""

        def with_ice(t: float) -> tuple[float, float]:
            (h, cp), (hi, ci) = base(t), rt.ice_hc(t)
            return h + water * hi, cp + water * ci

        def with_liquid(t: float) -> tuple[float, float]:
            h, cp = base(t)
            return h + water * rt.h_liquid(t), cp + water * rt.WATER_CP_LIQUID

        if water <= 0:
            return solve_temperature(target, base, 2.0, T_MAX, guess), 0.0
        solid = with_ice(rt.T_TRIPLE)[0]
        if target < solid:
            return solve_temperature(target, with_ice, 2.0, rt.T_TRIPLE, guess), 0.0
        if target <= solid + water * rt.LATENT_FUSION:
            return rt.T_TRIPLE, min(water, (target - solid) / rt.LATENT_FUSION)
        return solve_temperature(target, with_liquid, rt.T_TRIPLE, T_MAX, guess), water

    def _settle(self) -> None:
        """Temperatures (and melt) from the node enthalpies."""
        hs, hw, ht = self._h
        self.sample_temp_k, self.liquid_kg = self._two_phase(
            hs, self.water_kg, self._sample_base, self.sample_temp_k
        )
        self.wall_temp_k = solve_temperature(hw, self._wall_h, 2.0, T_MAX, self.wall_temp_k)
        self.trap_temp_k, self.trap_liquid_kg = self._two_phase(
            ht, self.trap_water_kg, self._trap_base, self.trap_temp_k
        )

    # -- water on the move --
    def _desorb(self, ts: float, dt: float) -> float:
        """Release bound water (first order, exact at fixed temperature); return kg."""
        released, masses = 0.0, list(self.bound_kg)
        ceiling = math.log(rt.BOUND_PREFACTOR * dt) + 37  # beyond: k dt < 1e-16, no change
        for i, energy in enumerate(rt.BOUND_ENERGIES_EV):
            x = energy / (rt.BOLTZMANN_EV * ts)
            if masses[i] <= 0 or x > ceiling:
                continue
            out = -masses[i] * math.expm1(-rt.BOUND_PREFACTOR * math.exp(-x) * dt)
            masses[i] -= out
            released += out
        if released > 0:
            self._set_bound(masses)
            moved = released * rt.h_vapour(ts)
            self._h[0] -= moved
            self._h[1] += moved
        return released

    def _exchange(self, ts: float, tw: float, tt: float, released: float, dt: float) -> float:
        """Vapour between sample, chamber, trap and outside over ``dt``, solved exactly
        (linear in the vapour mass at fixed temperatures); return the next substep limit."""
        p, m0 = self.p, self.vapour_kg
        c = rt.GAS_CONSTANT * tw / (rt.WATER_MOLAR_MASS * p.chamber_m3)  # Pa per kg
        gas = rt.KINETIC * c / math.sqrt(tw)  # condensation, kg/(m2 s) per kg, sticking 1
        paths, limit = [], math.inf  # [evaporation kg/s, condensation 1/s, kg held]
        for temp, area, water, heat_capacity in (
            (ts, p.sample_area_m2, self.water_kg, self._h[0] / ts),
            (tt, p.trap_area_m2, self.trap_water_kg, p.trap_j_k + self.trap_water_kg * 2e3),
        ):
            psat = rt.p_water(temp)
            k = p.sticking * area if water > 0 or c * m0 > psat else 0.0
            evaporation = k * rt.KINETIC * psat / math.sqrt(temp)
            paths.append([evaporation, k * gas, water])
            if (water + m0) * 3e6 > 0.05 * heat_capacity and evaporation > 0:
                slope = evaporation * 9e12 * rt.WATER_MOLAR_MASS / (rt.GAS_CONSTANT * temp * temp)
                limit = min(limit, 0.2 * heat_capacity / slope)
        out_rate = 0.0 if self.lid_sealed else p.lid_area_m2 * gas
        out_rate += 1 / self.leak_tau_s if self.leak_tau_s else 0.0
        for _ in range(3):
            a = paths[0][0] + paths[1][0] + released / dt
            b = paths[0][1] + paths[1][1] + out_rate
            eq = a / b if b > 0 else 0.0
            if b * dt > 1e-9:
                integral = eq * dt - (m0 - eq) * math.expm1(-b * dt) / b
            else:
                integral = m0 * dt + a * dt * dt / 2
            moved = [e * dt - k * integral for e, k, _ in paths]
            over = [i for i in (0, 1) if moved[i] > paths[i][2]]
            for i in over:  # a surface cannot give more water than it holds
                paths[i][:2] = [paths[i][2] / dt, 0.0]
            if not over:
                break
        self._book(moved[0], moved[1], out_rate * integral, released, (ts, tw, tt))
        return limit

    def _book(self, x_s: float, x_t: float, gone: float, released: float, temps: Temps) -> None:
        """Move the masses (``x_*`` into the chamber) and the enthalpy they carry."""
        hv_s, hv_w, hv_t = (rt.h_vapour(t) for t in temps)
        self.vapour_kg = max(0.0, self.vapour_kg + released + x_s + x_t - gone)
        self.water_kg = max(0.0, self.water_kg - x_s)
        moved = x_s * (hv_s if x_s > 0 else hv_w)
        self._h[0] -= moved
        self._h[1] += moved - gone * hv_w
        lost = gone
        if x_t > 0:  # the trap sublimes into the chamber
            self.trap_water_kg = max(0.0, self.trap_water_kg - x_t)
            self.collected_kg -= x_t
            self._h[2] -= x_t * hv_t
            self._h[1] += x_t * hv_t
        else:
            kept = -x_t * self.p.collection_efficiency
            self.trap_water_kg += kept
            self.collected_kg += kept
            self._h[2] += kept * hv_w
            self._h[1] += x_t * hv_w
            lost += -x_t - kept
        self.lost_kg += lost
        self._flows["out"] += lost * hv_w
