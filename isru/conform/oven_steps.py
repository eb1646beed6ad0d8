"""The oven board's steps: loading a sample, the ranges with the lid open, the lid, eject.
The heater, trap and pump steps are in :mod:`isru.conform.oven_heat`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hal.commands import LidCommand, TelemetryRate
from hal.message import NackCode
from hal.telemetry import OvenFlags, OvenState
from isru.conform import protocol
from isru.conform.board_requests import Status, StepFailed, describe_nack
from isru.conform.common import DEFAULT_RATE_HZ, Board, completion_s
from isru.conform.context import KIT_RATE_HZ, Context
from isru.conform.oven import (
    HEAT,
    NO_SAMPLE,
    SAMPLE_PRESENT_G,
    flag_names,
    has,
    lid_to,
    refused,
    watch,
)
from isru.conform.wire_values import since_ms

#: How long ``--load`` waits for an operator to tip a sample in (board s).
LOAD_WAIT_S = 600.0
#: The reference lid travel; the kit halts a closing lid this far into it.
LID_TRAVEL_S = 2.0
#: A sample hotter than this may not be ejected, nor the lid opened (ICD §4.4).
HOT_C = 60.0


async def load(ctx: Context, board: Board) -> None:
    """With ``--load``: open the lid and wait for an operator to tip a sample in, then seal."""
    await board.clean(ctx)
    tm = (await ctx.status()).tm
    if not has(tm, OvenFlags.SAMPLE_LOADED) and ctx.load_sample:
        try:
            await lid_to(ctx, open=True)
        except StepFailed as exc:
            ctx.say(f"isru conform: cannot load a sample: {exc}")
            raise
        ctx.say(
            "isru conform: the oven's lid is open: tip a sample of at least 1 g into its "
            f"hopper (waiting up to {LOAD_WAIT_S:g} s)"
        )
        found = await ctx.wait_tm(lambda t: has(t, OvenFlags.SAMPLE_LOADED), LOAD_WAIT_S)
        if found is None:
            ctx.say(f"isru conform: no sample came within {LOAD_WAIT_S:g} s")
        else:
            ctx.say(f"isru conform: {found.tm.sample_mass_g:.1f} g loaded; sealing the lid")
    await lid_to(ctx, open=False)


async def ranges(ctx: Context, board: Board) -> None:
    """The range rule with the lid open: HEAT at its edge values (450 degC, 200 W) is then
    refused INTERLOCK after its range check and never switches the heater on."""
    await board.clean(ctx)
    await lid_to(ctx, open=True)
    await protocol.ranges(ctx, board)
    await lid_to(ctx, open=False)


def _at_end(open: bool) -> Callable[[Any], bool]:
    flag = OvenFlags.LID_OPEN if open else OvenFlags.LID_SEALED
    return lambda t: has(t, flag) and not has(t, OvenFlags.LID_MOVING)


async def _drive(ctx: Context, open: bool) -> tuple[int, Status]:
    """SET_LID: the packet count before it and the status right after its ACK."""
    mark = len(ctx.packets)
    await ctx.ack("SET_LID", LidCommand(int(open)))
    started = await ctx.status()
    flags = started.tm.flags
    ok = flags & OvenFlags.LID_MOVING and not flags & (OvenFlags.LID_OPEN | OvenFlags.LID_SEALED)
    what = "opening" if open else "closing"
    ctx.check("OVEN-LID", bool(ok), f"{what}: {flag_names(flags)} right after the ACK")
    return mark, started


async def _arrived(ctx: Context, open: bool, mark: int, started: Status) -> None:
    """The lid at the end it was driven to, within the host's window."""
    name = "LID_OPEN" if open else "LID_SEALED"
    window = completion_s("OVEN.LID")
    end = await ctx.wait_tm(_at_end(open), window, after_ms=started.uptime_ms, start=mark)
    if end is None:
        ctx.fail("OVEN-LID", f"{name} not set within {window:g} s")
        raise StepFailed(f"the lid did not reach {name}")
    took = since_ms(end.tm.uptime_ms, started.uptime_ms) / 1000
    ctx.check("OVEN-LID", True, f"{name} {took:.2f} s after the ACK")


async def lid(ctx: Context, board: Board) -> None:
    """Open (BUSY while it moves), the heater interlocked, close, halt part way, close."""
    await board.clean(ctx)
    await lid_to(ctx, open=False, rule="OVEN-LID")
    mark, started = await _drive(ctx, True)
    for open_ in (1, 0):
        busy = await ctx.ask("SET_LID", LidCommand(open_))
        refused(ctx, "OVEN-BUSY", busy, NackCode.BUSY, f"SET_LID {open_} while the lid moves")
    # Silent until the lid is open (the watchdog's 3 s bound it), then the BUSY again.
    await ctx.wire.wait_until(
        lambda: next((p for p in ctx.packets[mark:] if _at_end(True)(p.tm)), None),
        min(2.5, ctx.wall(LID_TRAVEL_S)),
    )
    retry = await ctx.wire.request(busy.msg_id, seq=busy.seq, frame=busy.frame)
    same = retry.reply is not None and busy.reply is not None
    same = same and retry.reply.payload == busy.reply.payload  # type: ignore[union-attr]
    ctx.check(
        "DUP-NACK",
        same,
        "the BUSY SET_LID retried once the lid stopped: "
        + ("the same BUSY" if same else describe_nack(retry)),
    )
    await _arrived(ctx, True, mark, started)

    for name, args in (("HEAT", HEAT), ("HOLD", None)):
        exchange = await ctx.ask(name, args)
        refused(ctx, "OVEN-INTERLOCK", exchange, NackCode.INTERLOCK, f"{name}, lid open")
        if exchange.acked:
            await board.clean(ctx)
    again = await ctx.ask("SET_LID", LidCommand(1))
    tm = (await ctx.status()).tm
    ctx.check(
        "OVEN-LID",
        again.acked and _at_end(True)(tm),
        f"SET_LID open when open: {describe_nack(again)}, then {flag_names(tm.flags)}",
    )

    await _drive(ctx, False)
    await ctx.sleep_board(LID_TRAVEL_S / 4)
    await ctx.ack("STOP")
    halted = (await ctx.status()).tm
    later = (await watch(ctx, LID_TRAVEL_S) or [halted])[-1]
    lid = OvenFlags.LID_SEALED | OvenFlags.LID_OPEN | OvenFlags.LID_MOVING
    ok = not has(halted, OvenFlags.LID_MOVING) and halted.flags & lid == later.flags & lid
    ctx.check(
        "OVEN-STOP",
        ok,
        f"STOP while closing: lid {flag_names(halted.flags & lid)}, "
        f"{LID_TRAVEL_S:g} s later {flag_names(later.flags & lid)}",
    )
    if not has(later, OvenFlags.LID_SEALED):
        heat = await ctx.ask("HEAT", HEAT)
        refused(ctx, "OVEN-INTERLOCK", heat, NackCode.INTERLOCK, "HEAT, lid part way")
        if heat.acked:
            await board.clean(ctx)
    await _arrived(ctx, False, *await _drive(ctx, False))


async def eject(ctx: Context, board: Board) -> None:
    """EJECT (BUSY while it runs), then HEAT refused: the oven is empty."""
    await ctx.ack("SET_TM_RATE", TelemetryRate(KIT_RATE_HZ))
    await board.clean(ctx)
    await lid_to(ctx, open=False)
    before = (await ctx.status()).tm
    if before.sample_temp_c > HOT_C:
        raise StepFailed(f"the sample is at {before.sample_temp_c:.1f} degC: too hot to eject")
    exchange = await ctx.ask("EJECT")
    started = (await ctx.status()).tm
    again = await ctx.ask("EJECT")
    refused(ctx, "OVEN-BUSY", again, NackCode.BUSY, "EJECT while ejecting")
    found = await ctx.settle(
        lambda t: (
            t.state is OvenState.IDLE
            and not has(t, OvenFlags.SAMPLE_LOADED)
            and t.sample_mass_g < SAMPLE_PRESENT_G
        ),
        completion_s("OVEN.EJECT"),
    )
    ok = exchange.acked and started.state is OvenState.EJECTING and found is not None
    detail = (
        f"{describe_nack(exchange)}, {started.state.name}; {before.sample_mass_g:.1f} g -> "
        + (f"{found[0].sample_mass_g:.2f} g, IDLE after {found[1]:.2f} s" if found else "not IDLE")
    )
    if not has(before, OvenFlags.SAMPLE_LOADED):
        ctx.fail("OVEN-EJECT", f"{NO_SAMPLE}; {detail}")
    ctx.check("OVEN-EJECT", ok, detail)
    heat = await ctx.ask("HEAT", HEAT)
    refused(ctx, "OVEN-INTERLOCK", heat, NackCode.INTERLOCK, "HEAT, lid sealed, oven empty")
    ctx.check("OVEN-INTERLOCK", True, "SET_LID open and EJECT of a hot oven not tried (§11)")
    await board.clean(ctx)
    await ctx.ack("SET_TM_RATE", TelemetryRate(DEFAULT_RATE_HZ))
