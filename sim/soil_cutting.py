"""The force to cut lunar regolith with a wide blade, and the motor current it costs a joint.

**Force** (McKyes 1985, *Soil Cutting and Tillage*, the wide-blade form of Reece's 1964
fundamental earthmoving equation with McKyes's inertia term; applied to lunar regolith by
Wilkinson & DeGennaro 2007, "Digging and pushing lunar regolith: classical soil mechanics and
the forces needed for excavation and traction", J. Terramechanics 44, 133)::

    F  = w (gamma d^2 N_g + c d N_c + c_a d N_ca + q d N_q + rho v^2 d N_a)     gamma = rho g
    D  = cos(a + e) + sin(a + e) cot(b + p)
    N_g  = (cot a + cot b) / (2 D)          N_c = (1 + cot b cot(b + p)) / D
    N_q  = (cot a + cot b) / D              N_ca = (1 - cot a cot(b + p)) / D
    N_a  = (tan b + cot(b + p)) / ((1 + tan b cot a) D)

with rake angle ``a``, soil-tool friction ``e``, internal friction ``p`` and the failure plane
at ``b`` from the horizontal, chosen where F is least (the soil fails on its weakest plane;
valid while ``a + e + b + p < 180 deg``). The force on the blade is inclined ``a + e`` from the
vertical: draft ``F sin(a + e)`` against the motion, ``F cos(a + e)`` pulling the blade down.
The soil is ``sim.regolith.soil_above(d)``: density, cohesion and friction averaged over the
cut. Lunar regolith is dry, so no adhesion (``c_a = 0``); no surcharge (``q = 0``).

**Current**: a joint carrying torque ``T`` draws ``T / (k_t N eta)`` above its no-load current,
for the scoop's gearmotor (maxon product data): RE 25 graphite-brush motor, 20 W, 24 V, order
no. 118752, ``k_t`` = 23.4 mN m/A; GP 32 A planetary gearhead, order no. 166167, 3 stages,
absolute ratio 14976/175 (86:1), 70 % maximum efficiency, 4.5 N m continuous. The drive's
current limit (2.5 A, ``sim.scoop_arm.STALL_CURRENT_A``) then gives the joint 3.5 N m at most,
inside the gearhead's rating: a joint asked for more stalls.

The minimum over ``b`` is a golden-section search (the force is smooth with one minimum in
the valid range): a few hundred microseconds, no optimisation library in the simulator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from sim.regolith import LUNAR_G, Soil, soil_above

GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
BETA_TOLERANCE_RAD = 1e-7


@dataclass(frozen=True, slots=True)
class Blade:
    """A wide blade: its width, rake angle and how the soil grips it."""

    width_m: float = 0.05  # design value: the scoop's 50 mm blade
    rake_deg: float = 45.0  # design value
    #: Soil-tool friction as a share of the soil's friction angle (typical: 2/3, the usual
    #: wall-friction assumption of earth-pressure design).
    tool_friction_ratio: float = 2.0 / 3.0
    adhesion_pa: float = 0.0  # dry regolith
    surcharge_pa: float = 0.0  # nothing on the surface in front of the blade


BLADE = Blade()


@dataclass(frozen=True, slots=True)
class Factors:
    """The dimensionless factors on one failure plane."""

    beta_deg: float
    n_gamma: float
    n_c: float
    n_q: float
    n_ca: float
    n_a: float


def factors(
    rake_deg: float, tool_friction_deg: float, friction_deg: float, beta_deg: float
) -> Factors:
    """McKyes's factors for a failure plane at ``beta_deg``; ValueError outside the valid range."""
    a, e, p, b = (math.radians(x) for x in (rake_deg, tool_friction_deg, friction_deg, beta_deg))
    if not (0.0 < a < math.pi / 2 + 1e-12 and b > 0.0 and a + e + b + p < math.pi):
        raise ValueError(
            f"no soil wedge for rake {rake_deg:g}, friction {tool_friction_deg:g}/"
            f"{friction_deg:g} and failure plane {beta_deg:g} deg"
        )
    cot_a, cot_b, cot_bp = 1.0 / math.tan(a), 1.0 / math.tan(b), 1.0 / math.tan(b + p)
    d = math.cos(a + e) + math.sin(a + e) * cot_bp
    return Factors(
        beta_deg=beta_deg,
        n_gamma=(cot_a + cot_b) / (2.0 * d),
        n_c=(1.0 + cot_b * cot_bp) / d,
        n_q=(cot_a + cot_b) / d,
        n_ca=(1.0 - cot_a * cot_bp) / d,
        n_a=(math.tan(b) + cot_bp) / ((1.0 + math.tan(b) * cot_a) * d),
    )


@dataclass(frozen=True, slots=True)
class Cut:
    """The force on a blade cutting at a depth and speed, and its parts (N)."""

    depth_m: float
    speed_m_s: float
    soil: Soil
    factors: Factors
    gravity_n: float
    cohesion_n: float
    inertia_n: float
    force_n: float
    draft_n: float
    vertical_n: float


def _force(
    blade: Blade, soil: Soil, depth_m: float, speed_m_s: float, beta_deg: float
) -> tuple[Factors, float, float, float, float]:
    delta = blade.tool_friction_ratio * soil.friction_deg
    f = factors(blade.rake_deg, delta, soil.friction_deg, beta_deg)
    w, d, rho = blade.width_m, depth_m, soil.density_kg_m3
    gravity = w * rho * LUNAR_G * d * d * f.n_gamma
    cohesion = w * soil.cohesion_pa * d * f.n_c
    inertia = w * rho * speed_m_s**2 * d * f.n_a
    rest = w * d * (blade.adhesion_pa * f.n_ca + blade.surcharge_pa * f.n_q)
    return f, gravity, cohesion, inertia, gravity + cohesion + inertia + rest


def cutting_force(
    depth_m: float, speed_m_s: float, blade: Blade = BLADE, soil: Soil | None = None
) -> Cut:
    """The cut at ``depth_m`` and ``speed_m_s`` in ``soil`` (default: the regolith above)."""
    if not (math.isfinite(depth_m) and depth_m >= 0.0):
        raise ValueError(f"depth must be a finite number >= 0 m, got {depth_m!r}")
    if not (math.isfinite(speed_m_s) and speed_m_s >= 0.0):
        raise ValueError(f"speed must be a finite number >= 0 m/s, got {speed_m_s!r}")
    soil = soil_above(depth_m) if soil is None else soil
    delta = blade.tool_friction_ratio * soil.friction_deg
    hi = 180.0 - blade.rake_deg - delta - soil.friction_deg
    if hi <= 0.0:
        raise ValueError(f"no soil wedge: rake, tool and soil friction add to {180.0 - hi:g} deg")

    def total(beta_deg: float) -> float:
        return _force(blade, soil, max(depth_m, 1e-9), speed_m_s, beta_deg)[4]

    beta = _golden_minimum(total, 1e-4, hi - 1e-4)
    f, gravity, cohesion, inertia, force = _force(blade, soil, depth_m, speed_m_s, beta)
    incline = math.radians(blade.rake_deg + delta)
    return Cut(
        depth_m=depth_m,
        speed_m_s=speed_m_s,
        soil=soil,
        factors=f,
        gravity_n=gravity,
        cohesion_n=cohesion,
        inertia_n=inertia,
        force_n=force,
        draft_n=force * math.sin(incline),
        vertical_n=force * math.cos(incline),
    )


def _golden_minimum(fn: Callable[[float], float], lo: float, hi: float) -> float:
    """Where ``fn`` (one minimum on [lo, hi], degrees) is least, to BETA_TOLERANCE_RAD."""
    tolerance = math.degrees(BETA_TOLERANCE_RAD)
    x1, x2 = hi - GOLDEN * (hi - lo), lo + GOLDEN * (hi - lo)
    f1, f2 = fn(x1), fn(x2)
    while hi - lo > tolerance:
        if f1 <= f2:
            hi, x2, f2 = x2, x1, f1
            x1 = hi - GOLDEN * (hi - lo)
            f1 = fn(x1)
        else:
            lo, x1, f1 = x1, x2, f2
            x2 = lo + GOLDEN * (hi - lo)
            f2 = fn(x2)
    return (lo + hi) / 2.0


@dataclass(frozen=True, slots=True)
class Gearmotor:
    """A DC motor behind a gearhead: torque constant, reduction and efficiency."""

    torque_constant_nm_a: float
    ratio: float
    efficiency: float

    @property
    def nm_per_a(self) -> float:
        """Output torque per ampere of motor current."""
        return self.torque_constant_nm_a * self.ratio * self.efficiency


#: maxon RE 25 (118752) on a GP 32 A (166167): 0.0234 N m/A x 85.58 x 0.70 = 1.40 N m/A.
SCOOP_GEARMOTOR = Gearmotor(torque_constant_nm_a=0.0234, ratio=14976.0 / 175.0, efficiency=0.70)


def load_current_a(torque_nm: float, motor: Gearmotor = SCOOP_GEARMOTOR) -> float:
    """Motor current above no-load for an output torque, A."""
    return abs(torque_nm) / motor.nm_per_a
