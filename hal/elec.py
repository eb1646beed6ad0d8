"""Driver of the water-electrolysis board: PEM cell, current source, valves and heater."""

from __future__ import annotations

from typing import ClassVar

from hal.commands import BoardKind, CellCurrent, HeaterCommand, Valve, ValveCommand
from hal.driver import BoardDriver
from hal.telemetry import ElecTelemetry, PacketId


class ElecDriver(BoardDriver[ElecTelemetry]):
    """Typed commands of the electrolysis board."""

    board: ClassVar[BoardKind] = BoardKind.ELEC
    packet: ClassVar[PacketId] = PacketId.ELEC
    telemetry_class: ClassVar[type[ElecTelemetry]] = ElecTelemetry

    async def set_current(self, *, current_a: float) -> None:
        """Set the current source to ``current_a`` (applies at once if running)."""
        await self._call("SET_CURRENT", CellCurrent(current_a))

    async def start(self) -> None:
        """Switch the current source on at its setpoint."""
        await self._call("START")

    async def set_valve(self, valve: Valve, *, open: bool) -> None:
        """Open or close one valve."""
        await self._call("SET_VALVE", ValveCommand(Valve(valve), int(open)))

    async def set_heater(self, *, enabled: bool, setpoint_c: float) -> None:
        """Run the heater thermostat at ``setpoint_c``, or switch it off."""
        await self._call("SET_HEATER", HeaterCommand(int(enabled), setpoint_c))
