"""Driver of the regolith scoop board: a boom and scoop arm with a load cell."""

from __future__ import annotations

from typing import ClassVar

from hal.commands import BoardKind, Dig, DumpCommand, DumpTarget, Joint, MoveJoint, WeighResult
from hal.driver import BoardDriver
from hal.layout import layout_of
from hal.telemetry import PacketId, ScoopTelemetry


class ScoopDriver(BoardDriver[ScoopTelemetry]):
    """Typed commands of the scoop board. Motions return once the board has accepted them;
    their progress shows in telemetry (see :meth:`wait_for`)."""

    board: ClassVar[BoardKind] = BoardKind.SCOOP
    packet: ClassVar[PacketId] = PacketId.SCOOP
    telemetry_class: ClassVar[type[ScoopTelemetry]] = ScoopTelemetry

    async def home(self) -> None:
        """Drive both joints to their home switches."""
        await self._call("HOME")

    async def move_joint(self, joint: Joint, *, angle_deg: float, speed_dps: float) -> None:
        """Slew ``joint`` to ``angle_deg`` at ``speed_dps``."""
        await self._call("MOVE_JOINT", MoveJoint(Joint(joint), angle_deg, speed_dps))

    async def dig(self, *, depth_mm: float) -> None:
        """Cut a sample ``depth_mm`` deep (the arm must be homed)."""
        await self._call("DIG", Dig(depth_mm))

    async def tare(self) -> None:
        """Zero the load cell."""
        await self._call("TARE")

    async def weigh(self) -> float:
        """Latch and return the sample mass in grams."""
        result: WeighResult = layout_of(WeighResult).unpack(await self._call("WEIGH"))
        return result.mass_g

    async def dump(self, *, target: DumpTarget) -> None:
        """Tip the sample at ``target`` (the ground beside the vehicle, or the oven's hopper)
        and return."""
        await self._call("DUMP", DumpCommand(DumpTarget(target)))
