"""The host watchdog and FAULT, both boards: the silence that trips it, what is fed, what
FAULT allows, and what STOP clears. The watchdog counts real time (ICD §7.4)."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from hal.commands import BY_NAME, BoardInfo, TelemetryRate
from hal.layout import layout_of
from hal.message import MsgType, NackCode
from isru.conform.board_requests import StepFailed, describe_nack
from isru.conform.common import (
    DEFAULT_RATE_HZ,
    NO_ARG,
    WATCHDOG_LATEST_S,
    WATCHDOG_S,
    Board,
    bad_crc_frame,
    frame_of,
)
from isru.conform.context import KIT_RATE_HZ, Context
from isru.conform.wire import Exchange, Packet
from isru.conform.wire_values import since_ms


async def _silence_until_trip(
    ctx: Context, board: Board, *, boot: int | None = None, start: int | None = None
) -> tuple[Packet | None, Packet | None]:
    """Stay silent: the first packet (of boot ``boot``, if given) with HOST_TIMEOUT, and
    the last one before it without. The watchdog counts real time (§7.4), so this waits
    on the wall clock."""
    mark = len(ctx.packets) if start is None else start

    def ours(tm: Any) -> bool:
        return boot is None or tm.boot_count == boot

    flag = board.host_timeout_flag
    found = await ctx.wire.wait_until(
        lambda: next((p for p in ctx.packets[mark:] if ours(p.tm) and p.tm.flags & flag), None),
        WATCHDOG_LATEST_S + 2.0,
    )
    last = found.frame.at if found is not None else math.inf
    quiet = [
        p for p in ctx.packets[mark:] if ours(p.tm) and not p.tm.flags & flag and p.frame.at <= last
    ]
    return found, (quiet[-1] if quiet else None)


def _judge_trip(
    ctx: Context,
    rule: str,
    request: Exchange,
    tripped: Packet | None,
    quiet: Packet | None,
    *,
    last_ms: int,
) -> bool:
    """Tripped no earlier than 3.0 s after the last request and not still quiet 3.5 s
    after it. On hardware the wall clock and the board's clock agree; a simulator at a time
    scale may hold the 3 s on either (its docs say which), so either passes."""
    assert request.reply is not None
    if tripped is None:
        ctx.fail(rule, f"no HOST_TIMEOUT within {WATCHDOG_LATEST_S + 2:g} s of silence")
        return False
    spans = {
        "wall": (
            tripped.frame.at - request.sent_at,
            None if quiet is None else quiet.frame.at - request.reply.at,
        ),
        "board": (
            since_ms(tripped.tm.uptime_ms, last_ms) / 1000,
            None if quiet is None else since_ms(quiet.tm.uptime_ms, last_ms) / 1000,
        ),
    }
    texts, ok = [], False
    for clock, (at, still) in spans.items():
        ok = ok or (at >= WATCHDOG_S - 0.001 and (still is None or still < WATCHDOG_LATEST_S))
        window = f"{still:.2f} to {at:.2f} s" if still is not None else f"by {at:.2f} s"
        texts.append(f"{window} ({clock} clock)")
    return ctx.check(rule, ok, f"tripped {' / '.join(texts)} after the last request")


def _uptime(info: Exchange) -> int:
    """``uptime_ms`` of a GET_INFO's reply."""
    uptime: int = layout_of(BoardInfo).unpack(info.body).uptime_ms
    return uptime


async def watchdog(ctx: Context, board: Board) -> None:
    await board.clean(ctx)
    await board.actuate(ctx)
    running = await ctx.latest()
    if board.on(running) is None:
        raise StepFailed("nothing could be switched on before the silence")
    homed_before = board.homed(running)
    last = await ctx.send("GET_INFO")
    tripped, quiet = await _silence_until_trip(ctx, board)
    if not _judge_trip(ctx, "WDG-TRIP", last, tripped, quiet, last_ms=_uptime(last)):
        raise StepFailed("the watchdog did not trip")
    assert tripped is not None
    tm = tripped.tm
    problems = []
    if tm.state.name != "FAULT":
        problems.append(f"state {tm.state.name}")
    still = board.on(tm)
    if still:
        problems.append(f"still on: {still}")
    ctx.check("WDG-TRIP", not problems, "; ".join(problems) or "actuators off, FAULT")

    retry = await ctx.wire.request(last.msg_id, seq=last.seq, frame=last.frame)
    same = retry.reply is not None and last.reply is not None
    same = same and retry.reply.payload == last.reply.payload  # type: ignore[union-attr]
    ctx.check(
        "DUP-STALE",
        same,
        "the retried GET_INFO got the cached reply (its old uptime) in FAULT"
        if same
        else "the retried GET_INFO was answered afresh",
    )
    await fault_rules(ctx, board)
    await ctx.ack("STOP")
    await _cleared(ctx, board, homed_before)


async def fault_rules(ctx: Context, board: Board) -> None:
    """In FAULT: what is allowed, what is refused, and the order of the checks."""
    for name in ("GET_STATUS", "GET_INFO"):
        exchange = await ctx.ask(name)
        ctx.check("FAULT-ALLOWED", exchange.acked, f"{name}: {describe_nack(exchange)}")
    exchange = await ctx.ask("SET_TM_RATE", TelemetryRate(KIT_RATE_HZ))
    ctx.check("FAULT-ALLOWED", exchange.acked, f"SET_TM_RATE: {describe_nack(exchange)}")
    await board.allowed_in_fault(ctx)
    for name in board.refused_in_fault:
        exchange = await ctx.ask(name, board.valid_args.get(name))
        ok = exchange.nack == (NackCode.FAULT, NO_ARG)
        ctx.check("FAULT-ALLOWED", ok, f"{name}: {describe_nack(exchange)}")
    name, body, index = board.out_of_range
    exchange = await ctx.ask(name, body=body)
    stop_body = await ctx.ask("STOP", body=b"\x00")
    ctx.check(
        "NACK-ORDER",
        exchange.nack == (NackCode.OUT_OF_RANGE, index)
        and stop_body.nack == (NackCode.BAD_LENGTH, NO_ARG),
        f"in FAULT: out-of-range {name} {describe_nack(exchange)}, "
        f"STOP with a body {describe_nack(stop_body)}",
    )


async def _cleared(ctx: Context, board: Board, homed_before: bool | None) -> None:
    status = await ctx.status()
    tm = status.tm
    problems = []
    if tm.state.name == "FAULT" or tm.flags & board.fault_mask:
        problems.append(f"state {tm.state.name}, fault flags 0x{tm.flags & board.fault_mask:04X}")
    if homed_before and not board.homed(tm):
        problems.append("HOMED lost")
    ctx.check(
        "FAULT-CLEAR",
        not problems,
        "; ".join(problems) or f"STOP: {tm.state.name}, fault flags clear",
    )


async def watchdog_feed(ctx: Context, board: Board) -> None:
    await board.clean(ctx)
    mark = len(ctx.packets)
    last = await ctx.send("GET_INFO")
    get_info = BY_NAME["GET_INFO"].id
    await asyncio.sleep(1.0)
    ctx.wire.write(bad_crc_frame(get_info, ctx.next_seq()))
    await asyncio.sleep(0.5)
    await ctx.wire.request(get_info, seq=ctx.next_seq(), version=2, attempts=1)
    await asyncio.sleep(0.5)
    for kind in (MsgType.ACK, MsgType.TELEMETRY, 0xF):
        ctx.wire.write(frame_of(get_info, b"", ctx.next_seq(), kind=int(kind)))
    tripped, quiet = await _silence_until_trip(ctx, board, start=mark)
    _judge_trip(ctx, "WDG-FEED", last, tripped, quiet, last_ms=_uptime(last))
    if tripped is None:
        raise StepFailed("the watchdog did not trip")


async def watchdog_reset(ctx: Context, board: Board) -> None:
    """RESET in FAULT (allowed), then silence: the watchdog trips again 3 s after it."""
    status = await ctx.status()
    if status.tm.state.name != "FAULT":
        raise StepFailed("the board is not in FAULT after the previous silence")
    boot = status.tm.boot_count
    mark = len(ctx.packets)
    exchange = await ctx.send("RESET")
    ctx.check("FAULT-ALLOWED", exchange.acked, f"RESET: {describe_nack(exchange)}")
    new_boot = (boot + 1) & 0xFFFF
    tripped, quiet = await _silence_until_trip(ctx, board, boot=new_boot, start=mark)
    _judge_trip(ctx, "WDG-RESET", exchange, tripped, quiet, last_ms=0)
    await ctx.ack("STOP")
    await _cleared(ctx, board, None)
    await ctx.ack("SET_TM_RATE", TelemetryRate(DEFAULT_RATE_HZ))
