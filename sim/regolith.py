"""Lunar regolith as a function of depth: what a cut of a given depth meets and brings up.

Pure functions in SI units (depths in m, densities in kg/m3, cohesion in Pa):

* **Bulk density** (Hayne et al. 2017, "Global regolith thermophysical properties of the Moon
  from the Diviner Lunar Radiometer Experiment", JGR Planets 122, 2371, Eq. A2 and Table A1)::

      rho(z) = rho_d - (rho_d - rho_s) exp(-z / H)    rho_s = 1100, rho_d = 1800 kg/m3, H = 0.07 m

  so a column of depth d holds ``rho_d d - (rho_d - rho_s) H (1 - exp(-d/H))`` kg per m2.
* **Cohesion and friction angle**: the Lunar Sourcebook's recommended values (Carrier, Olhoeft
  & Mendell, "Physical properties of the lunar surface", ch. 9 of Heiken, Vaniman & French,
  *Lunar Sourcebook*, 1991) are averages over depth intervals: 0-15 cm 0.52 kPa (0.44-0.62) and
  42 deg (41-43), 0-30 cm 0.90 kPa (0.74-1.1) and 46 deg (44-47), 30-60 cm 3.0 kPa (2.4-3.8)
  and 54 deg (52-55), 0-60 cm 1.6 kPa (1.3-1.9) and 49 deg (48-51). This model takes them as
  layers: 0-15 cm, 15-30 cm (the 0-30 cm average less the 0-15 cm one: 1.28 kPa, 50 deg) and
  30-60 cm (held below 60 cm). The table's own 0-60 cm row is not used; docs/sim.md's
  validation shows how the layers average against it.
* **Lunar gravity** 1.62 m/s2 (Hayne's ``heat1d`` planets table, ``Moon.g``).

``soil_above(d)`` averages density, cohesion and friction angle over 0..d: the soil of the
wedge a blade cutting at depth d fails (``sim.soil_cutting``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

RHO_SURFACE = 1100.0  # kg/m3, Hayne et al. 2017 Table A1
RHO_DEEP = 1800.0  # kg/m3, the same
H_SCALE_M = 0.07  # m, the e-folding depth of the density profile, the same
LUNAR_G = 1.62  # m/s2


@dataclass(frozen=True, slots=True)
class SourcebookRow:
    """One row of the Lunar Sourcebook's best estimates for a depth interval."""

    top_m: float
    bottom_m: float
    density_g_cm3: float  # bulk density, +-0.05
    cohesion_kpa: float
    cohesion_range_kpa: tuple[float, float]
    friction_deg: float
    friction_range_deg: tuple[float, float]


SOURCEBOOK: tuple[SourcebookRow, ...] = (
    SourcebookRow(0.00, 0.15, 1.50, 0.52, (0.44, 0.62), 42.0, (41.0, 43.0)),
    SourcebookRow(0.00, 0.30, 1.58, 0.90, (0.74, 1.1), 46.0, (44.0, 47.0)),
    SourcebookRow(0.30, 0.60, 1.74, 3.0, (2.4, 3.8), 54.0, (52.0, 55.0)),
    SourcebookRow(0.00, 0.60, 1.66, 1.6, (1.3, 1.9), 49.0, (48.0, 51.0)),
)

# The layers the rows imply: (bottom of the layer in m, cohesion Pa, friction deg).
_TOP, _UPPER, _LOWER = SOURCEBOOK[0], SOURCEBOOK[1], SOURCEBOOK[2]
LAYERS: tuple[tuple[float, float, float], ...] = (
    (0.15, _TOP.cohesion_kpa * 1e3, _TOP.friction_deg),
    (
        0.30,
        (2 * _UPPER.cohesion_kpa - _TOP.cohesion_kpa) * 1e3,
        2 * _UPPER.friction_deg - _TOP.friction_deg,
    ),
    (math.inf, _LOWER.cohesion_kpa * 1e3, _LOWER.friction_deg),
)


def _check_depth(depth_m: float) -> None:
    if not (math.isfinite(depth_m) and depth_m >= 0.0):
        raise ValueError(f"depth must be a finite number >= 0 m, got {depth_m!r}")


def density(depth_m: float) -> float:
    """Bulk density at ``depth_m`` below the surface, kg/m3."""
    _check_depth(depth_m)
    return RHO_DEEP - (RHO_DEEP - RHO_SURFACE) * math.exp(-depth_m / H_SCALE_M)


def column_mass(depth_m: float) -> float:
    """Regolith above ``depth_m``, kg per m2 of surface (the integral of ``density``)."""
    _check_depth(depth_m)
    loss = (RHO_DEEP - RHO_SURFACE) * H_SCALE_M * -math.expm1(-depth_m / H_SCALE_M)
    return RHO_DEEP * depth_m - loss


def mean_density(top_m: float, bottom_m: float) -> float:
    """Mean bulk density between two depths, kg/m3."""
    if not bottom_m > top_m:
        raise ValueError(f"bottom ({bottom_m!r} m) must be below top ({top_m!r} m)")
    if bottom_m - top_m < 1e-6:  # the difference would lose its digits: the midpoint's
        return density((top_m + bottom_m) / 2)
    return (column_mass(bottom_m) - column_mass(top_m)) / (bottom_m - top_m)


def cohesion(depth_m: float) -> float:
    """Cohesion of the layer at ``depth_m``, Pa."""
    return _layer(depth_m)[1]


def friction_deg(depth_m: float) -> float:
    """Angle of internal friction of the layer at ``depth_m``, degrees."""
    return _layer(depth_m)[2]


def _layer(depth_m: float) -> tuple[float, float, float]:
    _check_depth(depth_m)
    return next(layer for layer in LAYERS if depth_m < layer[0])


def _layer_mean(top_m: float, bottom_m: float, column: int) -> float:
    """Thickness-weighted mean of a layer property between two depths."""
    if not bottom_m > top_m:
        raise ValueError(f"bottom ({bottom_m!r} m) must be below top ({top_m!r} m)")
    total, upper = 0.0, 0.0
    for layer in LAYERS:
        lo, hi = max(top_m, upper), min(bottom_m, layer[0])
        if hi > lo:
            total += layer[column] * (hi - lo)
        upper = layer[0]
    return total / (bottom_m - top_m)


def mean_cohesion(top_m: float, bottom_m: float) -> float:
    """Mean cohesion between two depths, Pa."""
    return _layer_mean(top_m, bottom_m, 1)


def mean_friction_deg(top_m: float, bottom_m: float) -> float:
    """Mean friction angle between two depths, degrees."""
    return _layer_mean(top_m, bottom_m, 2)


@dataclass(frozen=True, slots=True)
class Soil:
    """The soil a cut meets: its bulk density, cohesion and friction angle."""

    density_kg_m3: float
    cohesion_pa: float
    friction_deg: float


def soil_above(depth_m: float) -> Soil:
    """The soil between the surface and ``depth_m`` (> 0), averaged over that depth."""
    _check_depth(depth_m)
    if depth_m == 0.0:
        return Soil(RHO_SURFACE, LAYERS[0][1], LAYERS[0][2])
    return Soil(
        mean_density(0.0, depth_m),
        mean_cohesion(0.0, depth_m),
        mean_friction_deg(0.0, depth_m),
    )
