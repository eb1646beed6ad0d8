"""Thermal properties of icy lunar regolith and of water: pure functions, SI units, kelvin.

Sources (docs/sim.md "Thermal extraction" compares each with the published values):

* Dry regolith specific heat: Hayne et al. 2017, "Global regolith thermophysical properties of
  the Moon from the Diviner Lunar Radiometer Experiment", JGR Planets 122, 2371, Eq. A6 and
  Table A1: ``cp = c0 + c1 T + c2 T^2 + c3 T^3 + c4 T^4`` J/(kg K), c0..c4 = -3.6125, 2.7431,
  2.3616e-3, -1.2340e-5, 8.9093e-9, a fit to laboratory data on Apollo samples up to 350 K
  (valid above ~10 K). Above 350 K the polynomial is an extrapolation that turns up steeply
  (1670 J/(kg K) at 1000 K, beyond the Dulong-Petit limit of ~1.2 kJ/(kg K)), so there we use
  the shape of Biele et al. 2022 (Int. J. Thermophys. 43:144, Eq. 24, a mineral-mixing model
  for lunar regolith valid to ~1000 K): ``ln cp = (3.0 x^3 - 54.45 x^2 + 306.8 x - 376.6) /
  (x^2 - 16.81 x + 87.32)``, ``x = ln T``, scaled by Hayne(350 K) / Biele(350 K) = 1.047 so that
  cp is continuous. Its enthalpy comes from a 0.5 K table of that curve (exact integral of
  the piecewise-linear cp).
* Ice Ih, water and vapour: Murphy & Koop 2005, "Review of the vapour pressures of ice and
  supercooled water for atmospheric applications", Q. J. R. Meteorol. Soc. 131, 1539:
  Eq. 1 ice heat capacity (T > 20 K), Eq. 5 latent heat of sublimation (T > 30 K; 2.834 MJ/kg
  at 273.16 K), Eq. 7 vapour pressure over ice (T > 110 K), Eq. 9 latent heat of evaporation of
  liquid water (236..273.16 K), so the heat of melting at the triple point is Eq. 5 - Eq. 9 =
  333.5 kJ/kg. Liquid vapour pressure above 273.16 K: Wagner & Pruss 2002, J. Phys. Chem. Ref.
  Data 31, 387, Eq. 2.5 (IAPWS, 273.16..647.096 K; 611.657 Pa at 273.16 K, as Eq. 7).
  Liquid specific heat 4181.3 J/(kg K) (IAPWS-95 at 298.15 K, same paper); vapour 33.58 J/(mol K)
  = 1864 J/(kg K) (ideal gas at 298.15 K, NIST-JANAF, Chase 1998).
* Release rate: Hertz-Knudsen, ``J = alpha sqrt(M / (2 pi R)) (p_sat / sqrt(T_s) - p / sqrt(T_g))``
  kg/(m2 s). Sticking (evaporation) coefficient ``alpha = 1``, the kinetic upper bound;
  laboratory values for H2O on ice span ~0.06..1 (IUPAC Task Group data sheet V.A1.6, Crowley
  et al. 2010, Atmos. Chem. Phys. 10, 9059).
* Adsorbed and bound water: Reiss, Grill & Barber 2019 (Planet. Space Sci.) found a
  hydrated regolith simulant gives off loosely adsorbed water, 0.1..0.2 % by mass, between
  -50 and 300 degC when heated in vacuum (mineral decomposition above that is not modelled).
  We model it as first-order desorption (Polanyi-Wigner) in ``BOUND_BINS`` equal parts with
  activation energies spread evenly over 0.66..1.74 eV and prefactor 1e13 /s (Redhead 1962,
  Vacuum 12, 203): at a 5 K/min ramp their desorption peaks span that -50..300 degC window.
  Releasing a kilogram costs its activation energy (1 eV per molecule = 5.356 MJ/kg).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

GAS_CONSTANT = 8.314462618  # J/(mol K), CODATA 2018
WATER_MOLAR_MASS = 0.01801528  # kg/mol
STEFAN_BOLTZMANN = 5.670374419e-8  # W/(m2 K4)
BOLTZMANN_EV = 8.617333262e-5  # eV/K
J_PER_EV_MOLE = 96485.33212  # J/mol per eV per molecule (Faraday constant)
T_TRIPLE = 273.16  # K
P_TRIPLE = 611.657  # Pa

HAYNE_CP = (-3.6125, 2.7431, 2.3616e-3, -1.2340e-5, 8.9093e-9)
HAYNE_MAX_K = 350.0
BIELE_NUM = (3.0, -54.45, 306.8, -376.6)
BIELE_DEN = (-16.81, 87.32)
TABLE_MAX_K = 1200.0
TABLE_STEP_K = 0.5

WATER_CP_LIQUID = 4181.3  # J/(kg K)
WATER_CP_VAPOUR = 33.58 / WATER_MOLAR_MASS  # J/(kg K)
STICKING = 1.0
BOUND_PREFACTOR = 1e13  # 1/s
BOUND_E_MIN_EV, BOUND_E_MAX_EV = 0.66, 1.74
BOUND_BINS = 8
BOUND_ENERGIES_EV = tuple(
    BOUND_E_MIN_EV + (BOUND_E_MAX_EV - BOUND_E_MIN_EV) * i / (BOUND_BINS - 1)
    for i in range(BOUND_BINS)
)


def _biele(temp_k: float) -> float:
    x = math.log(temp_k)
    a, b, c, d = BIELE_NUM
    return math.exp((((a * x + b) * x + c) * x + d) / ((x + BIELE_DEN[0]) * x + BIELE_DEN[1]))


def _hayne(temp_k: float) -> float:
    c0, c1, c2, c3, c4 = HAYNE_CP
    return c0 + temp_k * (c1 + temp_k * (c2 + temp_k * (c3 + temp_k * c4)))


def _hayne_h(temp_k: float) -> float:
    c0, c1, c2, c3, c4 = HAYNE_CP
    t = temp_k
    return t * (c0 + t * (c1 / 2 + t * (c2 / 3 + t * (c3 / 4 + t * c4 / 5))))


_SCALE = _hayne(HAYNE_MAX_K) / _biele(HAYNE_MAX_K)
_N = round((TABLE_MAX_K - HAYNE_MAX_K) / TABLE_STEP_K)
_T = [HAYNE_MAX_K + i * TABLE_STEP_K for i in range(_N + 1)]
_CP = [_SCALE * _biele(t) for t in _T]
_H = [_hayne_h(HAYNE_MAX_K)]
for _i in range(1, len(_T)):
    _H.append(_H[-1] + (_CP[_i - 1] + _CP[_i]) / 2 * TABLE_STEP_K)


def _table(temp_k: float) -> tuple[float, float]:
    """(cp, h) of the tabulated curve above 350 K; linear beyond the table."""
    i = min(max(bisect.bisect_right(_T, temp_k) - 1, 0), len(_T) - 2)
    frac = (temp_k - _T[i]) / TABLE_STEP_K
    cp0, cp1 = _CP[i], _CP[i + 1]
    if temp_k > TABLE_MAX_K:
        return cp1, _H[-1] + cp1 * (temp_k - TABLE_MAX_K)
    dt = temp_k - _T[i]
    return cp0 + (cp1 - cp0) * frac, _H[i] + cp0 * dt + (cp1 - cp0) * frac * dt / 2


def cp_regolith(temp_k: float) -> float:
    """Specific heat of dry regolith, J/(kg K): Hayne et al. 2017 to 350 K, then scaled Biele."""
    return _hayne(temp_k) if temp_k <= HAYNE_MAX_K else _table(temp_k)[0]


def h_regolith(temp_k: float) -> float:
    """Enthalpy of dry regolith above 0 K, J/kg (the integral of ``cp_regolith``)."""
    return _hayne_h(temp_k) if temp_k <= HAYNE_MAX_K else _table(temp_k)[1]


def cp_ice(temp_k: float) -> float:
    """Specific heat of ice Ih, J/(kg K): Murphy & Koop 2005 Eq. 1."""
    t = temp_k
    return (-2.0572 + 0.14644 * t + 0.06163 * t * math.exp(-((t / 125.1) ** 2))) / WATER_MOLAR_MASS


def h_ice(temp_k: float) -> float:
    """Enthalpy of ice above 0 K, J/kg: Eq. 1 integrated in closed form."""
    t = temp_k
    gauss = 0.06163 * 125.1**2 / 2 * (1 - math.exp(-((t / 125.1) ** 2)))
    return (-2.0572 * t + 0.07322 * t * t + gauss) / WATER_MOLAR_MASS


def latent_sublimation(temp_k: float) -> float:
    """Latent heat of sublimation of ice, J/kg: Murphy & Koop 2005 Eq. 5."""
    t = temp_k
    molar = 46782.5 + 35.8925 * t - 0.07414 * t * t + 541.5 * math.exp(-((t / 123.75) ** 2))
    return molar / WATER_MOLAR_MASS


def latent_evaporation(temp_k: float) -> float:
    """Latent heat of evaporation of (supercooled) water, J/kg: Murphy & Koop 2005 Eq. 9."""
    t = temp_k
    return (56579.0 - 42.212 * t + math.exp(0.1149 * (281.6 - t))) / WATER_MOLAR_MASS


LATENT_FUSION = latent_sublimation(T_TRIPLE) - latent_evaporation(T_TRIPLE)  # J/kg at 273.16 K
H_ICE_TRIPLE = h_ice(T_TRIPLE)
H_VAPOUR_TRIPLE = H_ICE_TRIPLE + latent_sublimation(T_TRIPLE)


def p_ice(temp_k: float) -> float:
    """Vapour pressure over ice, Pa: Murphy & Koop 2005 Eq. 7."""
    t = temp_k
    return math.exp(9.550426 - 5723.265 / t + 3.53068 * math.log(t) - 0.00728332 * t)


_WP = (-7.85951783, 1.84408259, -11.7866497, 22.6807411, -15.9618719, 1.80122502)
T_CRITICAL, P_CRITICAL = 647.096, 22.064e6


def p_liquid(temp_k: float) -> float:
    """Vapour pressure over liquid water, Pa: Wagner & Pruss 2002 Eq. 2.5 (to 647.096 K)."""
    t = min(temp_k, T_CRITICAL)
    tau = 1 - t / T_CRITICAL
    a1, a2, a3, a4, a5, a6 = _WP
    s = a1 * tau + a2 * tau**1.5 + a3 * tau**3 + a4 * tau**3.5 + a5 * tau**4 + a6 * tau**7.5
    return P_CRITICAL * math.exp(T_CRITICAL / t * s)


def p_water(temp_k: float) -> float:
    """Saturation pressure of water: over ice up to 273.16 K, over liquid above."""
    return p_ice(temp_k) if temp_k <= T_TRIPLE else p_liquid(temp_k)


def h_liquid(temp_k: float) -> float:
    """Enthalpy of liquid water, J/kg, on the same reference as ``h_ice``."""
    return H_ICE_TRIPLE + LATENT_FUSION + WATER_CP_LIQUID * (temp_k - T_TRIPLE)


def h_vapour(temp_k: float) -> float:
    """Enthalpy of water vapour, J/kg: ice plus Eq. 5 below 273.16 K, ideal gas above."""
    if temp_k <= T_TRIPLE:
        return h_ice(temp_k) + latent_sublimation(temp_k)
    return H_VAPOUR_TRIPLE + WATER_CP_VAPOUR * (temp_k - T_TRIPLE)


def cp_vapour(temp_k: float) -> float:
    """d h_vapour / dT, J/(kg K)."""
    return vapour_hc(temp_k)[1]


def ice_hc(temp_k: float) -> tuple[float, float]:
    """(``h_ice``, ``cp_ice``) with one exponential, for the oven's solver."""
    t = temp_k
    g = math.exp(-((t / 125.1) ** 2))
    h = -2.0572 * t + 0.07322 * t * t + 0.06163 * 125.1**2 / 2 * (1 - g)
    return h / WATER_MOLAR_MASS, (-2.0572 + 0.14644 * t + 0.06163 * t * g) / WATER_MOLAR_MASS


def vapour_hc(temp_k: float) -> tuple[float, float]:
    """(``h_vapour``, its derivative), J/kg and J/(kg K)."""
    if temp_k > T_TRIPLE:
        return H_VAPOUR_TRIPLE + WATER_CP_VAPOUR * (temp_k - T_TRIPLE), WATER_CP_VAPOUR
    t = temp_k
    h, cp = ice_hc(t)
    g = 541.5 * math.exp(-((t / 123.75) ** 2))
    latent = (46782.5 + 35.8925 * t - 0.07414 * t * t + g) / WATER_MOLAR_MASS
    d_latent = (35.8925 - 0.14828 * t - g * 2 * t / 123.75**2) / WATER_MOLAR_MASS
    return h + latent, cp + d_latent


KINETIC = math.sqrt(WATER_MOLAR_MASS / (2 * math.pi * GAS_CONSTANT))  # s/m * sqrt(K)


def hertz_knudsen(
    temp_k: float, pressure_pa: float = 0.0, gas_k: float | None = None, sticking: float = STICKING
) -> float:
    """Net flux leaving an ice (or water) surface at ``temp_k``, kg/(m2 s); negative: condensing."""
    gas = temp_k if gas_k is None else gas_k
    return sticking * KINETIC * (p_water(temp_k) / math.sqrt(temp_k) - pressure_pa / math.sqrt(gas))


def desorption_rate(energy_ev: float, temp_k: float, prefactor: float = BOUND_PREFACTOR) -> float:
    """First-order desorption rate constant, 1/s: ``nu exp(-E / (k T))``."""
    return prefactor * math.exp(-energy_ev / (BOLTZMANN_EV * temp_k))


def desorption_heat(energy_ev: float) -> float:
    """Heat taken to release one kilogram of water bound with ``energy_ev``, J/kg."""
    return energy_ev * J_PER_EV_MOLE / WATER_MOLAR_MASS


@dataclass(frozen=True, slots=True)
class ExtractionHeat:
    """Heat to take icy regolith from ``from_k`` to ``to_k`` and its ice to vapour, MJ/kg water."""

    regolith_sensible: float
    water_sensible: float
    latent: float

    @property
    def total(self) -> float:
        return self.regolith_sensible + self.water_sensible + self.latent


def extraction_heat(ice_wt_pct: float, from_k: float, to_k: float) -> ExtractionHeat:
    """Sensible heat of the dry regolith and of the ice from ``from_k`` to ``to_k``, plus the
    latent heat of sublimation at ``to_k``, per kilogram of water.

    Above 273.16 K ice cannot exist: the water is ice to 273.16 K, sublimes there and the
    vapour is heated on (the same enthalpy change, by Kirchhoff's law).
    """
    if not 0 < ice_wt_pct < 100:
        raise ValueError(f"ice_wt_pct must be between 0 and 100 (exclusive), got {ice_wt_pct}")
    ice = ice_wt_pct / 100
    regolith = (1 - ice) * (h_regolith(to_k) - h_regolith(from_k)) / ice
    top = min(to_k, T_TRIPLE)
    vapour = WATER_CP_VAPOUR * max(0.0, to_k - T_TRIPLE)
    water = h_ice(top) - h_ice(from_k) + vapour
    return ExtractionHeat(regolith / 1e6, water / 1e6, latent_sublimation(top) / 1e6)
