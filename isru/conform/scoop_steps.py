"""The scoop board's steps: homing, motions and their completion, BUSY and NOT_HOMED, the
load cell."""

from __future__ import annotations

from typing import Any

from flight.handlers import JOINT_TOLERANCE_DEG
from hal.commands import Dig, DumpCommand, DumpTarget, Joint, MoveJoint, WeighResult
from hal.layout import layout_of
from hal.message import NackCode
from hal.telemetry import ScoopFlags, ScoopState
from isru.conform.board_requests import StepFailed, describe_nack
from isru.conform.common import (
    NO_ARG,
    Board,
    completion_s,
)
from isru.conform.context import Context
from isru.conform.scoop import (
    DIG_DEPTH_MM,
    DIG_DEPTH_TOLERANCE_MM,
    DUMP_ANGLE_TOLERANCE_DEG,
    DUMP_EMPTY_G,
    HOME_SWITCH_DEG,
    TARE_WITHIN_G,
    flag_names,
)


async def _settle_idle(ctx: Context, rule: str, command: str) -> tuple[Any, float]:
    """Wait as the host does for ``command`` to end (IDLE or FAULT) within its window."""
    window = completion_s(command)
    found = await ctx.settle(lambda tm: tm.state in (ScoopState.IDLE, ScoopState.FAULT), window)
    if found is None:
        ctx.fail(rule, f"not IDLE within {window:g} s")
        raise StepFailed(f"{command} did not end")
    tm, took = found
    if tm.state is ScoopState.FAULT:
        ctx.fail(rule, f"FAULT after {took:.2f} s: flags 0x{int(tm.flags):04X}")
        raise StepFailed(f"{command} ended in FAULT")
    return tm, took


async def _started(ctx: Context, rule: str, state: ScoopState) -> Any:
    """The GET_STATUS right after an ACK must already show the motion."""
    status = await ctx.status()
    ctx.check(rule, status.tm.state is state, f"state {status.tm.state.name} right after the ACK")
    return status.tm


async def home(ctx: Context, board: Board) -> None:
    await board.clean(ctx)
    await ctx.ack("HOME")
    tm, took = await _settle_idle(ctx, "HOME", "SCOOP.HOME")
    flags = ScoopFlags.HOMED | ScoopFlags.BOOM_HOME_SWITCH | ScoopFlags.SCOOP_HOME_SWITCH
    angles = (tm.boom_angle_deg, tm.scoop_angle_deg)
    ok = (tm.flags & flags) == flags and all(abs(a) <= HOME_SWITCH_DEG for a in angles)
    ctx.check(
        "HOME",
        ok,
        f"IDLE after {took:.2f} s, boom {angles[0]:.2f}, scoop {angles[1]:.2f} deg, "
        f"flags {flag_names(tm.flags)}",
    )


async def busy(ctx: Context, board: Board) -> None:
    """A motion in progress refuses the others BUSY; a BUSY is cached (it stays BUSY)."""
    await board.clean(ctx)
    tm = (await ctx.status()).tm
    target = tm.boom_angle_deg + (20.0 if tm.boom_angle_deg < 60 else -20.0)
    await ctx.ack("MOVE_JOINT", MoveJoint(Joint.BOOM, target, 10.0))
    homed = bool(tm.flags & ScoopFlags.HOMED)
    for name, args in (
        ("HOME", None),
        ("DIG", Dig(DIG_DEPTH_MM)),
        ("DUMP", DumpCommand(DumpTarget.GROUND)),
        ("TARE", None),
        ("WEIGH", None),
    ):
        exchange = await ctx.ask(name, args)
        ok = exchange.nack == (NackCode.BUSY, NO_ARG)
        what = f"{name}: {describe_nack(exchange)}"
        if name == "DIG" and not homed:
            what += " (not homed: BUSY comes first)"
        ctx.check("BUSY", ok, what)
    move = await ctx.ask("MOVE_JOINT", MoveJoint(Joint.SCOOP, 10.0, 10.0))
    ctx.check("BUSY", move.nack == (NackCode.BUSY, NO_ARG), f"MOVE_JOINT: {describe_nack(move)}")
    idle = await ctx.wait_tm(lambda t: t.state is not ScoopState.MOVING, 5.0, feed=False)
    if idle is None:
        raise StepFailed("the move did not end within 5 s")
    retry = await ctx.wire.request(move.msg_id, seq=move.seq, frame=move.frame)
    same = retry.reply is not None and move.reply is not None
    same = same and retry.reply.payload == move.reply.payload  # type: ignore[union-attr]
    ctx.check(
        "DUP-NACK",
        same,
        "the BUSY MOVE_JOINT retried after the motion ended: "
        + ("the same BUSY" if same else describe_nack(retry)),
    )
    await ctx.ack("STOP")


async def move(ctx: Context, board: Board) -> None:
    await board.clean(ctx)
    before = (await ctx.status()).tm
    target, speed = 30.0, 30.0
    await ctx.ack("MOVE_JOINT", MoveJoint(Joint.BOOM, target, speed))
    await _started(ctx, "MOVE", ScoopState.MOVING)
    tm, took = await _settle_idle(ctx, "MOVE", "SCOOP.MOVE")
    off = abs(tm.boom_angle_deg - target)
    other = abs(tm.scoop_angle_deg - before.scoop_angle_deg)
    nominal = abs(target - before.boom_angle_deg) / speed
    ctx.check(
        "MOVE",
        off <= JOINT_TOLERANCE_DEG and other <= HOME_SWITCH_DEG,
        f"boom {tm.boom_angle_deg:.2f} deg ({off:.2f} off, tolerance {JOINT_TOLERANCE_DEG:g}) "
        f"after {took:.2f} s (|delta|/speed {nominal:.2f} s); scoop moved {other:.2f} deg",
    )

    await ctx.ack("MOVE_JOINT", MoveJoint(Joint.BOOM, 0.0, 5.0))
    await ctx.sleep_board(0.5)
    await ctx.ack("STOP")
    stopped = (await ctx.status()).tm
    await ctx.sleep_board(0.5)
    later = (await ctx.status()).tm
    drift = abs(later.boom_angle_deg - stopped.boom_angle_deg)
    problems = []
    if stopped.state is not ScoopState.IDLE or stopped.flags & ScoopFlags.MOTORS_ON:
        problems.append(f"after STOP: {stopped.state.name}, flags {flag_names(stopped.flags)}")
    if drift > 0.05:
        problems.append(f"the boom moved {drift:.2f} deg after STOP")
    if not stopped.flags & ScoopFlags.HOMED:
        problems.append("HOMED lost")
    ctx.check(
        "STOP-MOTION",
        not problems,
        "; ".join(problems) or f"stopped at {stopped.boom_angle_deg:.2f} deg, IDLE, HOMED kept",
    )


async def sample(ctx: Context, board: Board) -> None:
    """TARE, DIG, WEIGH, DUMP: each ends as the host verifies it."""
    await board.clean(ctx)
    await ctx.ack("TARE")
    window = completion_s("SCOOP.TARE")
    found = await ctx.settle(lambda t: abs(t.load_mass_g) < TARE_WITHIN_G, window)
    ctx.check(
        "TARE",
        found is not None,
        f"load {found[0].load_mass_g:+.2f} g after {found[1]:.2f} s"
        if found
        else "load_mass_g never within 2 g of 0",
    )

    start = (await ctx.status()).tm
    mark = len(ctx.packets)
    await ctx.ack("DIG", Dig(DIG_DEPTH_MM))
    await _started(ctx, "DIG", ScoopState.DIGGING)
    tm, took = await _settle_idle(ctx, "DIG", "SCOOP.DIG")
    deepest = max((p.tm.tool_depth_mm for p in ctx.packets[mark:]), default=0.0)
    back = abs(tm.boom_angle_deg - start.boom_angle_deg)
    nominal = DIG_DEPTH_MM / 5 + 3
    ctx.check(
        "DIG",
        abs(deepest - DIG_DEPTH_MM) <= DIG_DEPTH_TOLERANCE_MM and back <= JOINT_TOLERANCE_DEG,
        f"deepest {deepest:.2f} mm, IDLE after {took:.2f} s (d/5 + 3 = {nominal:.1f} s), "
        f"boom back within {back:.2f} deg, scoop at {tm.scoop_angle_deg:.1f} deg",
    )

    weighed = await ctx.ack("WEIGH")
    result: WeighResult = layout_of(WeighResult).unpack(weighed.body)
    found = await ctx.settle(
        lambda t: abs(t.sample_mass_g - result.mass_g) < 0.01, completion_s("SCOOP.WEIGH")
    )
    ctx.check(
        "WEIGH",
        found is not None,
        f"ACK {result.mass_g:.2f} g, latched after {found[1]:.2f} s"
        if found
        else f"ACK {result.mass_g:.2f} g never in sample_mass_g",
    )

    before = (await ctx.status()).tm
    await ctx.ack("DUMP", DumpCommand(DumpTarget.GROUND))
    await _started(ctx, "DUMP", ScoopState.DUMPING)
    tm, took = await _settle_idle(ctx, "DUMP", "SCOOP.DUMP")
    boom = abs(tm.boom_angle_deg - before.boom_angle_deg)
    ok = (
        tm.load_mass_g < DUMP_EMPTY_G
        and abs(tm.scoop_angle_deg) <= DUMP_ANGLE_TOLERANCE_DEG
        and boom <= HOME_SWITCH_DEG
    )
    ctx.check(
        "DUMP",
        ok,
        f"IDLE after {took:.2f} s, load {tm.load_mass_g:.2f} g, scoop at "
        f"{tm.scoop_angle_deg:.2f} deg, boom moved {boom:.2f} deg",
    )
