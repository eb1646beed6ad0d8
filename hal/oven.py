"""Driver of the thermal-extraction oven board: lid, sample heater, cold trap, pump, chute."""

from __future__ import annotations

from typing import ClassVar

from hal.commands import BoardKind, HeatCommand, LidCommand, TransferCommand, TrapCommand
from hal.driver import BoardDriver
from hal.telemetry import OvenTelemetry, PacketId


class OvenDriver(BoardDriver[OvenTelemetry]):
    """Typed commands of the oven board. Lid motion, heating, transfer and eject return once
    the board has accepted them; their progress shows in telemetry (see :meth:`wait_for`)."""

    board: ClassVar[BoardKind] = BoardKind.OVEN
    packet: ClassVar[PacketId] = PacketId.OVEN
    telemetry_class: ClassVar[type[OvenTelemetry]] = OvenTelemetry

    async def set_lid(self, *, open: bool) -> None:
        """Open the hopper lid, or close and seal it."""
        await self._call("SET_LID", LidCommand(int(open)))

    async def heat(self, *, setpoint_c: float, ramp_c_per_min: float, power_limit_w: float) -> None:
        """Ramp the sample to ``setpoint_c`` at ``ramp_c_per_min``, never above
        ``power_limit_w``, then hold it there."""
        await self._call("HEAT", HeatCommand(setpoint_c, ramp_c_per_min, power_limit_w))

    async def hold(self) -> None:
        """Hold the sample at its present temperature."""
        await self._call("HOLD")

    async def heater_off(self) -> None:
        """Switch the sample heater off."""
        await self._call("HEATER_OFF")

    async def set_trap(self, *, enabled: bool, setpoint_c: float) -> None:
        """Run the cold-trap thermostat at ``setpoint_c``, or switch it off."""
        await self._call("SET_TRAP", TrapCommand(int(enabled), setpoint_c))

    async def transfer(self, *, water_g: float) -> None:
        """Pump ``water_g`` grams of liquid water from the trap to the cell's tank."""
        await self._call("TRANSFER", TransferCommand(water_g))

    async def eject(self) -> None:
        """Drop the spent sample out of the chamber."""
        await self._call("EJECT")
