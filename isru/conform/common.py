"""What the steps share, and the rules of both boards that take time: the telemetry rate,
RESET, the host watchdog and FAULT, and the rules judged on the whole run. Each step names
the rules it decides (:class:`Step`); what differs per board (what to switch on, what "off"
looks like, which commands FAULT refuses) is a :class:`Board`. The frame and header rules
are in :mod:`isru.conform.protocol`."""

from __future__ import annotations

import asyncio
import itertools
import math
import statistics
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from cobs import cobs

from hal.commands import BY_NAME, COMMANDS, BoardInfo, CommandSpec, TelemetryRate
from hal.framing import crc16, encode_frame
from hal.layout import layout_of
from hal.message import MsgType, NackCode
from interface.catalog import DICTIONARY
from isru.conform.context import (
    KIT_RATE_HZ,
    Context,
    StepFailed,
    describe_nack,
    since_ms,
)
from isru.conform.wire import Exchange, Packet

NO_ARG = 0xFF
#: Readings with an actuator off stay below this (A, V, W).
OFF_BELOW = 0.05
#: The host watchdog: trips after 3 s of silence, by 3.5 s at the latest.
WATCHDOG_S = 3.0
WATCHDOG_LATEST_S = 3.5
DEFAULT_RATE_HZ = 10.0


def completion_s(command: str) -> float:
    """The flight software's completion window for ``command`` (mission seconds)."""
    return DICTIONARY.command_index[command].completion_timeout_s


@dataclass(frozen=True, slots=True)
class Step:
    """One scenario; a :class:`StepFailed` in it fails the rules it had yet to decide."""

    name: str
    covers: tuple[str, ...]
    run: Callable[[Context, Board], Awaitable[None]]
    #: Steps that must have run before this one (when rules are selected).
    needs: tuple[str, ...] = ()


class Board:
    """What the common rules need to know of one board; subclassed per board."""

    name: str
    telemetry_class: type[Any]
    packet_id: int
    #: Flag bits that latch a FAULT, and the watchdog's own bit among them.
    fault_mask: int
    host_timeout_flag: int
    #: A valid argument instance for each of the board's commands with arguments.
    valid_args: ClassVar[dict[str, object]]
    #: Board commands a board in FAULT must refuse (sent with ``valid_args``).
    refused_in_fault: tuple[str, ...]
    #: The other board's commands, each refused UNKNOWN_COMMAND here.
    foreign: tuple[str, ...]
    #: A request refused OUT_OF_RANGE (command, body, argument index), even in FAULT.
    out_of_range: tuple[str, bytes, int]

    async def clean(self, ctx: Context) -> None:
        """Every actuator off and no FAULT: the start of a step."""
        await ctx.ack("STOP")

    async def actuate(self, ctx: Context) -> None:
        """Switch on what the watchdog or a RESET must switch off."""
        raise NotImplementedError

    async def undo(self, ctx: Context, command: str) -> None:
        """Switch off what an accepted range-edge ``command`` switched on."""
        if command == "SET_TM_RATE":
            await ctx.ack("SET_TM_RATE", TelemetryRate(KIT_RATE_HZ))

    def on(self, tm: Any) -> str | None:
        """What is still on in ``tm`` (None when every actuator is off)."""
        raise NotImplementedError

    def homed(self, tm: Any) -> bool | None:
        """Whether the board is homed (None for a board without homing)."""
        return None

    def boot_problems(self, tm: Any) -> list[str]:
        """What the first packet of a fresh boot shows that it should not."""
        problem = self.on(tm)
        return [] if problem is None else [f"on after boot: {problem}"]

    async def after_reset(self, ctx: Context) -> None:
        """Board rules checked right after a RESET."""

    async def allowed_in_fault(self, ctx: Context) -> None:
        """Board commands a board in FAULT must still carry out."""

    async def joint_limits(self, ctx: Context) -> None:
        """Board-specific argument limits beyond the declared ranges."""

    def off_problem(self, tm: Any) -> str | None:
        """A reading of ``tm`` that is not near 0 although its actuator is off."""
        return None

    def flag_problem(self, tm: Any) -> str | None:
        """A flag of ``tm`` that contradicts its state or readings."""
        return None

    def whole_run(self, ctx: Context) -> None:
        """Board rules judged on every packet of the run."""


def frame_of(msg_id: int, body: bytes, seq: int, version: int = 1, kind: int = 1) -> bytes:
    """A wire frame with any header: ``kind`` is the type nibble, ``version`` the version."""
    payload = bytes(((version << 4) | kind, seq, msg_id)) + body
    return encode_frame(payload)


def bad_crc_frame(msg_id: int, seq: int) -> bytes:
    payload = bytes((0x11, seq, msg_id))
    crc = crc16(payload) ^ 0x5A5A
    return bytes(cobs.encode(payload + crc.to_bytes(2, "little"))) + b"\x00"


def commands_of(board: Board) -> list[CommandSpec]:
    """The commands ``board`` answers: the common ones and its own."""
    kind = board.name.upper()
    return [c for c in COMMANDS if c.board is None or c.board.name == kind]


# --- telemetry ------------------------------------------------------------------------


async def telemetry(ctx: Context, board: Board) -> None:
    for rate in (5.0, KIT_RATE_HZ):
        await _rate(ctx, rate, window_s=max(1.0, 10 / rate))

    before = (await ctx.get_info()).uptime_ms
    await ctx.ack("SET_TM_RATE", TelemetryRate(0.0))
    quiet_from = (await ctx.status()).uptime_ms
    mark = len(ctx.packets)
    await ctx.sleep_board(1.0)
    await ctx.send("GET_INFO")
    await ctx.sleep_board(0.5)
    late = [p for p in ctx.packets[mark:] if 0 < since_ms(p.tm.uptime_ms, quiet_from) < 1 << 31]
    status = await ctx.send("GET_STATUS")
    ok = not late and status.acked and len(status.body) == _size(board)
    ctx.check(
        "TM-OFF",
        ok,
        f"{len(late)} packet(s) made after rate 0 (requested at {before} ms); "
        f"GET_STATUS {describe_nack(status)} with {len(status.body)} bytes",
    )
    await ctx.ack("SET_TM_RATE", TelemetryRate(KIT_RATE_HZ))
    resumed = await ctx.wait_tm(lambda _tm: True, 1.0)
    ctx.check("TM-OFF", resumed is not None, "the stream resumes at a new rate")


async def _rate(ctx: Context, rate: float, *, window_s: float) -> None:
    before = (await ctx.get_info()).uptime_ms
    ack = await ctx.ack("SET_TM_RATE", TelemetryRate(rate))
    assert ack.reply is not None
    start = len(ctx.packets)
    statuses = 0
    for _ in range(4):
        await ctx.sleep_board(window_s / 4)
        await ctx.status()
        statuses += 1
    packets = [p for p in ctx.packets[start:] if p.frame.at >= ack.reply.at]
    packets = [p for p in packets if since_ms(p.tm.uptime_ms, before) < 1 << 31]
    period_ms = 1000 / rate
    if len(packets) < 3:
        ctx.fail("TM-RATE", f"{rate:g} Hz: {len(packets)} packet(s) in {window_s:g} s")
        return
    first = since_ms(packets[0].tm.uptime_ms, before)
    times = [p.tm.uptime_ms for p in packets]
    mean = since_ms(times[-1], times[0]) / (len(times) - 1)
    gaps = sum(1 for a, b in itertools.pairwise(packets) if (b.seq - a.seq) & 0xFF != 1)
    ok = first <= period_ms + 100 and abs(mean - period_ms) <= 0.1 * period_ms and not gaps
    ctx.check(
        "TM-RATE",
        ok,
        f"{rate:g} Hz: first packet {first} ms after the request, mean period "
        f"{mean:.1f} ms over {len(packets)}, {gaps} seq gap(s)",
    )
    ctx.check(
        "TM-STATUS",
        not gaps,
        f"{statuses} GET_STATUS during the {rate:g} Hz stream: "
        + (f"{gaps} gap(s) in the stream's seq" if gaps else "no seq taken"),
    )


def _size(board: Board) -> int:
    return layout_of(board.telemetry_class).size


# --- RESET and duplicates ---------------------------------------------------------------


async def reset(ctx: Context, board: Board) -> None:
    await board.actuate(ctx)
    boot = (await ctx.get_info()).boot_count
    seq = ctx.next_seq()
    first = await ctx.wire.request(BY_NAME["RESET"].id, seq=seq, attempts=1)
    if first.reply is None or not first.acked:
        ctx.fail("RESET-BOOT", f"RESET answered {describe_nack(first)}")
        raise StepFailed("RESET not ACKed")
    acked_at = first.reply.at
    mark = len(ctx.packets)
    retry = await ctx.wire.request(BY_NAME["RESET"].id, seq=seq, frame=first.frame)
    deaf_ms = None if retry.reply is None else (retry.reply.at - acked_at) * 1000
    ctx.check(
        "RESET-DEAF",
        retry.reply is not None,
        f"answered {deaf_ms:.0f} ms (wall) after the RESET ACK, attempt {retry.attempts}"
        if deaf_ms is not None
        else "no answer within 4 x 200 ms of the RESET ACK",
    )
    identical = retry.reply is not None and retry.reply.payload == first.reply.payload
    after = (await ctx.get_info()).boot_count
    ctx.check(
        "DUP-ONCE",
        identical and after == (boot + 1) & 0xFFFF,
        f"retry {'identical' if identical else 'differs'}; boot_count {boot} -> {after}",
    )
    new = await ctx.wait_tm(lambda tm: tm.boot_count == after, 2.0, start=mark)
    if new is None:
        ctx.fail("RESET-BOOT", "no telemetry from the new boot within 2 s")
        return
    await ctx.sleep_board(1.2)
    booted = [p for p in ctx.packets[mark:] if p.tm.boot_count == after]
    seqs = [p.seq for p in booted]
    times = [p.tm.uptime_ms for p in booted]
    mean = since_ms(times[-1], times[0]) / max(1, len(times) - 1)
    problems = board.boot_problems(booted[0].tm)
    if seqs[:3] != list(range(min(3, len(seqs)))):
        problems.append(f"telemetry seq {seqs[:3]} (expected 0, 1, 2)")
    if times[0] > 1000:
        problems.append(f"first packet at uptime {times[0]} ms")
    if len(times) < 5 or abs(mean - 100) > 10:
        problems.append(f"mean period {mean:.1f} ms over {len(times)} packets (10 Hz: 100)")
    ctx.check(
        "RESET-BOOT",
        not problems,
        "; ".join(problems)
        or f"boot_count {after}, first packet seq 0 at {times[0]} ms, 10 Hz, actuators off",
    )
    await board.after_reset(ctx)
    await ctx.ack("SET_TM_RATE", TelemetryRate(KIT_RATE_HZ))


# --- the host watchdog and FAULT --------------------------------------------------------


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


# --- over the whole run -----------------------------------------------------------------

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
            sizes[spec.id] = _size(board)
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
