"""The electrolysis board's rules: the current source, heater and valves, their completion
as the host verifies it, and what its flags and readings must show."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from flight.handlers import CELL_CURRENT_TOLERANCE_A, cell_current_tolerance
from hal.commands import CellCurrent, HeaterCommand, TelemetryRate, Valve, ValveCommand
from hal.layout import layout_of
from hal.telemetry import ElecFlags, ElecState, ElecTelemetry, PacketId
from isru.conform.board_requests import StepFailed, describe_nack
from isru.conform.common import OFF_BELOW, Board, completion_s
from isru.conform.context import KIT_RATE_HZ, Context

WATER_LOW_G = 20.0
THERMOSTAT_BAND_C = 0.5
EDGE = 0.001
START_A, NEW_SETPOINT_A, SMALL_A = 2.0, 3.0, 1.0
HEATER_SETPOINT_C = 60.0
VALVE_FLAGS = {
    Valve.WATER_FEED: ElecFlags.WATER_VALVE_OPEN,
    Valve.H2_VENT: ElecFlags.H2_VENT_OPEN,
    Valve.O2_VENT: ElecFlags.O2_VENT_OPEN,
}
FAULT_FLAGS = (
    ElecFlags.OVERTEMP
    | ElecFlags.H2_OVERPRESSURE
    | ElecFlags.O2_OVERPRESSURE
    | ElecFlags.OVERVOLTAGE
    | ElecFlags.HOST_TIMEOUT
)


class ElecBoard(Board):
    name = "elec"
    telemetry_class = ElecTelemetry
    packet_id = int(PacketId.ELEC)
    fault_mask = int(FAULT_FLAGS)
    host_timeout_flag = int(ElecFlags.HOST_TIMEOUT)
    valid_args: ClassVar[dict[str, object]] = {
        "SET_TM_RATE": TelemetryRate(KIT_RATE_HZ),
        "SET_CURRENT": CellCurrent(SMALL_A),
        "SET_VALVE": ValveCommand(Valve.WATER_FEED, 0),
        "SET_HEATER": HeaterCommand(0, 25.0),
    }
    refused_in_fault = ("SET_CURRENT", "START", "SET_HEATER")
    foreign = ("HOME", "MOVE_JOINT", "DIG", "TARE", "WEIGH", "DUMP", "SET_LID", "HEAT", "EJECT")
    out_of_range = ("SET_CURRENT", layout_of(CellCurrent).pack(CellCurrent(11.0)), 0)

    async def clean(self, ctx: Context) -> None:
        await ctx.ack("STOP")
        for valve in Valve:
            await ctx.ack("SET_VALVE", ValveCommand(valve, 0))

    async def actuate(self, ctx: Context) -> None:
        await ctx.ack("SET_CURRENT", CellCurrent(SMALL_A))
        await ctx.ack("START")
        await ctx.ack("SET_HEATER", HeaterCommand(1, HEATER_SETPOINT_C))
        await ctx.ack("SET_VALVE", ValveCommand(Valve.WATER_FEED, 1))

    async def undo(self, ctx: Context, command: str) -> None:
        await super().undo(ctx, command)
        if command in ("SET_VALVE", "SET_HEATER"):
            await self.clean(ctx)

    def on(self, tm: Any) -> str | None:
        on = [f.name for f in (ElecFlags.CURRENT_ON, ElecFlags.HEATER_ON) if tm.flags & f]
        on += [f.name for f in VALVE_FLAGS.values() if tm.flags & f]
        return "+".join(n for n in on if n) or None

    def boot_problems(self, tm: Any) -> list[str]:
        problems = super().boot_problems(tm)
        if tm.state is not ElecState.IDLE:
            problems.append(f"state {tm.state.name} after boot")
        return problems

    async def allowed_in_fault(self, ctx: Context) -> None:
        exchange = await ctx.ask("SET_VALVE", ValveCommand(Valve.H2_VENT, 1))
        opened = await ctx.wait_tm(lambda t: bool(t.flags & ElecFlags.H2_VENT_OPEN), 2.0)
        ctx.check(
            "FAULT-ALLOWED",
            exchange.acked and opened is not None,
            f"SET_VALVE H2 vent open: {describe_nack(exchange)}, "
            f"H2_VENT_OPEN {'set' if opened else 'never set'}",
        )
        exchange = await ctx.ask("SET_VALVE", ValveCommand(Valve.H2_VENT, 0))
        ctx.check("FAULT-ALLOWED", exchange.acked, f"SET_VALVE close: {describe_nack(exchange)}")

    def off_problem(self, tm: Any) -> str | None:
        problems = []
        if not tm.flags & ElecFlags.CURRENT_ON:
            if abs(tm.cell_current_a) > CELL_CURRENT_TOLERANCE_A:
                problems.append(f"source off but {tm.cell_current_a:.3f} A")
            if abs(tm.cell_voltage_v) >= OFF_BELOW:
                problems.append(f"source off but {tm.cell_voltage_v:.3f} V")
        if not tm.flags & ElecFlags.HEATER_ON and abs(tm.heater_power_w) >= OFF_BELOW:
            problems.append(f"heater off but {tm.heater_power_w:.2f} W")
        return "; ".join(problems) or None

    def flag_problem(self, tm: Any) -> str | None:
        current = bool(tm.flags & ElecFlags.CURRENT_ON)
        if tm.state is ElecState.RUNNING and not current:
            return "RUNNING without CURRENT_ON"
        if tm.state is not ElecState.RUNNING and current:
            return f"CURRENT_ON in state {tm.state.name}"
        return None

    def whole_run(self, ctx: Context) -> None:
        problems = []
        for packet in ctx.packets:
            tm = packet.tm
            if abs(tm.water_mass_g - WATER_LOW_G) <= EDGE:
                continue
            if (tm.water_mass_g < WATER_LOW_G) != bool(tm.flags & ElecFlags.WATER_LOW):
                problems.append(f"seq {packet.seq}: WATER_LOW with {tm.water_mass_g:.1f} g")
        ctx.check(
            "WATER-LOW",
            not problems,
            problems[0] if problems else f"{len(ctx.packets)} packets consistent",
        )


BOARD = ElecBoard()


def _flag_is(flag: ElecFlags, value: bool) -> Callable[[Any], bool]:
    return lambda tm: bool(tm.flags & flag) == value


async def start(ctx: Context, board: Board) -> None:
    await board.clean(ctx)
    await ctx.ack("SET_CURRENT", CellCurrent(START_A))
    await ctx.ack("START")
    tolerance = cell_current_tolerance(START_A)
    found = await ctx.settle(
        lambda t: (
            t.state is ElecState.FAULT
            or (t.state is ElecState.RUNNING and abs(t.cell_current_a - START_A) <= tolerance)
        ),
        completion_s("ELEC.START"),
    )
    if found is None or found[0].state is ElecState.FAULT:
        ctx.fail("START", f"not RUNNING at {START_A:g} +- {tolerance:g} A")
        raise StepFailed("START did not settle")
    tm, took = found
    current_on = bool(tm.flags & ElecFlags.CURRENT_ON)
    ok = current_on and abs(tm.current_setpoint_a - START_A) < 1e-6
    ctx.check(
        "START",
        ok,
        f"{tm.cell_current_a:.3f} A after {took:.2f} s (+- {tolerance:g} A), setpoint "
        f"{tm.current_setpoint_a:g} A, CURRENT_ON {'set' if current_on else 'clear'}",
    )

    again = await ctx.ask("START")
    await ctx.ack("SET_CURRENT", CellCurrent(NEW_SETPOINT_A))
    tolerance = cell_current_tolerance(NEW_SETPOINT_A)
    found = await ctx.settle(lambda t: abs(t.cell_current_a - NEW_SETPOINT_A) <= tolerance, 1.0)
    ctx.check(
        "START-AGAIN",
        again.acked and found is not None,
        f"START while RUNNING: {describe_nack(again)}; SET_CURRENT {NEW_SETPOINT_A:g} A "
        + (f"applied after {found[1]:.2f} s" if found else "not applied within 1 s"),
    )
    await ctx.ack("STOP")


async def heater(ctx: Context, board: Board) -> None:
    await board.clean(ctx)
    await ctx.ack("SET_HEATER", HeaterCommand(1, HEATER_SETPOINT_C))
    window = completion_s("ELEC.HEATER")
    found = await ctx.settle(lambda t: abs(t.heater_setpoint_c - HEATER_SETPOINT_C) < 0.01, window)
    if found is None:
        ctx.fail("HEATER", f"heater_setpoint_c never {HEATER_SETPOINT_C:g}")
        raise StepFailed("SET_HEATER not applied")
    tm, _took = found
    cold = tm.cell_temp_c < HEATER_SETPOINT_C - THERMOSTAT_BAND_C
    on = bool(tm.flags & ElecFlags.HEATER_ON)
    ctx.check(
        "HEATER",
        on == cold and (tm.heater_power_w > 0) == on,
        f"cell {tm.cell_temp_c:.1f} degC, setpoint {tm.heater_setpoint_c:g}: HEATER_ON "
        f"{'set' if on else 'clear'}, {tm.heater_power_w:.1f} W",
    )
    await ctx.ack("SET_HEATER", HeaterCommand(0, HEATER_SETPOINT_C))
    found = await ctx.settle(lambda t: not t.flags & ElecFlags.HEATER_ON, window)
    ctx.check(
        "HEATER",
        found is not None and found[0].heater_power_w < OFF_BELOW,
        f"disabled: HEATER_ON clear after {found[1]:.2f} s" if found else "HEATER_ON stays set",
    )


async def valves(ctx: Context, board: Board) -> None:
    await board.clean(ctx)
    window = completion_s("ELEC.WATER")
    for valve, flag in VALVE_FLAGS.items():
        for state in (1, 0):
            await ctx.ack("SET_VALVE", ValveCommand(valve, state))
            found = await ctx.settle(_flag_is(flag, bool(state)), window)
            ctx.check(
                "VALVES",
                found is not None,
                f"{valve.name} {'open' if state else 'closed'}"
                + (f" after {found[1]:.2f} s" if found else f": {flag.name} never followed"),
            )


async def stop(ctx: Context, board: Board) -> None:
    await board.clean(ctx)
    await board.actuate(ctx)
    await ctx.ack("STOP")
    found = await ctx.settle(
        lambda t: (
            not t.flags & ElecFlags.CURRENT_ON and abs(t.cell_current_a) <= CELL_CURRENT_TOLERANCE_A
        ),
        completion_s("ELEC.STOP"),
    )
    if found is None:
        ctx.fail("STOP-CELL", "the current source stays on")
        raise StepFailed("STOP did not switch the source off")
    tm, took = found
    problems = []
    if tm.flags & ElecFlags.HEATER_ON or tm.heater_power_w >= OFF_BELOW:
        problems.append("heater still on")
    if not tm.flags & ElecFlags.WATER_VALVE_OPEN:
        problems.append("STOP closed the water valve")
    if tm.state is not ElecState.IDLE:
        problems.append(f"state {tm.state.name}")
    ctx.check(
        "STOP-CELL",
        not problems,
        "; ".join(problems)
        or f"source off after {took:.2f} s ({tm.cell_current_a:.3f} A), heater off, "
        "water valve still open, IDLE",
    )
    await board.clean(ctx)
