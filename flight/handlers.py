"""What each command does on the devices, and how its effect is verified before COMPLETED."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flight.arming import Arming
from flight.clock import Clock
from flight.dispatcher import CommandFailed, Execution, Reason, Route
from flight.limits import LimitMonitor
from flight.modes import ModeKeeper
from flight.safing import Safing
from flight.state import StateStore
from flight.verify import FAULT_TOLERANT, describe, settle
from hal import (
    DumpTarget,
    ElecDriver,
    ElecFlags,
    ElecState,
    ElecTelemetry,
    Joint,
    ScoopDriver,
    ScoopFlags,
    ScoopState,
    ScoopTelemetry,
    Valve,
)
from interface.dictionary import Mode

VENTS = {"H2": Valve.H2_VENT, "O2": Valve.O2_VENT}

# --- completion tolerances (stated in docs/flight.md and the ICD) ------------------------

#: How far a joint may come to rest from the angle SCOOP.MOVE asked for and still complete.
#: Beyond it the move fails at once (DEVICE_FAULT): a joint at rest will not get any closer.
JOINT_TOLERANCE_DEG = 2.0
#: Full scale of the cell's current source (ICD SET_CURRENT, 0..10 A).
CELL_FULL_SCALE_A = 10.0
#: How far the measured cell current may be from the ELEC.START setpoint: 2 % of full scale,
#: the accuracy of a typical PEM supply (never more than half the setpoint, so a cell that
#: draws nothing cannot pass). ELEC.STOP completes once the current reads within it of 0 A.
CELL_CURRENT_TOLERANCE_A = 0.02 * CELL_FULL_SCALE_A


@dataclass
class Payload:
    """Everything a handler touches."""

    scoop: ScoopDriver
    elec: ElecDriver
    clock: Clock
    modes: ModeKeeper
    arming: Arming
    limits: LimitMonitor
    safing: Safing
    state: StateStore
    timeouts: dict[str, float]

    def driver(self, board: str) -> ScoopDriver | ElecDriver:
        return self.scoop if board == "scoop" else self.elec

    # --- core --------------------------------------------------------------------------

    async def noop(self, run: Execution) -> None:
        run.started()

    async def arm(self, run: Execution) -> None:
        run.started()
        self.arming.arm(run.args["command"])

    async def disarm(self, run: Execution) -> None:
        run.started()
        self.arming.disarm("commanded")

    async def reset_board(self, run: Execution) -> None:
        driver = self.driver(run.args["board"])
        before = (await driver.info()).boot_count
        await driver.reset()
        run.started()
        await self._settle(driver, run, lambda t: t.boot_count != before, "the board's reboot")

    async def tm_rate(self, run: Execution) -> None:
        await self.driver(run.args["board"]).set_telemetry_rate(run.args["rate_hz"])
        run.started()

    async def mode_safe(self, run: Execution) -> None:
        run.started()
        failures = await self.safing.make_safe(
            reason="commanded", keep_sequence=run.command.source == "sequence"
        )
        if failures:
            raise CommandFailed(Reason.DEVICE_FAULT, "; ".join(failures))

    async def mode_idle(self, run: Execution) -> None:
        run.started()
        self.modes.set(Mode.IDLE, reason="commanded")

    async def limit_enable(self, run: Execution) -> None:
        run.started()
        self.limits.enable(run.args["channel"])

    async def limit_disable(self, run: Execution) -> None:
        run.started()
        self.limits.disable(run.args["channel"])

    # --- scoop -------------------------------------------------------------------------

    async def scoop_home(self, run: Execution) -> None:
        await self.scoop.home()
        run.started()
        await self._settle(
            self.scoop, run, lambda t: _at_rest(t) and ScoopFlags.HOMED in t.flags, "homed"
        )

    async def scoop_move(self, run: Execution) -> None:
        joint, target = Joint[run.args["joint"]], run.args["angle_deg"]
        await self.scoop.move_joint(joint, angle_deg=target, speed_dps=run.args["speed_dps"])
        run.started()
        name = joint.name.lower()
        angle = f"{name}_angle_deg"

        def where(t: ScoopTelemetry) -> str:
            return f"{describe(t)}, {name} at {getattr(t, angle):.2f} deg"

        rest = await self._settle(
            self.scoop, run, _at_rest, f"{name} at rest near {target:g} deg", seen=where
        )
        position: float = getattr(rest, angle)
        if abs(position - target) > JOINT_TOLERANCE_DEG:
            raise CommandFailed(
                Reason.DEVICE_FAULT,
                f"{name} came to rest at {position:.2f} deg, {abs(position - target):.2f} deg "
                f"from the {target:g} deg commanded (tolerance {JOINT_TOLERANCE_DEG:g} deg)",
            )

    async def scoop_dig(self, run: Execution) -> None:
        await self.scoop.dig(depth_mm=run.args["depth_mm"])
        run.started()
        await self._settle(self.scoop, run, _at_rest, "the dig finished")
        self.state.count_scoop_cycle()

    async def scoop_tare(self, run: Execution) -> None:
        await self.scoop.tare()
        run.started()
        await self._settle(self.scoop, run, lambda t: abs(t.load_mass_g) < 2.0, "zero load")

    async def scoop_weigh(self, run: Execution) -> None:
        mass = await self.scoop.weigh()
        run.started()
        await self._settle(
            self.scoop, run, lambda t: abs(t.sample_mass_g - mass) < 0.01, f"{mass:.1f} g latched"
        )

    async def scoop_dump(self, run: Execution) -> None:
        await self.scoop.dump(target=DumpTarget.GROUND)
        run.started()
        await self._settle(
            self.scoop, run, lambda t: _at_rest(t) and t.load_mass_g < 5.0, "the scoop emptied"
        )

    async def scoop_stop(self, run: Execution) -> None:
        await self.scoop.stop()
        run.started()
        await self._settle(
            self.scoop, run, lambda t: ScoopFlags.MOTORS_ON not in t.flags, "motors off"
        )

    # --- electrolysis ------------------------------------------------------------------

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
        flag = {
            Valve.WATER_FEED: ElecFlags.WATER_VALVE_OPEN,
            Valve.H2_VENT: ElecFlags.H2_VENT_OPEN,
            Valve.O2_VENT: ElecFlags.O2_VENT_OPEN,
        }[valve]
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

    async def _settle(
        self,
        driver: Any,
        run: Execution,
        done: Callable[[Any], bool],
        what: str,
        *,
        seen: Callable[[Any], str] = describe,
    ) -> Any:
        name = run.command.name
        return await settle(
            driver,
            self.clock,
            done=done,
            timeout_s=self.timeouts[name],
            what=what,
            fault_ok=name in FAULT_TOLERANT,
            seen=seen,
        )

    def routes(self) -> dict[str, Route]:
        """The route of every command in the dictionary."""
        return {
            "CORE.NOOP": Route(self.noop),
            "CORE.ARM": Route(self.arm),
            "CORE.DISARM": Route(self.disarm),
            "CORE.RESET_BOARD": Route(self.reset_board),
            "CORE.TM_RATE": Route(self.tm_rate),
            "MODE.SAFE": Route(self.mode_safe),
            "MODE.IDLE": Route(self.mode_idle),
            "LIMIT.ENABLE": Route(self.limit_enable),
            "LIMIT.DISABLE": Route(self.limit_disable),
            "SCOOP.HOME": Route(self.scoop_home, "scoop"),
            "SCOOP.MOVE": Route(self.scoop_move, "scoop"),
            "SCOOP.DIG": Route(self.scoop_dig, "scoop"),
            "SCOOP.TARE": Route(self.scoop_tare, "scoop"),
            "SCOOP.WEIGH": Route(self.scoop_weigh, "scoop"),
            "SCOOP.DUMP": Route(self.scoop_dump, "scoop"),
            "SCOOP.STOP": Route(self.scoop_stop, "scoop", preempts=True),
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


def _at_rest(t: ScoopTelemetry) -> bool:
    return t.state is ScoopState.IDLE
