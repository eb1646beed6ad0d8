"""The oven board as the kit sees it: what to switch on, what "off" looks like, what its
flags must show, its boot, and the lid moves the steps share. Its steps (lid, heater, trap
and pump, eject, loading a sample) are in :mod:`isru.conform.oven_steps`.

The kit runs against real hardware, so it heats little: HEAT to 40 degC at 30 degC/min with
a 10 W limit, a few seconds at a time, the cold trap between -10 and +10 degC, and it stops
the board (heater, pump and trap off) after every step and whenever a step fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from hal.commands import (
    HeatCommand,
    LidCommand,
    TelemetryRate,
    TransferCommand,
    TrapCommand,
)
from hal.layout import layout_of
from hal.message import NackCode
from hal.telemetry import OvenFlags, OvenState, OvenTelemetry, PacketId
from isru.conform.board_requests import StepFailed, describe_nack
from isru.conform.common import NO_ARG, OFF_BELOW, Board, completion_s
from isru.conform.context import KIT_RATE_HZ, Context
from isru.conform.wire_values import UPTIME_WRAP, since_ms

HEAT_SETPOINT_C = 40.0
HEAT_RAMP_C_PER_MIN = 30.0
HEAT_LIMIT_W = 10.0
#: A measured heater power may read this much above the limit.
POWER_MARGIN_W = 0.5
HEAT = HeatCommand(HEAT_SETPOINT_C, HEAT_RAMP_C_PER_MIN, HEAT_LIMIT_W)
TRAP_COLD_C = -10.0
TRAP_WARM_C = 10.0
TRANSFER_G = 0.5
SAMPLE_PRESENT_G = 1.0
#: Readings this close to a threshold may show the flag either way.
EDGE = 0.001
LID_ENDS = OvenFlags.LID_SEALED | OvenFlags.LID_OPEN
LID_FLAGS = (OvenFlags.LID_SEALED, OvenFlags.LID_OPEN, OvenFlags.LID_MOVING)
HEATING = (OvenState.HEATING, OvenState.HOLDING)
FAULT_FLAGS = (
    OvenFlags.OVERTEMP
    | OvenFlags.OVERPRESSURE
    | OvenFlags.SENSOR_FAULT
    | OvenFlags.PUMP_STALL
    | OvenFlags.HOST_TIMEOUT
)
NO_SAMPLE = "no sample in the oven (SAMPLE_LOADED clear): load one, e.g. with --load"


def has(tm: Any, flag: OvenFlags) -> bool:
    return bool(tm.flags & flag)


def flag_names(flags: int) -> str:
    """The names of the oven flags set in ``flags`` (``none``)."""
    return "+".join(f.name for f in OvenFlags if f & flags and f.name) or "none"


def refused(ctx: Context, rule: str, exchange: Any, code: NackCode, what: str) -> bool:
    """Check that ``exchange`` was refused ``code`` (``what`` names the request)."""
    return ctx.check(rule, exchange.nack == (code, NO_ARG), f"{what}: {describe_nack(exchange)}")


def heating(tm: Any) -> bool:
    return tm.state in HEATING and has(tm, OvenFlags.HEATER_ON)


async def lid_to(ctx: Context, *, open: bool, rule: str | None = None) -> tuple[Any, float]:
    """SET_LID and wait as the host does for the lid at its end; the snapshot and the
    board seconds it took. :class:`StepFailed` (and ``rule`` failed) otherwise."""
    flag = OvenFlags.LID_OPEN if open else OvenFlags.LID_SEALED
    exchange = await ctx.ask("SET_LID", LidCommand(int(open)))
    if not exchange.acked:
        if rule:
            ctx.fail(rule, f"SET_LID {int(open)}: {describe_nack(exchange)}")
        raise StepFailed(f"SET_LID {int(open)} answered {describe_nack(exchange)}")
    window = completion_s("OVEN.LID")
    found = await ctx.settle(lambda t: has(t, flag) and not has(t, OvenFlags.LID_MOVING), window)
    if found is None:
        if rule:
            ctx.fail(rule, f"{flag.name} not set within {window:g} s")
        raise StepFailed(f"the lid did not reach {flag.name}")
    return found


async def watch(
    ctx: Context, board_s: float, *, until: Callable[[Any], bool] | None = None
) -> list[Any]:
    """Every packet of the next ``board_s`` board seconds (the watchdog fed meanwhile), or
    up to the first for which ``until`` holds."""
    start = len(ctx.packets)
    now = await ctx.status()
    stop = until or (lambda _tm: False)
    await ctx.wait_tm(stop, board_s, after_ms=now.uptime_ms, start=start)
    return [
        p.tm
        for p in ctx.packets[start:]
        if since_ms(p.tm.uptime_ms, now.uptime_ms) < UPTIME_WRAP // 2
    ]


class OvenBoard(Board):
    name = "oven"
    telemetry_class = OvenTelemetry
    packet_id = int(PacketId.OVEN)
    fault_mask = int(FAULT_FLAGS)
    host_timeout_flag = int(OvenFlags.HOST_TIMEOUT)
    valid_args: ClassVar[dict[str, object]] = {
        "SET_TM_RATE": TelemetryRate(KIT_RATE_HZ),
        "SET_LID": LidCommand(0),
        "HEAT": HEAT,
        "SET_TRAP": TrapCommand(0, TRAP_WARM_C),
        "TRANSFER": TransferCommand(TRANSFER_G),
    }
    refused_in_fault = ("SET_LID", "HEAT", "HOLD", "HEATER_OFF", "TRANSFER", "EJECT")
    foreign = (
        "HOME",
        "MOVE_JOINT",
        "DIG",
        "TARE",
        "WEIGH",
        "DUMP",
        "SET_CURRENT",
        "START",
        "SET_VALVE",
        "SET_HEATER",
    )
    out_of_range = ("TRANSFER", layout_of(TransferCommand).pack(TransferCommand(0.0)), 0)

    async def clean(self, ctx: Context) -> None:
        await ctx.ack("STOP")
        await ctx.ack("SET_TRAP", TrapCommand(0, TRAP_WARM_C))

    async def actuate(self, ctx: Context) -> None:
        """The trap on; with a sample, the lid sealed and the heater on (40 degC, 10 W)."""
        await ctx.ack("SET_TRAP", TrapCommand(1, TRAP_COLD_C))
        if has((await ctx.status()).tm, OvenFlags.SAMPLE_LOADED):
            await lid_to(ctx, open=False)
            await ctx.ack("HEAT", HEAT)

    async def undo(self, ctx: Context, command: str) -> None:
        await super().undo(ctx, command)
        if command != "SET_TM_RATE":
            await self.clean(ctx)

    def on(self, tm: Any) -> str | None:
        names = (OvenFlags.HEATER_ON, OvenFlags.TRAP_ON, OvenFlags.PUMP_ON, OvenFlags.LID_MOVING)
        return "+".join(f.name for f in names if f.name and has(tm, f)) or None

    def boot_problems(self, tm: Any) -> list[str]:
        problems = super().boot_problems(tm)
        if tm.state is not OvenState.IDLE:
            problems.append(f"state {tm.state.name} after boot")
        return problems

    async def after_reset(self, ctx: Context) -> None:
        packets = ctx.packets
        boots = [i for i in range(1, len(packets)) if _boot(packets[i]) != _boot(packets[i - 1])]
        if not boots:
            ctx.fail("OVEN-BOOT", "no packet of the old and the new boot")
            return
        before, first = packets[boots[-1] - 1].tm, packets[boots[-1]].tm
        problems = self.boot_problems(first)
        if first.heater_power_w >= OFF_BELOW or first.heater_setpoint_c != 0.0:
            problems.append(f"heater {first.heater_power_w:.2f} W, {first.heater_setpoint_c} degC")
        counters = (first.heater_energy_wh, first.water_collected_g, first.water_transferred_g)
        if max(abs(c) for c in counters) >= 0.01:
            problems.append(f"energy and water counters {counters} after boot")
        if first.flags & LID_ENDS != before.flags & LID_ENDS:
            problems.append(
                f"lid {flag_names(before.flags & LID_ENDS)} before the RESET, "
                f"{flag_names(first.flags & LID_ENDS)} after"
            )
        ctx.check(
            "OVEN-BOOT",
            not problems,
            "; ".join(problems)
            or f"first packet: {first.state.name}, flags {flag_names(first.flags)} "
            f"(lid as before), heater 0 W, counters 0",
        )

    async def allowed_in_fault(self, ctx: Context) -> None:
        exchange = await ctx.ask("SET_TRAP", TrapCommand(1, TRAP_COLD_C))
        on = await ctx.wait_tm(lambda t: has(t, OvenFlags.TRAP_ON), 2.0)
        ctx.check(
            "FAULT-ALLOWED",
            exchange.acked and on is not None,
            f"SET_TRAP on: {describe_nack(exchange)}, TRAP_ON {'set' if on else 'never set'}",
        )
        exchange = await ctx.ask("SET_TRAP", TrapCommand(0, TRAP_WARM_C))
        ctx.check("FAULT-ALLOWED", exchange.acked, f"SET_TRAP off: {describe_nack(exchange)}")

    def off_problem(self, tm: Any) -> str | None:
        if not has(tm, OvenFlags.HEATER_ON) and abs(tm.heater_power_w) >= OFF_BELOW:
            return f"heater off but {tm.heater_power_w:.2f} W"
        return None

    def flag_problem(self, tm: Any) -> str | None:
        heater, pump = has(tm, OvenFlags.HEATER_ON), has(tm, OvenFlags.PUMP_ON)
        state = tm.state
        if state in HEATING and (not heater or pump):
            return f"{state.name} with flags {flag_names(tm.flags)}"
        if state is OvenState.TRANSFERRING and not pump:
            return "TRANSFERRING without PUMP_ON"
        if state in (OvenState.IDLE, OvenState.FAULT) and (heater or pump):
            return f"{state.name} with flags {flag_names(tm.flags)}"
        if state is OvenState.EJECTING and heater:
            return "EJECTING with HEATER_ON"
        return None

    def whole_run(self, ctx: Context) -> None:
        problems = []
        for packet in ctx.packets:
            tm = packet.tm
            lid = [f.name for f in LID_FLAGS if has(tm, f)]
            if len(lid) > 1:
                problems.append(f"seq {packet.seq}: {'+'.join(n for n in lid if n)}")
            mass = tm.sample_mass_g
            if abs(mass - SAMPLE_PRESENT_G) > EDGE and (mass >= SAMPLE_PRESENT_G) != has(
                tm, OvenFlags.SAMPLE_LOADED
            ):
                problems.append(f"seq {packet.seq}: SAMPLE_LOADED with {mass:.2f} g")
        ctx.check(
            "OVEN-FLAGS",
            not problems,
            problems[0] if problems else f"{len(ctx.packets)} packets consistent",
        )


def _boot(packet: Any) -> int:
    boot: int = packet.tm.boot_count
    return boot


BOARD = OvenBoard()
