"""Rules of the frame and the message: identity, framing, the header and its NACKs, the
reply cache's matching, and argument ranges. None of them moves an actuator for long."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import math
from typing import Any, get_type_hints

from cobs import cobs

from hal.commands import BY_NAME, TelemetryRate
from hal.framing import crc16
from hal.layout import layout_of
from hal.message import MsgType, NackCode
from isru.conform.board_requests import StepFailed, describe_nack
from isru.conform.common import NO_ARG, Board, bad_crc_frame, commands_of, frame_of
from isru.conform.context import KIT_RATE_HZ, Context
from isru.conform.wire_values import f32_step


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

    for msg_id in (0x00, 0x06, 0x0F, 0x7E, 0xFF):
        exchange = await ctx.ask(f"0x{msg_id:02X}", msg_id=msg_id)
        ok = exchange.nack == (NackCode.UNKNOWN_COMMAND, NO_ARG)
        ctx.check("UNKNOWN", ok, f"id 0x{msg_id:02X}: {describe_nack(exchange)}")
    for name in board.foreign:
        spec = BY_NAME[name]
        body = b"" if spec.args is None else bytes(layout_of(spec.args).size)
        exchange = await ctx.ask(name, body=body)
        ok = exchange.nack == (NackCode.UNKNOWN_COMMAND, NO_ARG)
        ctx.check("UNKNOWN", ok, f"{name}: {describe_nack(exchange)}")

    for spec in commands_of(board):
        size = 0 if spec.args is None else layout_of(spec.args).size
        for length in sorted({size + 1, max(0, size - 1)} - {size}):
            if spec.name == "RESET" and length == 0:
                continue
            exchange = await ctx.ask(spec.name, body=bytes([0x41]) * length)
            ok = exchange.nack == (NackCode.BAD_LENGTH, NO_ARG)
            ctx.check("LENGTH", ok, f"{spec.name} with {length} bytes: {describe_nack(exchange)}")

    unknown = await ctx.ask("0x7E", msg_id=0x7E, body=b"\x41" * 5)
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


# --- argument ranges ------------------------------------------------------------------


async def ranges(ctx: Context, board: Board) -> None:
    for spec in commands_of(board):
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
