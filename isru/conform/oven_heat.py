"""The oven board's heater, cold trap and pump steps: HEAT, HOLD, HEATER_OFF and STOP on a
sample (40 degC at most, 10 W), the trap cold then warm, TRANSFER on either side of 0 degC.
Each ends with the board stopped: heater, pump and trap off."""

from __future__ import annotations

from typing import Any

from hal.commands import TransferCommand, TrapCommand
from hal.message import NackCode
from hal.telemetry import OvenFlags, OvenState
from isru.conform.board_requests import StepFailed, describe_nack
from isru.conform.common import NO_ARG, OFF_BELOW, Board, completion_s
from isru.conform.context import Context
from isru.conform.oven import (
    HEAT,
    HEAT_LIMIT_W,
    HEAT_RAMP_C_PER_MIN,
    NO_SAMPLE,
    POWER_MARGIN_W,
    TRANSFER_G,
    TRAP_COLD_C,
    TRAP_WARM_C,
    flag_names,
    has,
    heating,
    lid_to,
    refused,
    watch,
)
from isru.conform.rules import BY_ID
from isru.conform.wire_values import since_ms

HEAT_WATCH_S = 3.0
HOLD_WATCH_S = 2.0
TRAP_BAND_C = 2.0
TRAP_WINDOW_S = 120.0
HEAT_RULES = ("OVEN-HEAT", "OVEN-HOLD", "OVEN-HEATER-OFF", "OVEN-STOP", "OVEN-INTERLOCK")


async def heater(ctx: Context, board: Board) -> None:
    """HEAT, HOLD, HEATER_OFF, HEAT again and STOP, the trap cold meanwhile."""
    await board.clean(ctx)
    if not has((await ctx.status()).tm, OvenFlags.SAMPLE_LOADED):
        for rule in HEAT_RULES:
            part = {"OVEN-STOP": "STOP while heating", "OVEN-INTERLOCK": "EJECT while heating"}
            ctx.fail(rule, f"{part[rule]} not checked: {NO_SAMPLE}" if rule in part else NO_SAMPLE)
        return
    await lid_to(ctx, open=False)
    await ctx.ack("SET_TRAP", TrapCommand(1, TRAP_COLD_C))  # catches what the sample gives off
    try:
        await _heat(ctx)
        await _hold_and_off(ctx)
        await _stop(ctx)
    except StepFailed as exc:
        # The rules the lid step already passed in part: their heater part was not seen.
        for rule, what in (("OVEN-STOP", "STOP while heating"), ("OVEN-INTERLOCK", "EJECT")):
            if not any(what in note for note in _details(ctx, rule)):
                ctx.fail(rule, f"{what} not checked: {exc}")
        raise
    finally:
        await board.clean(ctx)


def _details(ctx: Context, rule: str) -> list[str]:
    outcome = ctx.verdict(BY_ID[rule])
    return [] if outcome is None else outcome.detail.split("; ")


async def _heating(ctx: Context, rule: str) -> tuple[Any, float]:
    await ctx.ack("HEAT", HEAT)
    found = await ctx.settle(heating, completion_s("OVEN.HEAT"))
    if found is None:
        ctx.fail(rule, "HEATER_ON with HEATING or HOLDING not seen within the host's window")
        raise StepFailed("HEAT did not start")
    return found


async def _heat(ctx: Context) -> None:
    first, took = await _heating(ctx, "OVEN-HEAT")
    limit = HEAT_LIMIT_W + POWER_MARGIN_W
    # A heater above its limit is stopped at once (the step's end sends STOP).
    packets = [first, *await watch(ctx, HEAT_WATCH_S, until=lambda t: t.heater_power_w > limit)]
    problems = [f"{t.state.name}, {flag_names(t.flags)}" for t in packets if not heating(t)]
    problems += [
        f"{t.heater_power_w:.2f} W over the {HEAT_LIMIT_W:g} W limit"
        for t in packets
        if t.heater_power_w > limit
    ]
    if abs(first.heater_setpoint_c - first.sample_temp_c) > 1.0 + took * 0.5:
        problems.append(f"target {first.heater_setpoint_c:.2f} at sample {first.sample_temp_c:.2f}")
    cold = [t for t in packets if t.heater_setpoint_c > t.sample_temp_c + 0.5]
    if cold and max(t.heater_power_w for t in cold) <= 0.0:
        problems.append("no heater power while the sample is below the target")
    ramp = [t for t in packets if abs(t.heater_setpoint_c - HEAT.setpoint_c) > 0.01]
    rate = "target at the setpoint"
    if len(ramp) > 1 and since_ms(ramp[-1].uptime_ms, ramp[0].uptime_ms) >= 1000:
        seconds = since_ms(ramp[-1].uptime_ms, ramp[0].uptime_ms) / 1000
        per_min = abs(ramp[-1].heater_setpoint_c - ramp[0].heater_setpoint_c) / seconds * 60
        rate = f"target ramps {per_min:.1f} degC/min"
        rise = ramp[-1].heater_setpoint_c - ramp[0].heater_setpoint_c
        toward = rise * (HEAT.setpoint_c - ramp[0].heater_setpoint_c) > 0
        if abs(per_min - HEAT_RAMP_C_PER_MIN) > 0.1 * HEAT_RAMP_C_PER_MIN or not toward:
            problems.append(rate + ("" if toward else " away from the setpoint"))
    ctx.check(
        "OVEN-HEAT",
        not problems,
        "; ".join(list(dict.fromkeys(problems))[:2])
        or f"{first.state.name} after {took:.2f} s; {rate}, at most "
        f"{max(t.heater_power_w for t in packets):.2f} W over {len(packets)} packets",
    )
    if problems:
        raise StepFailed("HEAT did not heat as required")
    eject = await ctx.ask("EJECT")
    refused(ctx, "OVEN-INTERLOCK", eject, NackCode.INTERLOCK, "EJECT while heating")


async def _hold_and_off(ctx: Context) -> None:
    await ctx.ack("HOLD")
    found = await ctx.settle(
        lambda t: t.state is OvenState.HOLDING and has(t, OvenFlags.HEATER_ON),
        completion_s("OVEN.HOLD"),
    )
    if found is None:
        ctx.fail("OVEN-HOLD", "HOLDING with HEATER_ON not seen within the host's window")
        raise StepFailed("HOLD did not hold")
    tm, took = found
    frozen = tm.heater_setpoint_c
    packets = await watch(ctx, HOLD_WATCH_S)
    drift = max((abs(t.heater_setpoint_c - frozen) for t in packets), default=0.0)
    problems = [f"{t.state.name}, {flag_names(t.flags)}" for t in packets if not heating(t)]
    problems += [f"{t.state.name}" for t in packets if t.state is not OvenState.HOLDING]
    limit = HEAT_LIMIT_W + POWER_MARGIN_W
    problems += [f"{t.heater_power_w:.2f} W" for t in packets if t.heater_power_w > limit]
    ok = abs(frozen - tm.sample_temp_c) <= 1.0 and drift <= 0.05 and not problems
    ctx.check(
        "OVEN-HOLD",
        ok,
        f"HOLDING after {took:.2f} s, target {frozen:.2f} at sample {tm.sample_temp_c:.2f} "
        f"degC, moved {drift:.3f} degC in {HOLD_WATCH_S:g} s"
        + "".join(f"; then {p}" for p in problems[:1]),
    )
    await ctx.ack("HEATER_OFF")
    found = await ctx.settle(
        lambda t: not has(t, OvenFlags.HEATER_ON) and t.heater_power_w < OFF_BELOW,
        completion_s("OVEN.HEATER_OFF"),
    )
    ctx.check(
        "OVEN-HEATER-OFF",
        found is not None and found[0].state is OvenState.IDLE,
        f"{found[0].state.name}, {found[0].heater_power_w:.2f} W after {found[1]:.2f} s"
        if found
        else "the heater stays on",
    )


async def _stop(ctx: Context) -> None:
    await _heating(ctx, "OVEN-STOP")
    await ctx.ack("STOP")
    found = await ctx.settle(
        lambda t: (
            not has(t, OvenFlags.HEATER_ON | OvenFlags.PUMP_ON) and t.heater_power_w < OFF_BELOW
        ),
        completion_s("OVEN.STOP"),
    )
    if found is None:
        ctx.fail("OVEN-STOP", "the heater stays on after STOP")
        return
    tm, took = found
    ok = tm.state is OvenState.IDLE and has(tm, OvenFlags.TRAP_ON)
    ctx.check(
        "OVEN-STOP",
        ok,
        f"STOP while heating: {tm.state.name}, {flag_names(tm.flags)}, "
        f"{tm.heater_power_w:.2f} W after {took:.2f} s",
    )


async def _trap_to(ctx: Context, setpoint_c: float) -> Any:
    await ctx.ack("SET_TRAP", TrapCommand(1, setpoint_c))
    found = await ctx.settle(lambda t: has(t, OvenFlags.TRAP_ON), completion_s("OVEN.TRAP"))
    if found is None:
        ctx.fail("OVEN-TRAP", "TRAP_ON not set within the host's window")
        raise StepFailed("SET_TRAP did not switch the trap on")
    near = await ctx.settle(lambda t: abs(t.trap_temp_c - setpoint_c) <= TRAP_BAND_C, TRAP_WINDOW_S)
    ctx.check(
        "OVEN-TRAP",
        near is not None,
        f"from {found[0].trap_temp_c:.1f} to {near[0].trap_temp_c:.1f} degC in {near[1]:.1f} s"
        if near
        else f"not within {TRAP_BAND_C:g} degC of {setpoint_c:g} in {TRAP_WINDOW_S:g} s",
    )
    if near is None:
        raise StepFailed(f"the trap did not reach {setpoint_c:g} degC")
    return near[0]


async def trap(ctx: Context, board: Board) -> None:
    """The trap cold (TRANSFER refused: ice), then warm (TRANSFER pumps, or a dry sump)."""
    await board.clean(ctx)
    cold = await _trap_to(ctx, TRAP_COLD_C)
    iced = await ctx.ask("TRANSFER", TransferCommand(TRANSFER_G))
    what = f"TRANSFER, trap at {cold.trap_temp_c:.1f} degC"
    refused(ctx, "OVEN-INTERLOCK", iced, NackCode.INTERLOCK, what)
    refused(ctx, "OVEN-TRANSFER", iced, NackCode.INTERLOCK, what)
    if iced.acked:
        await board.clean(ctx)
        raise StepFailed("TRANSFER ran with the trap below 0 degC")
    warm = await _trap_to(ctx, TRAP_WARM_C)
    await _transfer(ctx, warm)
    await ctx.ack("SET_TRAP", TrapCommand(0, TRAP_WARM_C))
    found = await ctx.settle(lambda t: not has(t, OvenFlags.TRAP_ON), completion_s("OVEN.TRAP"))
    ctx.check(
        "OVEN-TRAP",
        found is not None,
        f"SET_TRAP 0: TRAP_ON clear after {found[1]:.2f} s" if found else "TRAP_ON stays set",
    )


async def _transfer(ctx: Context, warm: Any) -> None:
    before = warm.water_transferred_g
    exchange = await ctx.ask("TRANSFER", TransferCommand(TRANSFER_G))
    at = f"trap at {warm.trap_temp_c:.1f} degC"
    if exchange.nack == (NackCode.INTERLOCK, NO_ARG):
        ctx.check("OVEN-TRANSFER", True, f"{at}: INTERLOCK (a dry sump; pumping not checked)")
        ctx.check("OVEN-BUSY", True, "TRANSFER while pumping not reached (no water)")
        return
    if not exchange.acked:
        ctx.fail("OVEN-TRANSFER", f"{at}: {describe_nack(exchange)}")
        return
    tm = (await ctx.status()).tm
    busy = await ctx.ask("TRANSFER", TransferCommand(TRANSFER_G))
    refused(ctx, "OVEN-BUSY", busy, NackCode.BUSY, "TRANSFER while pumping")
    pumping = tm.state is OvenState.TRANSFERRING and has(tm, OvenFlags.PUMP_ON)
    found = await ctx.settle(
        lambda t: t.state is not OvenState.TRANSFERRING and not has(t, OvenFlags.PUMP_ON),
        completion_s("OVEN.TRANSFER"),
    )
    moved = None if found is None else found[0].water_transferred_g - before
    ok = pumping and moved is not None and 0.0 < moved <= TRANSFER_G + 0.1
    ctx.check(
        "OVEN-TRANSFER",
        ok,
        f"{at}: {tm.state.name} {flag_names(tm.flags)} after the ACK; "
        + (f"{moved:.2f} g moved in {found[1]:.1f} s" if found and moved is not None else "")
        + ("" if found else "the pump never stopped"),
    )
