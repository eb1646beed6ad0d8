"""``isru sim model dig``: the cutting force on the scoop's blade and the boom current it costs.

    isru sim model dig --depth-m 0.03 --width-m 0.05 --json

The regolith is ``sim.regolith``'s (averaged over the cut), the force ``sim.soil_cutting``'s
wide-blade model, the current the boom motor's: no-load 0.15 A, 0.01 A per deg/s of boom
speed, and the torque (force x lever) through the gearmotor. ``trips`` says whether the scoop
board would trip on it (2.4 A or more, ``sim.scoop_board.STALL_TRIP_A``); above the drive's
2.5 A limit the joint stalls.
"""

from __future__ import annotations

import argparse
import math

from sim.regolith import column_mass
from sim.scoop_arm import (
    BOOM_LEVER_M,
    BOWL_LENGTH_M,
    IDLE_CURRENT_A,
    PENETRATION_MM_S,
    SLEW_CURRENT_A_PER_DPS,
    STALL_CURRENT_A,
)
from sim.scoop_board import STALL_TRIP_A
from sim.soil_cutting import BLADE, SCOOP_GEARMOTOR, Blade, cutting_force, load_current_a

MAX_DEPTH_M = 0.6  # the Sourcebook's strength values reach 60 cm


def dig_flags(p: argparse.ArgumentParser) -> None:
    from sim.model_cli import number  # model_cli imports this module

    p.add_argument(
        "--depth-m",
        type=number(0, MAX_DEPTH_M, " m", above=True),
        required=True,
        metavar="D",
        help=f"depth of the cut (above 0, at most {MAX_DEPTH_M:g} m)",
    )
    p.add_argument(
        "--width-m",
        type=number(0, 1, " m", above=True),
        default=BLADE.width_m,
        metavar="W",
        help=f"blade width (default the scoop's {BLADE.width_m:g} m)",
    )
    p.add_argument(
        "--speed-m-s",
        type=number(0, 2, " m/s"),
        default=PENETRATION_MM_S / 1e3,
        metavar="V",
        help=f"blade speed (default the DIG's {PENETRATION_MM_S / 1e3:g} m/s)",
    )
    p.add_argument(
        "--rake-deg",
        type=number(0, 90, " deg", above=True),
        default=BLADE.rake_deg,
        metavar="A",
        help=f"rake angle from the horizontal (default {BLADE.rake_deg:g} deg)",
    )
    p.add_argument(
        "--lever-m",
        type=number(0, 2, " m", above=True),
        default=BOOM_LEVER_M,
        metavar="R",
        help=f"blade radius about the joint (default the boom's {BOOM_LEVER_M:.4f} m)",
    )


def dig_run(args: argparse.Namespace) -> dict[str, object]:
    blade = Blade(width_m=args.width_m, rake_deg=args.rake_deg)
    cut = cutting_force(args.depth_m, args.speed_m_s, blade)
    torque = cut.force_n * args.lever_m
    joint_dps = math.degrees(args.speed_m_s / args.lever_m)
    load = load_current_a(torque)
    current = IDLE_CURRENT_A + SLEW_CURRENT_A_PER_DPS * joint_dps + load
    return {
        "force_n": cut.force_n,
        "current_a": min(current, STALL_CURRENT_A),
        "trips": current >= STALL_TRIP_A,
        "stalls": current > STALL_CURRENT_A,
        "draft_n": cut.draft_n,
        "vertical_n": cut.vertical_n,
        "gravity_n": cut.gravity_n,
        "cohesion_n": cut.cohesion_n,
        "inertia_n": cut.inertia_n,
        "failure_angle_deg": cut.factors.beta_deg,
        "n_gamma": cut.factors.n_gamma,
        "n_c": cut.factors.n_c,
        "n_a": cut.factors.n_a,
        "density_kg_m3": cut.soil.density_kg_m3,
        "cohesion_pa": cut.soil.cohesion_pa,
        "friction_deg": cut.soil.friction_deg,
        "torque_nm": torque,
        "load_current_a": load,
        "gearmotor_nm_per_a": SCOOP_GEARMOTOR.nm_per_a,
        "trip_current_a": STALL_TRIP_A,
        "sample_mass_g": args.width_m * BOWL_LENGTH_M * column_mass(args.depth_m) * 1e3,
        "depth_m": args.depth_m,
        "width_m": args.width_m,
        "speed_m_s": args.speed_m_s,
        "rake_deg": args.rake_deg,
        "lever_m": args.lever_m,
    }
