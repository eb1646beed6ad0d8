"""The rules judged on everything a board sent during the run, after the last step."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from hal.layout import layout_of
from hal.message import MsgType, NackCode
from isru.conform.common import (
    Board,
    commands_of,
    telemetry_size,
)
from isru.conform.context import Context
from isru.conform.wire import Packet

#: Rules judged on everything the board sent during the run, after the last step.
WHOLE_RUN = (
    "TM-FRAMES",
    "REPLY-ONE",
    "REPLY-FORMAT",
    "REPLY-TIME",
    "STATE-FLAGS",
    "OFF-READINGS",
    "HOME-SWITCH",
    "WATER-LOW",
    "OVEN-FLAGS",
)


def whole_run(ctx: Context, board: Board) -> None:
    log = ctx.wire.log
    stats = ctx.wire.decoder.stats
    errors = stats.crc_errors + stats.framing_errors + stats.oversize
    ctx.check(
        "TM-FRAMES",
        not log.bad_telemetry and errors == 0,
        f"{len(log.telemetry)} packets, {errors} frame error(s)"
        + (f", {log.bad_telemetry[0]}" if log.bad_telemetry else ""),
    )
    stray = [u for u in log.unexpected if "unasked" in u]
    malformed = [u for u in log.unexpected if "unasked" not in u]
    ctx.check(
        "REPLY-ONE",
        not stray,
        stray[0] if stray else f"{len(log.replies)} replies, each to its request",
    )
    malformed += _reply_shapes(board, log.replies)
    ctx.check(
        "REPLY-FORMAT",
        not malformed,
        malformed[0] if malformed else f"{len(log.replies)} replies well formed",
    )
    if log.latencies_s:
        worst = max(log.latencies_s) * 1000
        median = statistics.median(log.latencies_s) * 1000
        note = "" if worst <= 20 else " (over the recommended 20 ms)"
        ctx.check(
            "REPLY-TIME",
            worst <= 200,
            f"max {worst:.1f} ms, median {median:.1f} ms over {len(log.latencies_s)}{note}",
        )
    flags_problems = _state_flags(board, log.telemetry)
    ctx.check(
        "STATE-FLAGS",
        not flags_problems,
        flags_problems[0] if flags_problems else f"{len(log.telemetry)} packets consistent",
    )
    off = [board.off_problem(p.tm) for p in log.telemetry]
    off_problems = [o for o in off if o]
    ctx.check(
        "OFF-READINGS",
        not off_problems,
        off_problems[0] if off_problems else f"{len(log.telemetry)} packets checked",
    )
    board.whole_run(ctx)


def _reply_shapes(board: Board, replies: Sequence[Any]) -> list[str]:
    problems = []
    sizes: dict[int, int] = {}
    for spec in commands_of(board):
        if spec.reply_is_telemetry:
            sizes[spec.id] = telemetry_size(board)
        else:
            sizes[spec.id] = 0 if spec.reply is None else layout_of(spec.reply).size
    for received in replies:
        m = received.message
        if m.type is MsgType.NACK:
            if len(m.body) != 2 or m.body[0] not in {int(c) for c in NackCode}:
                problems.append(f"NACK seq={m.seq} body {m.body.hex(' ')}")
        elif m.msg_id in sizes and len(m.body) != sizes[m.msg_id]:
            problems.append(
                f"ACK id=0x{m.msg_id:02X} with {len(m.body)} bytes, not {sizes[m.msg_id]}"
            )
    return problems


def _state_flags(board: Board, packets: Sequence[Packet]) -> list[str]:
    problems = []
    for p in packets:
        tm = p.tm
        faulted = bool(tm.flags & board.fault_mask)
        if (tm.state.name == "FAULT") != faulted:
            problems.append(
                f"seq {p.seq}: state {tm.state.name} with fault flags "
                f"0x{tm.flags & board.fault_mask:04X}"
            )
        problem = board.flag_problem(tm)
        if problem:
            problems.append(f"seq {p.seq}: {problem}")
    return problems
