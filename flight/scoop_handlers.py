"""The scoop's commands: what each does on the board, and the telemetry that completes it."""

from __future__ import annotations

from flight.dispatcher import CommandFailed, Execution, Reason, Route
from flight.handling import Handlers
from flight.state import StateStore
from flight.verify import describe, settle
from hal import (
    DumpTarget,
    Joint,
    OvenDriver,
    OvenTelemetry,
    ScoopDriver,
    ScoopFlags,
    ScoopState,
    ScoopTelemetry,
)

#: How far a joint may come to rest from the angle SCOOP.MOVE asked for and still complete.
#: Beyond it the move fails at once (DEVICE_FAULT): a joint at rest will not get any closer.
JOINT_TOLERANCE_DEG = 2.0
#: SCOOP.DUMP completes once the scoop's load cell reads below this (the scoop emptied).
DUMP_EMPTY_G = 5.0
#: SCOOP.DUMP target=OVEN also waits for the oven's load cell to gain this share of the
#: mass that left the scoop (some grains miss the hopper), within DUMP_ARRIVAL_S.
DUMP_ARRIVED_FRACTION = 0.5
DUMP_ARRIVAL_S = 10.0


class ScoopHandlers(Handlers):
    """SCOOP.*: the arm, its load cell, and the dump into the oven."""

    scoop: ScoopDriver
    oven: OvenDriver
    state: StateStore

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
        target = DumpTarget[run.args["target"]]
        into_oven = target is DumpTarget.OVEN
        if into_oven:
            load = (await self.scoop.get_status()).load_mass_g
            before = (await self.oven.get_status()).sample_mass_g
        await self.scoop.dump(target=target)
        run.started()
        await self._settle(
            self.scoop,
            run,
            lambda t: _at_rest(t) and t.load_mass_g < DUMP_EMPTY_G,
            "the scoop emptied",
        )
        if into_oven:
            wanted = before + DUMP_ARRIVED_FRACTION * max(0.0, load)

            def arrived(t: OvenTelemetry) -> bool:
                return t.sample_mass_g >= wanted

            def mass(t: OvenTelemetry) -> str:
                return f"{describe(t)}, sample {t.sample_mass_g:.1f} g"

            await settle(
                self.oven,
                self.clock,
                done=arrived,
                timeout_s=DUMP_ARRIVAL_S,
                what=f"the oven's sample at {wanted:.1f} g or more ({load:.1f} g dumped)",
                seen=mass,
            )

    async def scoop_stop(self, run: Execution) -> None:
        await self.scoop.stop()
        run.started()
        await self._settle(
            self.scoop, run, lambda t: ScoopFlags.MOTORS_ON not in t.flags, "motors off"
        )

    def scoop_routes(self) -> dict[str, Route]:
        return {
            "SCOOP.HOME": Route(self.scoop_home, "scoop"),
            "SCOOP.MOVE": Route(self.scoop_move, "scoop"),
            "SCOOP.DIG": Route(self.scoop_dig, "scoop"),
            "SCOOP.TARE": Route(self.scoop_tare, "scoop"),
            "SCOOP.WEIGH": Route(self.scoop_weigh, "scoop"),
            "SCOOP.DUMP": Route(self.scoop_dump, "scoop"),
            "SCOOP.STOP": Route(self.scoop_stop, "scoop", preempts=True),
        }


def _at_rest(t: ScoopTelemetry) -> bool:
    return t.state is ScoopState.IDLE
