"""Physics of the two-joint scoop arm: joint slewing, motor currents, digging and the load cell.

A pure, deterministic model (noise comes from the ``random.Random`` it is given). The board
starts an *activity* (home, move, dig, dump) and calls ``step(dt)``; the arm reports angles,
currents, tool depth and the mass in the scoop. Parameters:

* Joints slew at the commanded speed toward their target. Motor current while driven is
  0.15 A no-load plus 0.01 A per deg/s plus a load term. The drive limits a motor to its
  2.5 A stall current: a joint whose load asks for more, or a blocked (stuck) one, does not
  move and draws 2.5 A.
* HOME drives both joints to their home switches at 0 deg (switch closed within +-0.5 deg)
  at 10 deg/s.
* DIG(depth): the boom pushes the blade in at 5 mm/s (0.25 deg of boom per mm, so the blade
  is 1 / 0.25 deg = 229 mm from the boom's axis); then a 3 s curl rotates the scoop joint
  +90 deg while the blade lifts out and the boom returns. The soil resists the blade with the
  wide-blade cutting force at the tool depth (``sim.soil_cutting``, McKyes 1985 in the
  regolith of ``sim.regolith``): the boom carries it while the blade goes in, the scoop joint
  (blade 50 mm from its axis, sweeping at 30 deg/s) during the curl, each through the maxon
  gearmotor's 1.40 N m/A. A 30 mm cut costs the boom 0.36 A, 100 mm 1.53 A; 150 mm would
  stall it. The sample is what the 50 x 50 mm bowl sweeps: 25 cm2 x the regolith's column
  mass to the cut's depth (Hayne et al. 2017 density profile), 92.3 g for 30 mm and 199.5 g
  for 60 mm; it gathers over the curl (a stop part-way keeps what was swept); the scoop holds
  at most 500 g. The curl's lift adds 0.004 A/g of gathered sample on the scoop joint.
* DUMP tips the scoop joint to 170 deg at 30 deg/s, which empties it, then returns it to 0.
* Load cell: the mass in the scoop plus Gaussian noise (sigma 0.2 g) plus any drift.
"""

from __future__ import annotations

import enum
import math
import random
from dataclasses import dataclass

from hal.commands import JOINT_LIMITS_DEG, Joint
from sim.regolith import column_mass
from sim.soil_cutting import BLADE, cutting_force, load_current_a

IDLE_CURRENT_A = 0.15
STALL_CURRENT_A = 2.5
SLEW_CURRENT_A_PER_DPS = 0.01
LOAD_CURRENT_A_PER_G = 0.004
HOME_SPEED_DPS = 10.0
HOME_SWITCH_WINDOW_DEG = 0.5
PENETRATION_MM_S = 5.0
BOOM_DEG_PER_MM = 0.25
CURL_S = 3.0
CURL_DEG = 90.0
DUMP_ANGLE_DEG = 170.0
DUMP_SPEED_DPS = 30.0
BOWL_LENGTH_M = 0.05  # design value: the bowl behind the 50 mm blade
FOOTPRINT_CM2 = BLADE.width_m * BOWL_LENGTH_M * 1e4
CAPACITY_G = 500.0
LOADCELL_SIGMA_G = 0.2
BOOM_LEVER_M = 1e-3 / math.radians(BOOM_DEG_PER_MM)  # the blade's radius about the boom axis
SCOOP_LEVER_M = BOWL_LENGTH_M  # the blade's radius about the scoop joint
LOAD_TABLE_POINTS = 32


def sample_mass_g(depth_mm: float) -> float:
    """Regolith a cut of ``depth_mm`` collects: the bowl's footprint x the column above it."""
    return FOOTPRINT_CM2 * 1e-4 * column_mass(depth_mm / 1e3) * 1e3


class LoadProfile:
    """A joint's soil load current (A) against tool depth for one cut, tabulated at its start."""

    def __init__(self, depth_mm: float, speed_mm_s: float, lever_m: float) -> None:
        self._depth_mm = depth_mm
        steps = [depth_mm * i / LOAD_TABLE_POINTS / 1e3 for i in range(LOAD_TABLE_POINTS + 1)]
        self._amps = [
            load_current_a(cutting_force(d_m, speed_mm_s / 1e3).force_n * lever_m) if d_m else 0.0
            for d_m in (steps if depth_mm > 0.0 else [])
        ]

    def at(self, depth_mm: float) -> float:
        if self._depth_mm <= 0.0:
            return 0.0
        x = min(max(depth_mm / self._depth_mm, 0.0), 1.0) * LOAD_TABLE_POINTS
        i = min(int(x), LOAD_TABLE_POINTS - 1)
        return self._amps[i] + (self._amps[i + 1] - self._amps[i]) * (x - i)


class Activity(enum.Enum):
    NONE = "none"
    HOMING = "homing"
    MOVING = "moving"
    DIGGING = "digging"
    DUMPING = "dumping"


@dataclass(slots=True)
class JointMotor:
    """One joint: its angle, where it is driven to, and its motor current."""

    angle_deg: float
    target_deg: float | None = None
    speed_dps: float = 0.0
    stuck: bool = False
    current_a: float = 0.0
    load_a: float = 0.0  # extra current from the work being done (digging, lifting)
    blocked: bool = False  # driven but not moving: stuck, or its load beyond the drive's limit

    @property
    def driven(self) -> bool:
        return self.target_deg is not None

    def drive(self, target_deg: float, speed_dps: float, load_a: float = 0.0) -> None:
        self.target_deg, self.speed_dps, self.load_a = target_deg, speed_dps, load_a

    def off(self) -> None:
        self.target_deg, self.current_a, self.load_a, self.blocked = None, 0.0, 0.0, False

    def step(self, dt: float) -> bool:
        """Slew toward the target; return True once it is there."""
        if self.target_deg is None:
            self.current_a, self.blocked = 0.0, False
            return True
        demand = IDLE_CURRENT_A + SLEW_CURRENT_A_PER_DPS * self.speed_dps + self.load_a
        self.blocked = self.stuck or demand > STALL_CURRENT_A
        if self.blocked:
            self.current_a = STALL_CURRENT_A
            return False
        error = self.target_deg - self.angle_deg
        travel = self.speed_dps * dt
        self.current_a = demand
        if abs(error) <= travel:
            self.angle_deg = self.target_deg
            return True
        self.angle_deg += travel if error > 0 else -travel
        return False


class ScoopArm:
    """The arm, its blade in the regolith and the sample on the load cell."""

    def __init__(self, rng: random.Random, *, boom_deg: float = 20.0, scoop_deg: float = 45.0):
        self._rng = rng
        self.boom = JointMotor(boom_deg)
        self.scoop = JointMotor(scoop_deg)
        self.activity = Activity.NONE
        self.tool_depth_mm = 0.0
        self.sample_g = 0.0
        self.loadcell_drift_g = 0.0
        self.loadcell_drift_g_per_s = 0.0
        self._phase = ""
        self._phase_left_s = 0.0
        self._dig_depth_mm = 0.0
        self._dig_start_boom = 0.0
        self._boom_load = LoadProfile(0.0, 0.0, 0.0)
        self._scoop_load = LoadProfile(0.0, 0.0, 0.0)

    def joint(self, which: Joint) -> JointMotor:
        return self.boom if which is Joint.BOOM else self.scoop

    @property
    def boom_angle_deg(self) -> float:
        return self.boom.angle_deg

    @property
    def scoop_angle_deg(self) -> float:
        return self.scoop.angle_deg

    @property
    def busy(self) -> bool:
        return self.activity is not Activity.NONE

    @property
    def motors_on(self) -> bool:
        return self.boom.driven or self.scoop.driven

    def halt(self) -> None:
        """Motors off: whatever was happening stops where it is (a curl keeps what it swept)."""
        if self.activity is Activity.DIGGING and self._phase == "curl":
            self.sample_g = min(CAPACITY_G, self.sample_g + self._gathered_g())
        self.boom.off()
        self.scoop.off()
        self.activity = Activity.NONE
        self._phase = ""

    def home(self) -> None:
        self.activity = Activity.HOMING
        self.boom.drive(0.0, HOME_SPEED_DPS)
        self.scoop.drive(0.0, HOME_SPEED_DPS)

    def move(self, which: Joint, angle_deg: float, speed_dps: float) -> None:
        self.activity = Activity.MOVING
        self.joint(which).drive(angle_deg, speed_dps, LOAD_CURRENT_A_PER_G * self.sample_g)

    def dig(self, depth_mm: float, speed_mm_s: float = PENETRATION_MM_S) -> None:
        """Cut to ``depth_mm``, the blade going in at ``speed_mm_s`` (the ICD's is 5 mm/s)."""
        self.activity = Activity.DIGGING
        self._dig_depth_mm = depth_mm
        self._dig_start_boom = self.boom.angle_deg
        self._phase = "penetrate"
        self._boom_load = LoadProfile(depth_mm, speed_mm_s, BOOM_LEVER_M)
        sweep_mm_s = SCOOP_LEVER_M * 1e3 * math.radians(CURL_DEG / CURL_S)
        self._scoop_load = LoadProfile(depth_mm, sweep_mm_s, SCOOP_LEVER_M)
        self.boom.drive(
            self.boom.angle_deg + BOOM_DEG_PER_MM * depth_mm, BOOM_DEG_PER_MM * speed_mm_s
        )

    def dump(self) -> None:
        self.activity = Activity.DUMPING
        self._phase = "tip"
        self.scoop.drive(DUMP_ANGLE_DEG, DUMP_SPEED_DPS, LOAD_CURRENT_A_PER_G * self.sample_g)

    def step(self, dt: float) -> None:
        self.loadcell_drift_g += self.loadcell_drift_g_per_s * dt
        boom_there = self.boom.step(dt)
        scoop_there = self.scoop.step(dt)
        if self.activity is Activity.DIGGING:
            self._step_dig(dt, boom_there, scoop_there)
        elif self.activity is Activity.DUMPING:
            self._step_dump(scoop_there)
        elif self.activity is not Activity.NONE and boom_there and scoop_there:
            self.halt()

    def _step_dig(self, dt: float, boom_there: bool, scoop_there: bool) -> None:
        if self._phase == "penetrate":
            pushed = self.boom.angle_deg - self._dig_start_boom
            self.tool_depth_mm = max(0.0, pushed / BOOM_DEG_PER_MM)
            self.boom.load_a = self._boom_load.at(self.tool_depth_mm)
            if boom_there:
                self._phase, self._phase_left_s = "curl", CURL_S
                hi = JOINT_LIMITS_DEG[Joint.SCOOP][1]
                curl_to = min(hi, self.scoop.angle_deg + CURL_DEG)
                self.scoop.drive(curl_to, CURL_DEG / CURL_S)
                self.boom.drive(self._dig_start_boom, BOOM_DEG_PER_MM * self._dig_depth_mm / CURL_S)
        elif self._phase == "curl":
            if not (self.scoop.blocked or self.boom.blocked):
                self._phase_left_s -= dt
            share = max(0.0, self._phase_left_s / CURL_S)
            self.tool_depth_mm = self._dig_depth_mm * share
            self.scoop.load_a = (
                self._scoop_load.at(self.tool_depth_mm) + LOAD_CURRENT_A_PER_G * self._gathered_g()
            )
            if self._phase_left_s <= 1e-9 and boom_there and scoop_there:
                self.tool_depth_mm = 0.0
                self.halt()

    def _gathered_g(self) -> float:
        """What the curl has swept into the bowl so far."""
        share = max(0.0, self._phase_left_s / CURL_S)
        return sample_mass_g(self._dig_depth_mm) * (1.0 - share)

    def _step_dump(self, scoop_there: bool) -> None:
        if self._phase == "tip" and scoop_there:
            self.sample_g = 0.0
            self._phase = "return"
            self.scoop.drive(0.0, DUMP_SPEED_DPS)
        elif self._phase == "return" and scoop_there:
            self.halt()

    def loadcell_g(self) -> float:
        """One load-cell sample: the mass in the scoop, noise and drift."""
        return self.sample_g + self._rng.gauss(0.0, LOADCELL_SIGMA_G) + self.loadcell_drift_g
