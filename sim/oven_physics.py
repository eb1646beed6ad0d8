"""Physics of the oven: icy regolith heated in a sealed chamber, vapour frozen on a cold trap.

A pure, deterministic model (material properties: ``sim.regolith_thermal``). Three thermal
nodes, each holding its enthalpy, with temperatures found from it (so phase changes and
the energy ledger are exact): the **sample** (crucible, dry regolith, pore water as ice or,
above 273.16 K, liquid, and bound water), the **wall** (chamber, with the vapour in it at the
wall temperature, an ideal gas: ``p = m R T_wall / (M V)``) and the **trap** (copper cold
finger with the ice or liquid on it). Per substep, temperatures held:

* heater power into the sample; sample -> wall ``G (Ts - Tw) + eps sigma A (Ts^4 - Tw^4)``;
  wall -> trap likewise; wall -> surroundings by conduction and through MLI (a loss); the
  Peltier pumps ``trap_w`` out of the trap, at most ``Qmax (1 - (T_hot - T_trap) / dTmax)``
  (the linear TEC law; a warming request at most ``Qmax``).
* vapour: Hertz-Knudsen exchange with the sample and the trap, effusion through the open
  lid, a leak ``m / leak_tau_s``: linear in the vapour mass, solved exactly over the
  substep (the chamber's time constant is milliseconds), then limited so that no surface
  gives more water than it holds nor passes its dew point by its own latent heat, which
  keeps any step stable. Of the vapour that freezes onto the trap a fraction
  ``collection_efficiency`` is collected; the rest, and whatever escapes, is lost. Bound
  water desorbs into the chamber once a (virtual) second. Each kilogram moved carries its
  enthalpy.

Parameters (``OvenParams``; design values are choices for this payload, not measurements):
sample surface 79 cm2 (10 cm crucible) and chamber 2 L, lid aperture 50 cm2, trap 100 cm2:
design. Crucible 0.3 kg and wall 1.5 kg of 316 stainless steel, 500 J/(kg K) (AK Steel 316/316L
product data bulletin); trap 0.1 kg copper, 385 J/(kg K) (Incropera et al., Fundamentals of
Heat and Mass Transfer, Table A.1). Regolith emissivity 0.95 (Hayne et al. 2017 Table A1);
polished copper 0.05 (Incropera Table A.11, 0.03..0.1). MLI effective emittance 0.03 over
0.06 m2 (Gilmore, Spacecraft Thermal Control Handbook 2002: 0.015..0.03 for real blankets).
Conductances 0.2 W/K sample-wall, 0.05 W/K trap-wall, 0.5 W/K wall-deck: design. Deck at
293.15 K (as the PEM cell's ``ambient_c``). TEC: dTmax 127 K for six stages in vacuum (Marlow
Industries TEC selection guide, Table IV), hot side on a 250 K radiator (so the trap reaches
the -150 degC the ICD allows), Qmax 150 W: design, sized for the latent heat of a 100 W
extraction. Collection efficiency 0.9: design; the 10 % stands for water frozen on cold
spots the pump cannot reach. Regolith arrives at 110 K, the warmest a cold trap holds ice
(Paige et al. 2010, Science 330, 479); bound water 0.15 wt% (Reiss et al. 2019: 0.1..0.2 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim import regolith_thermal as rt
from sim.oven_chamber import OvenChamber
from sim.oven_nodes import BINS, DESORPTION_HEAT, EnergyLedger

__all__ = ["EnergyLedger", "OvenParams", "OvenPhysics"]


@dataclass(frozen=True, slots=True)
class OvenParams:
    """Oven geometry, materials and defaults (sources in the module docstring)."""

    sticking: float = rt.STICKING
    collection_efficiency: float = 0.9
    sample_area_m2: float = 0.0079
    trap_area_m2: float = 0.01
    lid_area_m2: float = 0.005
    chamber_m3: float = 0.002
    crucible_j_k: float = 150.0
    wall_j_k: float = 750.0
    trap_j_k: float = 38.5
    sample_emissivity: float = 0.95
    trap_emissivity: float = 0.05
    wall_emittance: float = 0.03
    wall_area_m2: float = 0.06
    sample_wall_w_k: float = 0.2
    trap_wall_w_k: float = 0.05
    wall_deck_w_k: float = 0.5
    deck_k: float = 293.15
    tec_q_max_w: float = 150.0
    tec_dt_max_k: float = 127.0
    tec_hot_k: float = 250.0
    load_temp_k: float = 110.0
    bound_water_wt_pct: float = 0.15
    max_substep_s: float = 1.0


class OvenPhysics(OvenChamber):
    """Sample, wall, chamber vapour and cold trap. Set the inputs (``heater_w``, ``trap_w``,
    ``lid_sealed``, ``leak_tau_s``), then ``step(dt)``; read the properties below."""

    def __init__(self, params: OvenParams | None = None) -> None:
        super().__init__(params or OvenParams())
        self.trap_pumped_w = 0.0  # what the Peltier actually pumped in the last substep
        self._desorb_s = 0.0  # time since bound water was last released
        self._start = self._stored()

    # -- readings --
    @property
    def sample_mass_g(self) -> float:
        """Sample on the load cell (regolith, pore water, bound water), g."""
        return (self.regolith_kg + self.water_kg + sum(self.bound_kg)) * 1e3

    @property
    def ice_g(self) -> float:
        """Water in the sample's pores: ice, or liquid above 273.16 K, g."""
        return self.water_kg * 1e3

    @property
    def bound_water_g(self) -> float:
        """Adsorbed/bound water left in the sample, g."""
        return sum(self.bound_kg) * 1e3

    @property
    def vapour_g(self) -> float:
        """Water vapour in the chamber, g."""
        return self.vapour_kg * 1e3

    @property
    def trap_ice_g(self) -> float:
        return (self.trap_water_kg - self.trap_liquid_kg) * 1e3

    @property
    def trap_liquid_g(self) -> float:
        return self.trap_liquid_kg * 1e3

    @property
    def collected_g(self) -> float:
        """Net water frozen onto the trap since the oven was made, g."""
        return self.collected_kg * 1e3

    @property
    def lost_g(self) -> float:
        """Water escaped, frozen where the pump cannot reach, or ejected, g."""
        return self.lost_kg * 1e3

    @property
    def pumped_g(self) -> float:
        return self.pumped_kg * 1e3

    @property
    def water_in_g(self) -> float:
        """Water loaded with regolith (ice and bound), g."""
        return self.water_in_kg * 1e3

    @property
    def heater_energy_j(self) -> float:
        return self._flows["heater"]

    @property
    def pressure_pa(self) -> float:
        """Chamber pressure (water vapour only; the rest is vacuum), Pa."""
        volume = self.p.chamber_m3 * rt.WATER_MOLAR_MASS
        return self.vapour_kg * rt.GAS_CONSTANT * self.wall_temp_k / volume

    @property
    def ledger(self) -> EnergyLedger:
        (sensible, latent), (s0, l0), f = self._stored(), self._start, self._flows
        return EnergyLedger(
            f["heater"], sensible - s0, latent - l0, f["rad"], f["cond"], f["peltier"],
            f["out"], f["in"],
        )  # fmt: skip

    # -- actions --
    def load(
        self,
        regolith_g: float,
        ice_wt_pct: float,
        temp_k: float | None = None,
        bound_wt_pct: float | None = None,
    ) -> None:
        """Add ``regolith_g`` of sample (its ice and bound water included) at ``temp_k``
        (default ``load_temp_k``; above 273.16 K its ice arrives melted); the new material
        mixes with what is there."""
        temp = self.p.load_temp_k if temp_k is None else temp_k
        bound_pct = self.p.bound_water_wt_pct if bound_wt_pct is None else bound_wt_pct
        if not (math.isfinite(regolith_g) and regolith_g >= 0):
            raise ValueError(f"regolith_g must be a number >= 0, got {regolith_g!r}")
        if not (math.isfinite(temp) and 20 <= temp <= 1000):
            raise ValueError(f"temp_k must be 20..1000 K, got {temp!r}")
        if not (ice_wt_pct >= 0 and bound_pct >= 0 and ice_wt_pct + bound_pct < 100):
            raise ValueError(f"ice {ice_wt_pct!r} and bound {bound_pct!r} wt% must be 0..100")
        total = regolith_g / 1e3
        ice, bound = total * ice_wt_pct / 100, total * bound_pct / 100
        enthalpy = (total - ice - bound) * rt.h_regolith(temp)
        enthalpy += ice * (rt.h_ice(temp) if temp <= rt.T_TRIPLE else rt.h_liquid(temp))
        enthalpy += bound * rt.h_vapour(temp) - bound / BINS * sum(DESORPTION_HEAT)
        self.regolith_kg += total - ice - bound
        self.water_kg += ice
        self._set_bound([m + bound / BINS for m in self.bound_kg])
        self.water_in_kg += ice + bound
        self._moved(0, enthalpy, "in")

    def eject(self) -> float:
        """Drop the sample (its water counts as lost); return the grams removed."""
        grams: float = self.sample_mass_g
        t = self.sample_temp_k
        removed = self._sample_base(t)[0] - self.p.crucible_j_k * t
        removed += self._water_h(t, self.water_kg, self.liquid_kg)
        self.lost_kg += self.water_kg + sum(self.bound_kg)
        self.regolith_kg = self.water_kg = self.liquid_kg = 0.0
        self._set_bound([0.0] * BINS)
        self._moved(0, -removed, "out")
        return grams

    def pump(self, max_g: float) -> float:
        """Move up to ``max_g`` of liquid from the trap out of the oven; return grams moved."""
        moved = min(max(max_g, 0.0) / 1e3, self.trap_liquid_kg)
        if not moved > 0:
            return 0.0
        self.trap_water_kg -= moved
        self.trap_liquid_kg -= moved
        self.pumped_kg += moved
        self._moved(2, -moved * rt.h_liquid(self.trap_temp_k), "out")
        return moved * 1e3

    def _moved(self, node: int, enthalpy: float, flow: str) -> None:
        """Matter with ``enthalpy`` entered (> 0) or left (< 0) ``node``."""
        self._h[node] += enthalpy
        self._settled[node] += enthalpy  # matter, not heat: no guess of a temperature change
        self._flows[flow] += enthalpy if flow == "in" else -enthalpy
        self._settle()

    def step(self, dt_s: float) -> None:
        """Advance ``dt_s`` seconds with the present inputs (in substeps of at most
        ``max_substep_s``; stable for any ``dt_s``)."""
        if not (math.isfinite(dt_s) and dt_s >= 0):
            raise ValueError(f"dt_s must be a finite number >= 0, got {dt_s!r}")
        if dt_s == 0:
            return
        self._desorb_s += dt_s
        if self._desorb_s >= 1.0:  # a slow process: once a second is plenty
            self._desorb(self.sample_temp_k, self._desorb_s)
            self._desorb_s = 0.0
        count = max(1, math.ceil(dt_s / self.p.max_substep_s))
        for _ in range(count):
            self._substep(dt_s / count)

    def _peltier(self) -> float:
        """Heat the Peltier pumps out of the trap: the request, within the TEC's law."""
        p = self.p
        if self.trap_w < 0:
            return max(self.trap_w, -p.tec_q_max_w)
        room = p.tec_q_max_w * (1 - (p.tec_hot_k - self.trap_temp_k) / p.tec_dt_max_k)
        return min(self.trap_w, max(0.0, room))

    def _substep(self, dt: float) -> None:
        p, f, sigma = self.p, self._flows, rt.STEFAN_BOLTZMANN
        ts, tw, tt, td = self.sample_temp_k, self.wall_temp_k, self.trap_temp_k, p.deck_k
        heater, pel = max(0.0, self.heater_w), self._peltier()
        q_sw = p.sample_wall_w_k * (ts - tw)
        q_sw += p.sample_emissivity * sigma * p.sample_area_m2 * (ts**4 - tw**4)
        q_wt = p.trap_wall_w_k * (tw - tt)
        q_wt += p.trap_emissivity * sigma * p.trap_area_m2 * (tw**4 - tt**4)
        cond = p.wall_deck_w_k * (tw - td)
        rad = p.wall_emittance * sigma * p.wall_area_m2 * (tw**4 - td**4)
        self._h[0] += (heater - q_sw) * dt
        self._h[1] += (q_sw - q_wt - cond - rad) * dt
        self._h[2] += (q_wt - pel) * dt
        self.trap_pumped_w = pel
        for key, watts in (("heater", heater), ("rad", rad), ("cond", cond), ("peltier", pel)):
            f[key] += watts * dt
        self._exchange(ts, tw, tt, dt)
        self._settle()
