"""What each command does on the devices, and how its effect is verified before COMPLETED.

:class:`Payload` is every handler: the core's here, each board's in its own module
(:mod:`flight.scoop_handlers`, :mod:`flight.elec_handlers`, :mod:`flight.oven_handlers`),
and :meth:`Payload.routes` routes the dictionary's commands to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from flight.arming import Arming
from flight.clock import Clock
from flight.dispatcher import CommandFailed, Execution, Reason, Route
from flight.elec_handlers import (
    CELL_CURRENT_TOLERANCE_A,
    CELL_FULL_SCALE_A,
    ElecHandlers,
    cell_current_tolerance,
)
from flight.limits import LimitMonitor
from flight.modes import ModeKeeper
from flight.oven_handlers import OvenHandlers
from flight.safing import Safing
from flight.scoop_handlers import JOINT_TOLERANCE_DEG, ScoopHandlers
from flight.state import StateStore
from hal import ElecDriver, OvenDriver, ScoopDriver
from interface.dictionary import Mode

__all__ = [
    "CELL_CURRENT_TOLERANCE_A",
    "CELL_FULL_SCALE_A",
    "JOINT_TOLERANCE_DEG",
    "Payload",
    "cell_current_tolerance",
]


@dataclass
class Payload(ScoopHandlers, ElecHandlers, OvenHandlers):
    """Everything a handler touches."""

    scoop: ScoopDriver
    elec: ElecDriver
    oven: OvenDriver
    clock: Clock
    modes: ModeKeeper
    arming: Arming
    limits: LimitMonitor
    safing: Safing
    state: StateStore
    timeouts: dict[str, float]

    def driver(self, board: str) -> ScoopDriver | ElecDriver | OvenDriver:
        drivers: dict[str, ScoopDriver | ElecDriver | OvenDriver] = {
            "scoop": self.scoop,
            "elec": self.elec,
            "oven": self.oven,
        }
        return drivers[board]

    def noop(self, run: Execution) -> None:
        run.started()

    def arm(self, run: Execution) -> None:
        run.started()
        self.arming.arm(run.args["command"])

    def disarm(self, run: Execution) -> None:
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

    def mode_idle(self, run: Execution) -> None:
        run.started()
        self.modes.set(Mode.IDLE, reason="commanded")

    def limit_enable(self, run: Execution) -> None:
        run.started()
        self.limits.enable(run.args["channel"])

    def limit_disable(self, run: Execution) -> None:
        run.started()
        self.limits.disable(run.args["channel"])

    def routes(self) -> dict[str, Route]:
        """The route of every command in the dictionary."""
        return {
            "CORE.NOOP": Route.immediate(self.noop),
            "CORE.ARM": Route.immediate(self.arm),
            "CORE.DISARM": Route.immediate(self.disarm),
            "CORE.RESET_BOARD": Route(self.reset_board),
            "CORE.TM_RATE": Route(self.tm_rate),
            "MODE.SAFE": Route(self.mode_safe),
            "MODE.IDLE": Route.immediate(self.mode_idle),
            "LIMIT.ENABLE": Route.immediate(self.limit_enable),
            "LIMIT.DISABLE": Route.immediate(self.limit_disable),
            **self.scoop_routes(),
            **self.elec_routes(),
            **self.oven_routes(),
        }
