"""Rules every board follows: framing, header, NACKs, ranges, duplicates, telemetry, RESET,
the host watchdog and FAULT. Each step names the rules it decides; what differs per board
(what to switch on, what "off" looks like, which commands FAULT refuses) is a
:class:`Board`."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import itertools
import math
import statistics
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, get_type_hints

from cobs import cobs

from flight.catalog import DICTIONARY
from hal.commands import BY_NAME, COMMANDS, CommandSpec, TelemetryRate
from hal.framing import crc16, encode_frame
from hal.layout import layout_of
from hal.message import MsgType, NackCode
from isru.conform.context import (
    KIT_RATE_HZ,
    Context,
    StepFailed,
    describe_nack,
    f32_step,
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


def raw_frame(payload: bytes) -> bytes:
    """COBS(payload + CRC) + 0x00 for any payload, the empty one included."""
    raw = payload + crc16(payload).to_bytes(2, "little")
    return bytes(cobs.encode(raw)) + b"\x00"


def max_frame(ctx: Context) -> tuple[int, bytes]:
    """A new seq and a SET_TM_RATE frame of 254 decoded bytes, none of them zero."""
    for _ in range(256):
        seq = ctx.next_seq()
        if seq == 0:
            continue
        for fill in range(0x41, 0x100):
            payload = bytes((0x11, seq, BY_NAME["SET_TM_RATE"].id)) + bytes([fill]) * 249
            crc = crc16(payload).to_bytes(2, "little")
            if 0 not in crc:
                return seq, bytes(cobs.encode(payload + crc)) + b"\x00"
    raise AssertionError("no zero-free 254-byte frame")  # pragma: no cover


# --- identity -----------------------------------------------------------------------------


async def identity(ctx: Context, board: Board) -> None:
    exchange = await ctx.send("GET_INFO")
    if exchange.nack is not None or len(exchange.body) != 10:
        ctx.fail("INFO-BOARD", f"GET_INFO answered {describe_nack(exchange)}, {exchange.body!r}")
        raise StepFailed("GET_INFO has no BoardInfo")
    info = await ctx.get_info()
    ctx.info = info
    kind = getattr(info.board, "name", str(info.board)).lower()
    ok = kind == board.name and info.protocol_version == 1
    ctx.check(
        "INFO-BOARD",
        ok,
        f"board {kind}, protocol {info.protocol_version}, firmware "
        f"{info.fw_major}.{info.fw_minor}, boot_count {info.boot_count}",
    )
    if kind != board.name:
        raise StepFailed(f"the port has the {kind} board, not the {board.name} board")
    await ctx.measure_clock()
    await ctx.ack("SET_TM_RATE", TelemetryRate(KIT_RATE_HZ))
    await board.clean(ctx)


# --- framing and header ---------------------------------------------------------------


async def framing(ctx: Context, board: Board) -> None:
    get_info, reset = BY_NAME["GET_INFO"].id, BY_NAME["RESET"].id
    boot = (await ctx.get_info()).boot_count
    replies = await ctx.expect_no_reply(bad_crc_frame(reset, ctx.next_seq()))
    replies += await ctx.expect_no_reply(bad_crc_frame(get_info, ctx.next_seq()))
    after = (await ctx.get_info()).boot_count
    ctx.check(
        "FRAME-CRC",
        not replies and after == boot,
        f"replies {replies or 'none'}; boot_count {boot} -> {after} after a bad-CRC RESET",
    )

    cases = {"code byte past the end": b"\x05\x11\x01\x00", "code 0x02 then 0": b"\x02\x11"}
    got = [f"{what}: {r}" for what, data in cases.items() for r in await _silent(ctx, data)]
    ctx.check("FRAME-COBS", not got, "; ".join(got) or "2 invalid COBS frames dropped")

    seq = ctx.next_seq()
    shorts = {0: b"", 1: b"\x11", 2: bytes((0x11, seq))}
    got = [f"{n} bytes: {r}" for n, p in shorts.items() for r in await _silent(ctx, raw_frame(p))]
    ctx.check("FRAME-SHORT", not got, "; ".join(got) or "payloads of 0, 1, 2 bytes ignored")

    seq = ctx.next_seq()
    frame = frame_of(get_info, b"", seq)
    count = await _answers(ctx, b"\x00\x00\x00" + frame + b"\x00\x00", seq, get_info)
    seq2 = ctx.next_seq()
    ctx.wire.write(b"\x07\x41\x42\x43")  # a partial frame, flushed by the next 0x00
    count2 = await _answers(ctx, b"\x00" + frame_of(get_info, b"", seq2), seq2, get_info)
    seq3 = ctx.next_seq()
    frame3 = frame_of(get_info, b"", seq3)
    ctx.wire.write(frame3[:3])
    await asyncio.sleep(0.05)
    count3 = await _answers(ctx, frame3[3:], seq3, get_info)
    ctx.check(
        "FRAME-IDLE",
        (count, count2, count3) == (1, 1, 1),
        f"replies: {count} with 0x00 fill, {count2} after a flushed partial frame, "
        f"{count3} to a frame in two writes 50 ms apart",
    )

    replies = await ctx.expect_no_reply(b"\x41" * 300 + b"\x00")
    answered = (await ctx.send("GET_INFO", attempts=1)).acked
    ctx.check(
        "FRAME-OVERSIZE",
        not replies and answered,
        f"300 bytes: replies {replies or 'none'}; next GET_INFO answered: {answered}",
    )

    seq, frame = max_frame(ctx)
    exchange = await ctx.wire.request(BY_NAME["SET_TM_RATE"].id, seq=seq, frame=frame)
    ok = len(frame) == 256 and frame[0] == 0xFF and exchange.nack == (NackCode.BAD_LENGTH, NO_ARG)
    ctx.check(
        "FRAME-MAX",
        ok,
        f"{len(frame) - 1}-byte encoding, code byte 0x{frame[0]:02X}: {describe_nack(exchange)}",
    )
    seq, frame = max_frame(ctx)
    trailing = frame[:-1] + b"\x01\x00"
    replies = await ctx.expect_no_reply(trailing)
    ctx.check(
        "FRAME-TRAILING",
        not replies,
        f"{len(trailing) - 1}-byte encoding: replies {replies or 'none'}",
    )

    got = []
    for kind in (MsgType.ACK, MsgType.NACK, MsgType.TELEMETRY, 0x0, 0xF):
        data = frame_of(get_info, b"", ctx.next_seq(), kind=int(kind))
        got += [f"type {int(kind)}: {r}" for r in await _silent(ctx, data)]
    ctx.check("OTHER-TYPES", not got, "; ".join(got) or "types 2, 3, 4, 0, 15 ignored")


async def _silent(ctx: Context, data: bytes) -> list[str]:
    replies = await ctx.expect_no_reply(data)
    if replies:
        await ctx.send("GET_INFO")  # the board still answers: only that frame was wrong
    return replies


async def _answers(ctx: Context, data: bytes, seq: int, msg_id: int) -> int:
    mark = ctx.wire.expect_silence()
    exchange = await ctx.wire.request(msg_id, seq=seq, frame=data, attempts=1)
    if exchange.reply is None:
        return 0
    await asyncio.sleep(0.1)
    return sum(
        1
        for r in ctx.wire.replies_since(mark)
        if (r.message.seq, r.message.msg_id) == (seq, msg_id)
    )


async def header(ctx: Context, board: Board) -> None:
    boot = (await ctx.get_info()).boot_count
    results = []
    for version in (0, 2, 15):
        exchange = await ctx.ask("GET_INFO", version=version)
        ok = exchange.nack == (NackCode.BAD_VERSION, NO_ARG)
        ctx.check("VERSION-NACK", ok, f"GET_INFO v{version}: {describe_nack(exchange)}")
        results.append(ok)
    exchange = await ctx.ask("RESET", version=2)
    after = (await ctx.get_info()).boot_count
    ctx.check(
        "VERSION-NACK",
        exchange.nack == (NackCode.BAD_VERSION, NO_ARG) and after == boot,
        f"RESET v2: {describe_nack(exchange)}, boot_count {boot} -> {after}",
    )

    first = await ctx.ask("GET_INFO")
    await asyncio.sleep(0.05)
    v2 = await ctx.ask("GET_INFO", seq=first.seq, version=2)
    again = await ctx.wire.request(first.msg_id, seq=first.seq, frame=first.frame)
    same = again.reply is not None and first.reply is not None
    same = same and again.reply.payload == first.reply.payload  # type: ignore[union-attr]
    ctx.check(
        "VERSION-FIRST",
        v2.nack == (NackCode.BAD_VERSION, NO_ARG) and same,
        f"v2 copy of the last request: {describe_nack(v2)}; v1 retry after it answered "
        f"{'from the cache' if same else 'afresh (the cache was replaced or skipped)'}",
    )

    for msg_id in (0x00, 0x06, 0x0F, 0x30, 0xFF):
        exchange = await ctx.ask(f"0x{msg_id:02X}", msg_id=msg_id)
        ok = exchange.nack == (NackCode.UNKNOWN_COMMAND, NO_ARG)
        ctx.check("UNKNOWN", ok, f"id 0x{msg_id:02X}: {describe_nack(exchange)}")
    for name in board.foreign:
        spec = BY_NAME[name]
        body = b"" if spec.args is None else bytes(layout_of(spec.args).size)
        exchange = await ctx.ask(name, body=body)
        ok = exchange.nack == (NackCode.UNKNOWN_COMMAND, NO_ARG)
        ctx.check("UNKNOWN", ok, f"{name}: {describe_nack(exchange)}")

    for spec in _commands(board):
        size = 0 if spec.args is None else layout_of(spec.args).size
        for length in sorted({size + 1, max(0, size - 1)} - {size}):
            if spec.name == "RESET" and length == 0:
                continue
            exchange = await ctx.ask(spec.name, body=bytes([0x41]) * length)
            ok = exchange.nack == (NackCode.BAD_LENGTH, NO_ARG)
            ctx.check("LENGTH", ok, f"{spec.name} with {length} bytes: {describe_nack(exchange)}")

    unknown = await ctx.ask("0x30", msg_id=0x30, body=b"\x41" * 5)
    nan_rate = TelemetryRate(math.nan)
    long_nan = layout_of(TelemetryRate).pack(nan_rate) + b"\x41"
    length_first = await ctx.ask("SET_TM_RATE", body=long_nan)
    ctx.check(
        "NACK-ORDER",
        unknown.nack == (NackCode.UNKNOWN_COMMAND, NO_ARG)
        and length_first.nack == (NackCode.BAD_LENGTH, NO_ARG),
        f"unknown id with a body: {describe_nack(unknown)}; "
        f"5-byte NaN rate: {describe_nack(length_first)}",
    )

    bad = layout_of(TelemetryRate).pack(TelemetryRate(-1.0))
    nack1 = await ctx.ask("SET_TM_RATE", body=bad)
    nack2 = await ctx.wire.request(nack1.msg_id, seq=nack1.seq, frame=nack1.frame)
    same = nack1.reply is not None and nack2.reply is not None
    same = same and nack1.reply.payload == nack2.reply.payload  # type: ignore[union-attr]
    ctx.check(
        "DUP-NACK",
        nack1.nack == (NackCode.OUT_OF_RANGE, 0) and same,
        f"rate -1: {describe_nack(nack1)}; retry {'identical' if same else 'differs'}",
    )

    body = layout_of(TelemetryRate).pack(TelemetryRate(2000.0))
    refused = await ctx.ask("SET_TM_RATE", body=body)
    good = layout_of(TelemetryRate).pack(TelemetryRate(KIT_RATE_HZ))
    accepted = await ctx.ask("SET_TM_RATE", body=good, seq=refused.seq)
    ctx.check(
        "DUP-BODY",
        refused.nack == (NackCode.OUT_OF_RANGE, 0) and accepted.acked,
        f"seq {refused.seq} rate 2000: {describe_nack(refused)}; same seq, rate "
        f"{KIT_RATE_HZ:g}: {describe_nack(accepted)}",
    )


def _commands(board: Board) -> list[CommandSpec]:
    kind = board.name.upper()
    return [c for c in COMMANDS if c.board is None or c.board.name == kind]


# --- argument ranges ------------------------------------------------------------------


async def ranges(ctx: Context, board: Board) -> None:
    for spec in _commands(board):
        if spec.args is None:
            continue
        layout = layout_of(spec.args)
        base = board.valid_args[spec.name]
        hints = get_type_hints(spec.args)
        for index, (field, wire) in enumerate(zip(layout.fields, layout.wires, strict=True)):
            for text, value, accept in _edge_cases(hints[field.name], wire):
                args = dataclasses.replace(base, **{field.name: value})  # type: ignore[type-var]
                exchange = await ctx.ask(spec.name, body=layout.pack(args))
                nack = exchange.nack
                if accept:
                    ok = nack is None or nack[0] not in (NackCode.OUT_OF_RANGE, NackCode.BAD_LENGTH)
                    if exchange.acked:
                        await board.undo(ctx, spec.name)
                else:
                    ok = nack == (NackCode.OUT_OF_RANGE, index)
                what = f"{spec.name} {field.name}={text}: {describe_nack(exchange)}"
                ctx.check("RANGE-EDGES", ok, what if not ok else f"{spec.name}.{field.name}")
    await board.joint_limits(ctx)
    await ctx.ack("SET_TM_RATE", TelemetryRate(KIT_RATE_HZ))
    await board.clean(ctx)


def _edge_cases(annotation: object, wire: Any) -> list[tuple[str, object, bool]]:
    """(text, value, accepted) for one argument: both ends, just outside, non-numbers."""
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        members = [int(m.value) for m in annotation]
        cases: list[tuple[str, object, bool]] = []
        cases += [(str(v), v, True) for v in (min(members), max(members))]
        return cases + [(str(v), v, False) for v in (max(members) + 1, 0xFF)]
    if wire.lo is None or wire.hi is None:
        return []
    lo, hi = wire.lo, wire.hi
    if wire.fmt != "f":
        cases = [(f"{lo:g}", int(lo), True)]
        cases += [(f"{hi:g}", int(hi), True), (f"{hi + 1:g}", int(hi) + 1, False)]
        return cases + ([(f"{lo - 1:g}", int(lo) - 1, False)] if lo > 0 else [])
    below, above = f32_step(lo, -1), f32_step(hi, 1)
    return [
        (f"{lo:g}", lo, True),
        (f"{hi:g}", hi, True),
        (f"{below!r}", below, False),
        (f"{above!r}", above, False),
        *((str(v), v, False) for v in (math.nan, math.inf, -math.inf)),
    ]


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
    ctx: Context, rule: str, request: Exchange, tripped: Packet | None, quiet: Packet | None
) -> bool:
    """Tripped no earlier than 3.0 s after the last request was sent, and not still quiet
    3.5 s after its reply came (wall clock)."""
    assert request.reply is not None
    if tripped is None:
        ctx.fail(rule, f"no HOST_TIMEOUT within {WATCHDOG_LATEST_S + 2:g} s of silence")
        return False
    at = tripped.frame.at - request.sent_at
    still = None if quiet is None else quiet.frame.at - request.reply.at
    ok = at >= WATCHDOG_S and (still is None or still < WATCHDOG_LATEST_S)
    window = f"between {still:.2f} and {at:.2f} s" if still is not None else f"by {at:.2f} s"
    return ctx.check(rule, ok, f"tripped {window} after the last request")


async def watchdog(ctx: Context, board: Board) -> None:
    await board.clean(ctx)
    await board.actuate(ctx)
    running = await ctx.latest()
    if board.on(running) is None:
        raise StepFailed("nothing could be switched on before the silence")
    homed_before = board.homed(running)
    last = await ctx.send("GET_INFO")
    tripped, quiet = await _silence_until_trip(ctx, board)
    if not _judge_trip(ctx, "WDG-TRIP", last, tripped, quiet):
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
    _judge_trip(ctx, "WDG-FEED", last, tripped, quiet)
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
    _judge_trip(ctx, "WDG-RESET", exchange, tripped, quiet)
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
    for spec in _commands(board):
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
