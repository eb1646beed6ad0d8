"""Physics of the two-joint scoop arm: joint slewing, motor currents, digging and the load cell.

A pure, deterministic model (noise comes from the ``random.Random`` it is given). The board
starts an *activity* (home, move, dig, dump) and calls ``step(dt)``; the arm reports angles,
currents, tool depth and the mass in the scoop. Parameters:

* Joints slew at the commanded speed toward their target. Motor current while driven is
  0.15 A no-load plus a load term; a blocked (stuck) joint draws its 2.5 A stall current.
* HOME drives both joints to their home switches at 0 deg (switch closed within +-0.5 deg)
  at 10 deg/s.
* DIG(depth): the boom pushes the blade in at 5 mm/s (0.25 deg of boom per mm), current
  rising with depth at 0.02 A/mm (penetration resistance); then a 3 s curl rotates the
  scoop joint +90 deg while the blade lifts out and the boom returns. The sample is
  bulk density x footprint x depth: lunar regolith 1.50 g/cm3 in the top 15 cm (Carrier,
  Olhoeft & Mendell, Lunar Sourcebook 1991, ch. 9: 1.50 +- 0.05 g/cm3), blade footprint
  25 cm2, so 30 mm gives 112.5 g; the scoop holds at most 500 g.
* DUMP tips the scoop joint to 170 deg at 30 deg/s, which empties it, then returns it to 0.
* Load cell: the mass in the scoop plus Gaussian noise (sigma 0.2 g) plus any drift.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from hal.commands import JOINT_LIMITS_DEG, Joint

IDLE_CURRENT_A = 0.15
STALL_CURRENT_A = 2.5
SLEW_CURRENT_A_PER_DPS = 0.01
LOAD_CURRENT_A_PER_G = 0.004
PENETRATION_A_PER_MM = 0.02
HOME_SPEED_DPS = 10.0
HOME_SWITCH_WINDOW_DEG = 0.5
PENETRATION_MM_S = 5.0
BOOM_DEG_PER_MM = 0.25
CURL_S = 3.0
CURL_DEG = 90.0
DUMP_ANGLE_DEG = 170.0
DUMP_SPEED_DPS = 30.0
REGOLITH_G_CM3 = 1.50
FOOTPRINT_CM2 = 25.0
CAPACITY_G = 500.0
LOADCELL_SIGMA_G = 0.2


def sample_mass_g(depth_mm: float) -> float:
    """Regolith a cut of ``depth_mm`` collects: density x footprint x depth."""
    return REGOLITH_G_CM3 * FOOTPRINT_CM2 * depth_mm / 10.0


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

    @property
    def driven(self) -> bool:
        return self.target_deg is not None

    def drive(self, target_deg: float, speed_dps: float, load_a: float = 0.0) -> None:
        self.target_deg, self.speed_dps, self.load_a = target_deg, speed_dps, load_a

    def off(self) -> None:
        self.target_deg, self.current_a, self.load_a = None, 0.0, 0.0

    def step(self, dt: float) -> bool:
        """Slew toward the target; return True once it is there."""
        if self.target_deg is None:
            self.current_a = 0.0
            return True
        if self.stuck:
            self.current_a = STALL_CURRENT_A
            return False
        error = self.target_deg - self.angle_deg
        travel = self.speed_dps * dt
        self.current_a = IDLE_CURRENT_A + SLEW_CURRENT_A_PER_DPS * self.speed_dps + self.load_a
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
        """Motors off: whatever was happening stops where it is."""
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

    def dig(self, depth_mm: float) -> None:
        self.activity = Activity.DIGGING
        self._dig_depth_mm = depth_mm
        self._dig_start_boom = self.boom.angle_deg
        self._phase = "penetrate"
        self.boom.drive(
            self.boom.angle_deg + BOOM_DEG_PER_MM * depth_mm, BOOM_DEG_PER_MM * PENETRATION_MM_S
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
            self.boom.load_a = PENETRATION_A_PER_MM * self.tool_depth_mm
            if boom_there:
                self._phase, self._phase_left_s = "curl", CURL_S
                hi = JOINT_LIMITS_DEG[Joint.SCOOP][1]
                curl_to = min(hi, self.scoop.angle_deg + CURL_DEG)
                self.scoop.drive(curl_to, CURL_DEG / CURL_S)
                self.boom.drive(self._dig_start_boom, BOOM_DEG_PER_MM * self._dig_depth_mm / CURL_S)
        elif self._phase == "curl":
            if not (self.scoop.stuck or self.boom.stuck):
                self._phase_left_s -= dt
            share = max(0.0, self._phase_left_s / CURL_S)
            self.tool_depth_mm = self._dig_depth_mm * share
            gathered = sample_mass_g(self._dig_depth_mm) * (1.0 - share)
            self.scoop.load_a = LOAD_CURRENT_A_PER_G * gathered
            if self._phase_left_s <= 1e-9 and boom_there and scoop_there:
                self.tool_depth_mm = 0.0
                self.sample_g = min(CAPACITY_G, self.sample_g + sample_mass_g(self._dig_depth_mm))
                self.halt()

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
