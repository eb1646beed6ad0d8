"""The scoop board's firmware: arm commands, load cell, stall protection, its telemetry.

Besides the common rules (see :mod:`sim.firmware`): HOME, MOVE_JOINT, DIG and DUMP are ACKed
at once and run in the background (state HOMING/MOVING/DIGGING/DUMPING, then IDLE); another
motion while one runs is BUSY, DIG before HOME is NOT_HOMED, TARE/WEIGH while the arm moves
are BUSY. MOVE_JOINT angles beyond the joint's travel (boom -5..95 deg, scoop -30..190 deg)
are OUT_OF_RANGE on argument 1.

Stall protection, the board's last line: a motor current at stall level (>= 2.4 A) for more
than 0.2 s switches the motors off and latches BOOM_STALL/SCOOP_STALL and state FAULT.
STOP switches the motors off and clears the FAULT (with the motor off, the stall is gone).

DUMP tips the sample at its target: when the scoop empties, ``dumped(target, grams)`` is
called (``SimBoards`` hands the mass to the oven's hopper when the target is OVEN).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Unpack

from hal.commands import (
    JOINT_LIMITS_DEG,
    BoardKind,
    CommandSpec,
    Dig,
    DumpCommand,
    DumpTarget,
    Joint,
    MoveJoint,
    WeighResult,
)
from hal.layout import layout_of
from hal.message import NackCode
from hal.telemetry import PacketId, ScoopFlags, ScoopState, ScoopTelemetry
from sim.firmware import Firmware, FirmwareArgs, Refused
from sim.scoop_arm import HOME_SWITCH_WINDOW_DEG, Activity, ScoopArm

STALL_TRIP_A = 2.4
STALL_TRIP_S = 0.2
LOADCELL_AVERAGE = 32

_STATE_OF = {
    Activity.NONE: ScoopState.IDLE,
    Activity.HOMING: ScoopState.HOMING,
    Activity.MOVING: ScoopState.MOVING,
    Activity.DIGGING: ScoopState.DIGGING,
    Activity.DUMPING: ScoopState.DUMPING,
}
_STALL_FLAG = {Joint.BOOM: ScoopFlags.BOOM_STALL, Joint.SCOOP: ScoopFlags.SCOOP_STALL}
#: The flags a packet adds to the fault flags, as ints: its flag word is summed as an int.
_HOMED, _MOTORS_ON = int(ScoopFlags.HOMED), int(ScoopFlags.MOTORS_ON)
_BOOM_HOME_SWITCH = int(ScoopFlags.BOOM_HOME_SWITCH)
_SCOOP_HOME_SWITCH = int(ScoopFlags.SCOOP_HOME_SWITCH)


class ScoopFirmware(Firmware):
    """Scoop board: two joints, a blade and a load cell."""

    kind = BoardKind.SCOOP
    packet_id = PacketId.SCOOP

    def __init__(
        self,
        **base: Unpack[FirmwareArgs],
    ) -> None:
        # The arm is the world, not the firmware: it keeps its pose across resets.
        self.arm = ScoopArm(random.Random(base["rng"].random()))
        self.homed = False
        self.fault_flags = ScoopFlags(0)
        self.tare_g = 0.0
        self.latched_mass_g = 0.0
        self._stall_s = {Joint.BOOM: 0.0, Joint.SCOOP: 0.0}
        self.dump_target = DumpTarget.GROUND
        #: Called with the target and the grams tipped out when a DUMP empties the scoop.
        self.dumped: Callable[[DumpTarget, float], None] | None = None
        super().__init__(**base)

    @property
    def in_fault(self) -> bool:
        return bool(self.fault_flags)

    @property
    def state(self) -> ScoopState:
        return ScoopState.FAULT if self.in_fault else _STATE_OF[self.arm.activity]

    def _power_on_reset(self) -> None:
        self.arm.halt()
        self.homed = False
        self.fault_flags = ScoopFlags(0)
        self.tare_g = 0.0
        self.latched_mass_g = 0.0
        self._stall_s = {Joint.BOOM: 0.0, Joint.SCOOP: 0.0}

    def _step(self, dt: float) -> None:
        was_homing = self.arm.activity is Activity.HOMING
        carried_g = self.arm.sample_g
        self.arm.step(dt)
        if self.arm.sample_g < carried_g and self.dumped is not None:
            self.dumped(self.dump_target, carried_g - self.arm.sample_g)
        if was_homing and self.arm.activity is Activity.NONE and self._on_home_switches():
            self.homed = True
        for joint in Joint:
            motor = self.arm.joint(joint)
            stalled = motor.current_a >= STALL_TRIP_A
            self._stall_s[joint] = self._stall_s[joint] + dt if stalled else 0.0
            if self._stall_s[joint] > STALL_TRIP_S + 1e-9:
                self.arm.halt()
                self.fault_flags |= _STALL_FLAG[joint]
                self._stall_s[joint] = 0.0
        total_a = self.arm.boom.current_a + self.arm.scoop.current_a
        self.thermal.step(dt, 1.0 + 1.5 * total_a)

    def check_limits(self, spec: CommandSpec, args: Any) -> None:
        if isinstance(args, MoveJoint):
            lo, hi = JOINT_LIMITS_DEG[args.joint]
            if not lo <= args.angle_deg <= hi:
                raise Refused(NackCode.OUT_OF_RANGE, 1)

    def host_lost(self) -> None:
        self.arm.halt()
        self.fault_flags |= ScoopFlags.HOST_TIMEOUT

    def execute(self, name: str, args: Any) -> bytes:
        arm = self.arm
        if name == "STOP":
            arm.halt()
            self.fault_flags = ScoopFlags(0)
            return b""
        if name in ("HOME", "MOVE_JOINT", "DIG", "DUMP") and arm.busy:
            raise Refused(NackCode.BUSY)
        if name == "HOME":
            arm.home()
        elif name == "MOVE_JOINT":
            assert isinstance(args, MoveJoint)
            arm.move(args.joint, args.angle_deg, args.speed_dps)
        elif name == "DIG":
            assert isinstance(args, Dig)
            if not self.homed:
                raise Refused(NackCode.NOT_HOMED)
            arm.dig(args.depth_mm)
        elif name == "DUMP":
            assert isinstance(args, DumpCommand)
            self.dump_target = args.target
            arm.dump()
        elif name in ("TARE", "WEIGH"):
            if arm.busy:
                raise Refused(NackCode.BUSY)
            average = self._average_loadcell()
            if name == "TARE":
                self.tare_g = average
                return b""
            self.latched_mass_g = average - self.tare_g
            return layout_of(WeighResult).pack(WeighResult(self.latched_mass_g))
        else:
            raise Refused(NackCode.UNKNOWN_COMMAND)  # a catalogue entry this board lacks
        return b""

    def _average_loadcell(self) -> float:
        return sum(self.arm.loadcell_g() for _ in range(LOADCELL_AVERAGE)) / LOADCELL_AVERAGE

    def _on_home_switches(self) -> bool:
        window = HOME_SWITCH_WINDOW_DEG
        return abs(self.arm.boom_angle_deg) <= window and abs(self.arm.scoop_angle_deg) <= window

    def flags(self) -> ScoopFlags:
        bits = int(self.fault_flags)  # summed as an int: one flag word made
        if self.homed:
            bits |= _HOMED
        if abs(self.arm.boom_angle_deg) <= HOME_SWITCH_WINDOW_DEG:
            bits |= _BOOM_HOME_SWITCH
        if abs(self.arm.scoop_angle_deg) <= HOME_SWITCH_WINDOW_DEG:
            bits |= _SCOOP_HOME_SWITCH
        if self.arm.motors_on:
            bits |= _MOTORS_ON
        return ScoopFlags(bits)

    def telemetry(self) -> ScoopTelemetry:
        arm = self.arm
        return ScoopTelemetry(
            boot_count=self.boot_count,
            uptime_ms=self.uptime_ms,
            state=self.state,
            flags=self.flags(),
            boom_angle_deg=arm.boom_angle_deg,
            scoop_angle_deg=arm.scoop_angle_deg,
            boom_current_a=arm.boom.current_a,
            scoop_current_a=arm.scoop.current_a,
            load_mass_g=arm.loadcell_g() - self.tare_g,
            sample_mass_g=self.latched_mass_g,
            tool_depth_mm=arm.tool_depth_mm,
            board_temp_c=self.thermal.temp_c,
        )
