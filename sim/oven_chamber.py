"""The oven's water on the move: bound-water desorption and the chamber's vapour exchange.

Part of ``sim.oven_physics`` (which documents the model and its sources); the state and
its enthalpies are ``sim.oven_nodes``. Every kilogram moved here carries its enthalpy from
one node to another (or out of the oven, booked as carried out), so the energy ledger
stays exact whatever the limits below do.
"""

from __future__ import annotations

import math

from sim import regolith_thermal as rt
from sim.oven_nodes import T_MAX, OvenNodes, Temps


class OvenChamber(OvenNodes):
    """Adds the movement of water between sample, chamber, trap and the outside."""

    def _desorb(self, ts: float, dt: float) -> None:
        """Release bound water into the chamber (first order, exact at fixed temperature)."""
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
            self.vapour_kg += released
            self._h[0] -= moved
            self._h[1] += moved

    def _exchange(self, ts: float, tw: float, tt: float, dt: float) -> None:
        """Vapour between sample, chamber, trap and outside over ``dt``: linear in the vapour
        mass at fixed temperatures, so solved exactly; then limited so that no surface gives
        more water than it holds, nor passes its dew point (the chamber's pressure at the
        end) by its latent heat, which keeps any ``dt`` stable."""
        p, m0 = self.p, self.vapour_kg
        c = rt.GAS_CONSTANT * tw / (rt.WATER_MOLAR_MASS * p.chamber_m3)  # Pa per kg
        gas = rt.KINETIC * c / math.sqrt(tw)  # condensation, kg/(m2 s) per kg, sticking 1
        paths = []  # [evaporation kg/s, condensation 1/s, kg held, p_sat] of sample and trap
        for temp, area, water in (
            (ts, p.sample_area_m2, self.water_kg),
            (tt, p.trap_area_m2, self.trap_water_kg),
        ):
            psat = rt.p_water(temp)
            k = p.sticking * area if water > 0 or c * m0 > psat else 0.0
            paths.append([k * rt.KINETIC * psat / math.sqrt(temp), k * gas, water, psat])
        out_rate = 0.0 if self.lid_sealed else p.lid_area_m2 * gas
        out_rate += 1 / self.leak_tau_s if self.leak_tau_s else 0.0
        for attempt in range(12):
            a = paths[0][0] + paths[1][0]
            b = paths[0][1] + paths[1][1] + out_rate
            eq = a / b if b > 0 else 0.0
            if b * dt > 1e-9:
                integral = eq * dt - (m0 - eq) * math.expm1(-b * dt) / b
                end = eq + (m0 - eq) * math.exp(-b * dt)
            else:
                integral, end = m0 * dt + a * dt * dt / 2, m0 + a * dt
            moved = [e * dt - k * integral for e, k, _, _ in paths]
            changed = False
            for i, (temp, path) in enumerate(zip((ts, tt), paths, strict=True)):
                # The dew-point limits for 7 rounds; then only what a surface holds (each
                # surface is held to a constant source at most once: it settles).
                room = (
                    math.inf
                    if attempt >= 7
                    else self._room(i, temp, path[3], c * end, moved[i], tw)
                )
                if moved[i] > min(path[2], room) * (1 + 1e-12):  # a constant source instead
                    path[:2] = [min(path[2], room) / dt, 0.0]
                    changed = True
                elif -moved[i] > room * (1 + 1e-6) and path[1] > 0:  # slower condensation
                    path[1] = (path[0] * dt + room) / integral
                    changed = True
            if not changed:
                break
        self._book(moved[0], moved[1], out_rate * integral, (ts, tw, tt))

    def _room(
        self, node: int, temp: float, psat: float, p_end: float, moved: float, tw: float
    ) -> float:
        """Kilograms surface ``node`` (0 sample, 1 trap) can give off (``moved`` > 0) or take
        up (< 0) before its latent heat brings it to the dew point of ``p_end``."""
        p_end *= math.sqrt(temp / tw)  # what a surface at ``temp`` balances (Hertz-Knudsen)
        cp = self._cp[2 * node]
        if cp < math.inf and abs(moved) * 3e6 < 0.02 * cp:
            return math.inf  # too little to move its temperature by 0.02 K
        if (moved > 0) != (psat > p_end):
            return 0.0  # already past its dew point
        water, liquid, index = (
            (self.water_kg, self.liquid_kg, 0)
            if node == 0
            else (self.trap_water_kg, self.trap_liquid_kg, 2)
        )
        h_water = rt.h_liquid(temp) if liquid > 0 and temp >= rt.T_TRIPLE else rt.h_ice(temp)
        latent = (rt.h_vapour(temp) if moved > 0 else rt.h_vapour(tw)) - h_water
        if node == 1 and moved < 0:
            latent *= self.p.collection_efficiency  # only what stays warms the trap
        ln_ratio = math.log(psat / p_end) if p_end > 0 else 50.0
        inverse = 1 / temp + rt.GAS_CONSTANT * ln_ratio / (latent * rt.WATER_MOLAR_MASS)
        dew = min(T_MAX, max(20.0, 1 / inverse)) if inverse > 1 / T_MAX else T_MAX
        if cp < math.inf and abs(moved) * latent < 0.5 * cp * abs(temp - dew):
            return math.inf  # far from the dew point: no need to look closer
        base = self._sample_base if node == 0 else self._trap_base
        at_dew = base(dew)[0] + self._water_h(dew, water, water if dew > rt.T_TRIPLE else 0.0)
        room = self._h[index] - at_dew if moved > 0 else at_dew - self._h[index]
        return max(0.0, room) / latent

    def _book(self, x_s: float, x_t: float, gone: float, temps: Temps) -> None:
        """Move the masses (``x_*`` into the chamber) and the enthalpy they carry."""
        ts, tw, tt = temps
        hv_w = rt.h_vapour(tw)
        hv_s = rt.h_vapour(ts) if x_s > 0 else hv_w
        hv_t = rt.h_vapour(tt) if x_t > 0 else hv_w
        self.vapour_kg = max(0.0, self.vapour_kg + x_s + x_t - gone)
        self.water_kg = max(0.0, self.water_kg - x_s)
        moved = x_s * hv_s
        self._h[0] -= moved
        self._h[1] += moved - gone * hv_w
        lost, kept = gone, 0.0
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
        # Water that came or went carried its own enthalpy at the node's temperature: not a
        # temperature change, so keep it out of the next solve's first guess.
        self._settled[0] -= x_s * rt.h_ice(min(ts, rt.T_TRIPLE))
        self._settled[1] += (x_s + x_t - gone) * hv_w
        self._settled[2] += (-x_t if x_t > 0 else kept) * rt.h_ice(min(tt, rt.T_TRIPLE))
