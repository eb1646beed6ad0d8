"""The scoop board as the kit sees it: what to switch on, what "off" looks like, and what
its flags and currents must show. Its steps (homing, motions, BUSY and NOT_HOMED, the load
cell) are in :mod:`isru.conform.scoop_steps`."""

from __future__ import annotations

from typing import Any, ClassVar

from hal.commands import (
    JOINT_LIMITS_DEG,
    Dig,
    DumpCommand,
    DumpTarget,
    Joint,
    MoveJoint,
    TelemetryRate,
)
from hal.layout import layout_of
from hal.message import NackCode
from hal.telemetry import PacketId, ScoopFlags, ScoopState, ScoopTelemetry
from isru.conform.board_requests import describe_nack
from isru.conform.common import (
    NO_ARG,
    OFF_BELOW,
    Board,
)
from isru.conform.context import KIT_RATE_HZ, Context
from isru.conform.wire_values import f32_step

HOME_SWITCH_DEG = 0.5
#: Flags near an edge (a joint angle at the switch window) may go either way.
EDGE = 0.001
DIG_DEPTH_MM = 10.0
DIG_DEPTH_TOLERANCE_MM = 1.0
DUMP_ANGLE_TOLERANCE_DEG = 1.0
TARE_WITHIN_G = 2.0
DUMP_EMPTY_G = 5.0
MOTION = {ScoopState.HOMING, ScoopState.MOVING, ScoopState.DIGGING, ScoopState.DUMPING}
FAULT_FLAGS = (
    ScoopFlags.BOOM_STALL
    | ScoopFlags.SCOOP_STALL
    | ScoopFlags.OVERCURRENT
    | ScoopFlags.OVERTEMP
    | ScoopFlags.LOADCELL_FAULT
    | ScoopFlags.HOST_TIMEOUT
)


def _angle(tm: ScoopTelemetry, joint: Joint) -> float:
    return tm.boom_angle_deg if joint is Joint.BOOM else tm.scoop_angle_deg


class ScoopBoard(Board):
    name = "scoop"
    telemetry_class = ScoopTelemetry
    packet_id = int(PacketId.SCOOP)
    fault_mask = int(FAULT_FLAGS)
    host_timeout_flag = int(ScoopFlags.HOST_TIMEOUT)
    valid_args: ClassVar[dict[str, object]] = {
        "SET_TM_RATE": TelemetryRate(KIT_RATE_HZ),
        "MOVE_JOINT": MoveJoint(Joint.SCOOP, 45.0, 10.0),
        "DIG": Dig(DIG_DEPTH_MM),
        "DUMP": DumpCommand(DumpTarget.GROUND),
    }
    refused_in_fault = ("HOME", "MOVE_JOINT", "DIG", "TARE", "WEIGH", "DUMP")
    foreign = ("SET_CURRENT", "START", "SET_VALVE", "SET_HEATER", "SET_LID", "HEAT", "EJECT")
    out_of_range = ("MOVE_JOINT", layout_of(MoveJoint).pack(MoveJoint(Joint.BOOM, 500.0, 10.0)), 1)

    async def actuate(self, ctx: Context) -> None:
        tm = await ctx.latest()
        target = 80.0 if tm.boom_angle_deg < 40 else 0.0
        await ctx.ack("MOVE_JOINT", MoveJoint(Joint.BOOM, target, 0.5))

    async def undo(self, ctx: Context, command: str) -> None:
        await super().undo(ctx, command)
        await ctx.ack("STOP")

    def on(self, tm: Any) -> str | None:
        if tm.flags & ScoopFlags.MOTORS_ON:
            return "MOTORS_ON"
        return None

    def homed(self, tm: Any) -> bool | None:
        return bool(tm.flags & ScoopFlags.HOMED)

    def boot_problems(self, tm: Any) -> list[str]:
        problems = super().boot_problems(tm)
        if tm.flags & ScoopFlags.HOMED:
            problems.append("HOMED after boot")
        if tm.state is not ScoopState.IDLE:
            problems.append(f"state {tm.state.name} after boot")
        return problems

    async def after_reset(self, ctx: Context) -> None:
        exchange = await ctx.ask("DIG", Dig(DIG_DEPTH_MM))
        ctx.check(
            "NOT-HOMED",
            exchange.nack == (NackCode.NOT_HOMED, NO_ARG),
            f"DIG after RESET: {describe_nack(exchange)}",
        )
        if exchange.acked:
            await ctx.ack("STOP")

    async def joint_limits(self, ctx: Context) -> None:
        for joint, (lo, hi) in JOINT_LIMITS_DEG.items():
            for angle, accept in (
                (lo, True),
                (hi, True),
                (f32_step(lo, -1), False),
                (f32_step(hi, 1), False),
            ):
                exchange = await ctx.ask("MOVE_JOINT", MoveJoint(joint, angle, 30.0))
                nack = exchange.nack
                if exchange.acked:
                    await ctx.ack("STOP")
                ok = (
                    (nack is None or nack[0] != NackCode.OUT_OF_RANGE)
                    if accept
                    else (nack == (NackCode.OUT_OF_RANGE, 1))
                )
                ctx.check(
                    "JOINT-LIMITS",
                    ok,
                    f"{joint.name} {angle!r}: {describe_nack(exchange)}"
                    if not ok
                    else f"{joint.name} {lo:g}..{hi:g}",
                )

    def off_problem(self, tm: Any) -> str | None:
        if tm.flags & ScoopFlags.MOTORS_ON:
            return None
        worst = max(abs(tm.boom_current_a), abs(tm.scoop_current_a))
        if worst >= OFF_BELOW:
            return f"motors off but {worst:.3f} A"
        return None

    def flag_problem(self, tm: Any) -> str | None:
        motors = bool(tm.flags & ScoopFlags.MOTORS_ON)
        if tm.state in MOTION and not motors:
            return f"state {tm.state.name} without MOTORS_ON"
        if tm.state not in MOTION and motors:
            return f"MOTORS_ON in state {tm.state.name}"
        return None

    def whole_run(self, ctx: Context) -> None:
        problems = []
        for packet in ctx.packets:
            tm = packet.tm
            for joint, flag in (
                (Joint.BOOM, ScoopFlags.BOOM_HOME_SWITCH),
                (Joint.SCOOP, ScoopFlags.SCOOP_HOME_SWITCH),
            ):
                angle = abs(_angle(tm, joint))
                if abs(angle - HOME_SWITCH_DEG) <= EDGE:
                    continue
                if (angle < HOME_SWITCH_DEG) != bool(tm.flags & flag):
                    problems.append(f"seq {packet.seq}: {flag.name} with {joint.name} at {angle:g}")
        ctx.check(
            "HOME-SWITCH",
            not problems,
            problems[0] if problems else f"{len(ctx.packets)} packets consistent",
        )


BOARD = ScoopBoard()


def flag_names(flags: int) -> str:
    """The names of the scoop flags set in ``flags`` (``none``)."""
    return "+".join(f.name for f in ScoopFlags if f & flags and f.name) or "none"
