"""The oven's commands: what each does on the board, and the telemetry that completes it.

Each completes only on its effect in telemetry newer than the board's ACK (``settle``); the
rules are tabled in docs/flight.md (Completion rules).
"""

from __future__ import annotations

from flight.dispatcher import CommandFailed, Execution, Reason, Route
from flight.handling import Handlers
from flight.verify import describe
from hal import OvenDriver, OvenFlags, OvenState, OvenTelemetry

#: OVEN.HEATER_OFF and OVEN.STOP complete once the heater draws at most this much.
HEATER_OFF_W = 0.5
#: OVEN.TRANSFER completes when the pump has moved the water asked for, less this.
TRANSFER_TOLERANCE_G = 0.1
#: OVEN.EJECT completes once the chamber's load cell reads below this (the ICD's 1 g, under
#: which SAMPLE_LOADED is clear).
EJECTED_G = 1.0
_HEATING = (OvenState.HEATING, OvenState.HOLDING)


class OvenHandlers(Handlers):
    """OVEN.*: the lid, the sample heater, the cold trap, the pump and the chute."""

    oven: OvenDriver

    async def oven_lid(self, run: Execution) -> None:
        state: str = run.args["state"]
        opening = state == "OPEN"
        await self.oven.set_lid(open=opening)
        run.started()
        flag = OvenFlags.LID_OPEN if opening else OvenFlags.LID_SEALED

        def there(t: OvenTelemetry) -> bool:
            return flag in t.flags and OvenFlags.LID_MOVING not in t.flags

        await self._settle(self.oven, run, there, f"lid {state.lower()}")

    async def oven_heat(self, run: Execution) -> None:
        setpoint: float = run.args["setpoint_c"]
        await self.oven.heat(
            setpoint_c=setpoint,
            ramp_c_per_min=run.args["ramp_c_per_min"],
            power_limit_w=run.args["power_limit_w"],
        )
        run.started()
        await self._settle(self.oven, run, _heating, f"heating toward {setpoint:g} degC")

    async def oven_hold(self, run: Execution) -> None:
        await self.oven.hold()
        run.started()

        def holding(t: OvenTelemetry) -> bool:
            return t.state is OvenState.HOLDING and OvenFlags.HEATER_ON in t.flags

        await self._settle(self.oven, run, holding, "holding", seen=_heater)

    async def oven_heater_off(self, run: Execution) -> None:
        await self.oven.heater_off()
        run.started()
        await self._settle(self.oven, run, _heater_off, "heater off", seen=_heater)

    async def oven_trap(self, run: Execution) -> None:
        setpoint: float = run.args["setpoint_c"]
        await self.oven.set_trap(enabled=True, setpoint_c=setpoint)
        run.started()
        await self._trap(run, on=True)

    async def oven_trap_off(self, run: Execution) -> None:
        await self.oven.set_trap(enabled=False, setpoint_c=0.0)
        run.started()
        await self._trap(run, on=False)

    async def _trap(self, run: Execution, *, on: bool) -> None:
        def applied(t: OvenTelemetry) -> bool:
            return (OvenFlags.TRAP_ON in t.flags) == on

        await self._settle(self.oven, run, applied, f"trap {'on' if on else 'off'}")

    async def oven_transfer(self, run: Execution) -> None:
        water: float = run.args["water_g"]
        before = (await self.oven.get_status()).water_transferred_g
        await self.oven.transfer(water_g=water)
        run.started()
        began = False

        def ended(t: OvenTelemetry) -> bool:
            nonlocal began
            moving = t.state is OvenState.TRANSFERRING or OvenFlags.PUMP_ON in t.flags
            began = began or moving
            moved = t.water_transferred_g - before
            return not moving and (began or moved >= water - TRANSFER_TOLERANCE_G)

        def pumped(t: OvenTelemetry) -> str:
            return f"{describe(t)}, {t.water_transferred_g - before:.2f} g moved"

        end = await self._settle(
            self.oven, run, ended, f"{water:g} g pumped to the cell", seen=pumped
        )
        moved = end.water_transferred_g - before
        if moved < water - TRANSFER_TOLERANCE_G:
            raise CommandFailed(
                Reason.DEVICE_FAULT,
                f"the pump stopped after {moved:.2f} g of the {water:g} g asked "
                f"(trap {end.trap_temp_c:.1f} degC: out of liquid water?)",
            )

    async def oven_eject(self, run: Execution) -> None:
        await self.oven.eject()
        run.started()

        def empty(t: OvenTelemetry) -> bool:
            return (
                t.state is OvenState.IDLE
                and OvenFlags.SAMPLE_LOADED not in t.flags
                and t.sample_mass_g < EJECTED_G
            )

        await self._settle(self.oven, run, empty, "chamber empty", seen=_mass)

    async def oven_stop(self, run: Execution) -> None:
        await self.oven.stop()
        run.started()

        def stopped(t: OvenTelemetry) -> bool:
            return _heater_off(t) and OvenFlags.PUMP_ON not in t.flags

        await self._settle(self.oven, run, stopped, "heater and pump off", seen=_heater)

    def oven_routes(self) -> dict[str, Route]:
        return {
            "OVEN.LID": Route(self.oven_lid, "oven"),
            "OVEN.HEAT": Route(self.oven_heat, "oven"),
            "OVEN.HOLD": Route(self.oven_hold, "oven"),
            "OVEN.HEATER_OFF": Route(self.oven_heater_off, "oven"),
            "OVEN.TRAP": Route(self.oven_trap, "oven"),
            "OVEN.TRAP_OFF": Route(self.oven_trap_off, "oven"),
            "OVEN.TRANSFER": Route(self.oven_transfer, "oven"),
            "OVEN.EJECT": Route(self.oven_eject, "oven"),
            "OVEN.STOP": Route(self.oven_stop, "oven", preempts=True),
        }


def _heating(t: OvenTelemetry) -> bool:
    return OvenFlags.HEATER_ON in t.flags and t.state in _HEATING


def _heater_off(t: OvenTelemetry) -> bool:
    return OvenFlags.HEATER_ON not in t.flags and t.heater_power_w <= HEATER_OFF_W


def _heater(t: OvenTelemetry) -> str:
    return f"{describe(t)}, heater {t.heater_power_w:.1f} W"


def _mass(t: OvenTelemetry) -> str:
    return f"{describe(t)}, sample {t.sample_mass_g:.1f} g"
