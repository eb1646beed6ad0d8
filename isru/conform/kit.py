"""The run: one board's steps in order, each deciding its rules, then the whole-run rules.

A step that cannot go on (no reply, the board not in the state it needs) fails the rules it
had yet to decide and the run goes on with the next step from a clean state; a board that
stops answering altogether ends the run, and every rule not decided is a FAIL.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Collection

from hal.errors import PortError
from isru.conform import (
    common,
    elec,
    oven,
    oven_heat,
    oven_steps,
    protocol,
    scoop,
    scoop_steps,
    watchdog,
    whole_run,
)
from isru.conform.board_requests import StepFailed
from isru.conform.common import Board, Step
from isru.conform.context import Context
from isru.conform.report import Outcome, Report
from isru.conform.rules import rules_for
from isru.conform.wire import BoardWire

COMMON_FIRST = (
    Step("identity", ("INFO-BOARD",), protocol.identity),
    Step(
        "framing",
        (
            "FRAME-CRC",
            "FRAME-COBS",
            "FRAME-SHORT",
            "FRAME-IDLE",
            "FRAME-OVERSIZE",
            "FRAME-MAX",
            "FRAME-TRAILING",
            "OTHER-TYPES",
        ),
        protocol.framing,
    ),
    Step(
        "header",
        (
            "VERSION-NACK",
            "VERSION-FIRST",
            "UNKNOWN",
            "LENGTH",
            "NACK-ORDER",
            "DUP-NACK",
            "DUP-BODY",
        ),
        protocol.header,
    ),
    Step("ranges", ("RANGE-EDGES", "JOINT-LIMITS"), protocol.ranges),
    Step("telemetry", ("TM-RATE", "TM-STATUS", "TM-OFF"), common.telemetry),
)
COMMON_LAST = (
    Step(
        "watchdog",
        ("WDG-TRIP", "DUP-STALE", "FAULT-ALLOWED", "NACK-ORDER", "FAULT-CLEAR"),
        watchdog.watchdog,
    ),
    Step("watchdog feed", ("WDG-FEED",), watchdog.watchdog_feed),
    Step(
        "watchdog after RESET",
        ("WDG-RESET", "FAULT-ALLOWED", "FAULT-CLEAR"),
        watchdog.watchdog_reset,
        needs=("watchdog feed",),
    ),
)
RESET = Step(
    "reset", ("RESET-DEAF", "DUP-ONCE", "RESET-BOOT", "NOT-HOMED", "OVEN-BOOT"), common.reset
)
#: The oven's first steps: a sample loaded after the identity, the ranges with the lid open.
OVEN_FIRST = (
    COMMON_FIRST[0],
    Step("load", (), oven_steps.load),
    *(
        dataclasses.replace(s, run=oven_steps.ranges) if s.name == "ranges" else s
        for s in COMMON_FIRST[1:]
    ),
)

PLANS: dict[str, tuple[Board, tuple[Step, ...]]] = {
    "scoop": (
        scoop.BOARD,
        (
            *COMMON_FIRST,
            Step("home", ("HOME",), scoop_steps.home),
            RESET,
            Step("busy", ("BUSY", "DUP-NACK"), scoop_steps.busy),
            Step("home again", ("HOME",), scoop_steps.home),
            Step("move", ("MOVE", "STOP-MOTION"), scoop_steps.move, needs=("home again",)),
            Step(
                "sample",
                ("TARE", "DIG", "WEIGH", "DUMP"),
                scoop_steps.sample,
                needs=("home again",),
            ),
            *COMMON_LAST,
        ),
    ),
    "elec": (
        elec.BOARD,
        (
            *COMMON_FIRST,
            RESET,
            Step("start", ("START", "START-AGAIN"), elec.start),
            Step("heater", ("HEATER",), elec.heater),
            Step("valves", ("VALVES",), elec.valves),
            Step("stop", ("STOP-CELL",), elec.stop),
            *COMMON_LAST,
        ),
    ),
    "oven": (
        oven.BOARD,
        (
            *OVEN_FIRST,
            RESET,
            Step(
                "lid",
                ("OVEN-LID", "OVEN-BUSY", "DUP-NACK", "OVEN-INTERLOCK", "OVEN-STOP"),
                oven_steps.lid,
            ),
            Step("heater", oven_heat.HEAT_RULES, oven_heat.heater, needs=("load",)),
            Step(
                "trap",
                ("OVEN-TRAP", "OVEN-TRANSFER", "OVEN-INTERLOCK", "OVEN-BUSY"),
                oven_heat.trap,
            ),
            *COMMON_LAST,
            Step(
                "eject",
                ("OVEN-EJECT", "OVEN-BUSY", "OVEN-INTERLOCK"),
                oven_steps.eject,
                needs=("load",),
            ),
        ),
    ),
}


async def run(
    url: str,
    board_name: str,
    *,
    baudrate: int = 115200,
    only: Collection[str] | None = None,
    load: bool = False,
    say: Callable[[str], None] | None = None,
) -> Report:
    """Check every rule of ``board_name`` (or the rules ``only`` names) against the board
    at ``url``. Raises :class:`PortError` when the port cannot be opened, ValueError for
    an unknown board or rule. The oven: with ``load`` the kit opens the lid and waits for
    an operator to tip a sample in, telling them through ``say``."""
    if board_name not in PLANS:
        raise ValueError(f"board: must be scoop, elec or oven, got {board_name!r}")
    board, steps = PLANS[board_name]
    selected = select(board_name, only)
    steps = _steps_for(steps, selected)
    wire = BoardWire(
        url, baudrate=baudrate, packet_id=board.packet_id, telemetry_class=board.telemetry_class
    )
    await wire.open()
    ctx = Context(wire, board_name)
    ctx.load_sample = load
    if say is not None:
        ctx.say = say
    stopped = ""
    try:
        for step in steps:
            if stopped:
                break
            try:
                await step.run(ctx, board)
            except (StepFailed, ConnectionError) as exc:
                _fail_open(ctx, step, f"{step.name}: {exc}")
                if step.name == "identity":
                    stopped = str(exc)
                    break
                stopped = await _recover(ctx, board)
        if not stopped:
            whole_run.whole_run(ctx, board)
    finally:
        if not stopped and not wire.lost:
            with contextlib.suppress(StepFailed, ConnectionError):
                await board.clean(ctx)
        wire.close()
    outcomes = []
    for rule in rules_for(board_name):
        if rule.id not in selected:
            continue
        verdict = ctx.verdict(rule)
        if verdict is None:
            reason = f"not checked: {stopped}" if stopped else "not checked"
            verdict = Outcome(rule, False, reason)
        outcomes.append(verdict)
    return Report(board_name, url, _identity(ctx), tuple(outcomes))


def select(board_name: str, only: Collection[str] | None) -> set[str]:
    """The rule ids to report; ValueError naming a rule that is not the board's."""
    ids = {rule.id for rule in rules_for(board_name)}
    if only is None:
        return ids
    unknown = sorted(set(only) - ids)
    if unknown:
        raise ValueError(f"rules: {', '.join(unknown)} not a rule of the {board_name} board")
    return set(only)


def _steps_for(steps: tuple[Step, ...], selected: set[str]) -> tuple[Step, ...]:
    """The steps that decide ``selected`` with the steps they need, in plan order."""
    wanted = {s.name for s in steps if s.name == "identity" or selected & set(s.covers)}
    for step in reversed(steps):
        if step.name in wanted:
            wanted |= set(step.needs)
    return tuple(s for s in steps if s.name in wanted)


def _fail_open(ctx: Context, step: Step, reason: str) -> None:
    for rule_id in step.covers:
        rule = next((r for r in rules_for(ctx.board) if r.id == rule_id), None)
        if rule is not None and ctx.verdict(rule) is None:
            ctx.fail(rule_id, reason)


async def _recover(ctx: Context, board: Board) -> str:
    """Back to a clean state after a failed step; why the run must stop, or ''."""
    try:
        await board.clean(ctx)
    except (StepFailed, ConnectionError) as exc:
        return f"the board stopped answering ({exc})"
    return ""


def _identity(ctx: Context) -> str:
    info = ctx.info
    if info is None:
        return "no BoardInfo: the board did not identify itself"
    return (
        f"firmware {info.fw_major}.{info.fw_minor}, protocol {info.protocol_version}, "
        f"boot_count {info.boot_count}; board clock {ctx.scale:.2f} s per wall s"
    )


__all__ = ["PLANS", "PortError", "run"]
