"""The electrolysis cell's commands: what each does on the board, and what completes it."""

from __future__ import annotations

from flight.dispatcher import Execution, Route
from flight.handling import Handlers
from flight.verify import describe
from hal import ElecDriver, ElecFlags, ElecState, ElecTelemetry, Valve

VENTS = {"H2": Valve.H2_VENT, "O2": Valve.O2_VENT}
#: Full scale of the cell's current source (ICD SET_CURRENT, 0..10 A).
CELL_FULL_SCALE_A = 10.0
#: How far the measured cell current may be from the ELEC.START setpoint: 2 % of full scale,
#: the accuracy of a typical PEM supply (never more than half the setpoint, so a cell that
#: draws nothing cannot pass). ELEC.STOP completes once the current reads within it of 0 A.
CELL_CURRENT_TOLERANCE_A = 0.02 * CELL_FULL_SCALE_A
_VALVE_FLAGS = {
    Valve.WATER_FEED: ElecFlags.WATER_VALVE_OPEN,
    Valve.H2_VENT: ElecFlags.H2_VENT_OPEN,
    Valve.O2_VENT: ElecFlags.O2_VENT_OPEN,
}


class ElecHandlers(Handlers):
    """ELEC.*: the cell's current, its valves and its heater."""

    elec: ElecDriver

    async def elec_start(self, run: Execution) -> None:
        current = run.args["current_a"]
        await self.elec.set_current(current_a=current)
        await self.elec.start()
        run.started()
        tolerance = cell_current_tolerance(current)

        def settled(t: ElecTelemetry) -> bool:
            return t.state is ElecState.RUNNING and abs(t.cell_current_a - current) <= tolerance

        await self._settle(
            self.elec,
            run,
            settled,
            f"cell current at {current:g} A +- {tolerance:g} A",
            seen=_cell_current,
        )

    async def elec_stop(self, run: Execution) -> None:
        await self.elec.stop()
        run.started()

        def stopped(t: ElecTelemetry) -> bool:
            return (
                ElecFlags.CURRENT_ON not in t.flags
                and abs(t.cell_current_a) <= CELL_CURRENT_TOLERANCE_A
            )

        await self._settle(self.elec, run, stopped, "cell current off", seen=_cell_current)

    async def elec_vent(self, run: Execution) -> None:
        await self._valve(run, VENTS[run.args["gas"]], open_=True)

    async def elec_vent_close(self, run: Execution) -> None:
        await self._valve(run, VENTS[run.args["gas"]], open_=False)

    async def elec_water(self, run: Execution) -> None:
        await self._valve(run, Valve.WATER_FEED, open_=run.args["open"])

    async def _valve(self, run: Execution, valve: Valve, *, open_: bool) -> None:
        await self.elec.set_valve(valve, open=open_)
        run.started()
        flag = _VALVE_FLAGS[valve]
        what = f"{valve.name} {'open' if open_ else 'closed'}"
        await self._settle(self.elec, run, lambda t: (flag in t.flags) == open_, what)

    async def elec_heater(self, run: Execution) -> None:
        enabled: bool = run.args["enabled"]
        setpoint: float = run.args["setpoint_c"]
        await self.elec.set_heater(enabled=enabled, setpoint_c=setpoint)
        run.started()

        def applied(t: ElecTelemetry) -> bool:
            if not enabled:
                return ElecFlags.HEATER_ON not in t.flags
            return abs(t.heater_setpoint_c - setpoint) < 0.01

        await self._settle(self.elec, run, applied, "heater setting applied")

    def elec_routes(self) -> dict[str, Route]:
        return {
            "ELEC.START": Route(self.elec_start, "elec"),
            "ELEC.STOP": Route(self.elec_stop, "elec", preempts=True),
            "ELEC.VENT": Route(self.elec_vent, "elec"),
            "ELEC.VENT_CLOSE": Route(self.elec_vent_close, "elec"),
            "ELEC.WATER": Route(self.elec_water, "elec"),
            "ELEC.HEATER": Route(self.elec_heater, "elec"),
        }


def cell_current_tolerance(setpoint_a: float) -> float:
    """How far from ``setpoint_a`` the cell current may read for ELEC.START to complete."""
    return min(CELL_CURRENT_TOLERANCE_A, setpoint_a / 2)


def _cell_current(t: ElecTelemetry) -> str:
    return f"{describe(t)}, cell current {t.cell_current_a:.3f} A"
