"""The electrolysis board's firmware: current source, heater thermostat, valves, hard trips.

Besides the common rules (see :mod:`sim.firmware`): START switches the current source on at
the SET_CURRENT setpoint (state RUNNING) unless the water reservoir is empty or a tank is
above its hard limit (INTERLOCK). SET_VALVE works even in FAULT, so a tank can be vented.

Hard trips, the board's last line (flight software has lower, softer limits): H2 or O2 above
400 kPa, cell above 90 C, cell voltage above 2.6 V each switch the current source off
(over-temperature also the heater), latch their flag and state FAULT. STOP switches the
current source and heater off and clears the FAULT only when every cause is gone.

Sensors read the physics plus an optional drift (a fault): the trips see the drifted
value, as they would on a real board.
"""

from __future__ import annotations

from typing import Any, Unpack

from hal.commands import (
    BoardKind,
    CellCurrent,
    HeaterCommand,
    Valve,
    ValveCommand,
)
from hal.message import NackCode
from hal.telemetry import ElecFlags, ElecState, ElecTelemetry, PacketId
from sim.electrolysis import CellParams, ElectrolysisCell
from sim.firmware import Firmware, FirmwareArgs, Refused

H2_TRIP_KPA = 400.0
O2_TRIP_KPA = 400.0
TEMP_TRIP_C = 90.0
VOLTAGE_TRIP_V = 2.6
HEATER_W = 15.0
THERMOSTAT_BAND_C = 0.5
WATER_LOW_G = 20.0
#: Sensors a drift fault can be put on, with their units per second.
ELEC_SENSORS = ("h2_pressure", "o2_pressure", "cell_temp", "cell_voltage")

_VALVE_FLAG = {
    Valve.WATER_FEED: int(ElecFlags.WATER_VALVE_OPEN),
    Valve.H2_VENT: int(ElecFlags.H2_VENT_OPEN),
    Valve.O2_VENT: int(ElecFlags.O2_VENT_OPEN),
}
#: The flags a packet adds to the fault flags, as ints: its flag word is summed as an int.
_CURRENT_ON, _HEATER_ON = int(ElecFlags.CURRENT_ON), int(ElecFlags.HEATER_ON)
_WATER_LOW = int(ElecFlags.WATER_LOW)


class ElecFirmware(Firmware):
    """Electrolysis board: one PEM cell, two gas tanks, a heater and three valves."""

    kind = BoardKind.ELEC
    packet_id = PacketId.ELEC

    def __init__(
        self,
        *,
        cell_params: CellParams | None = None,
        **base: Unpack[FirmwareArgs],
    ) -> None:
        # The cell is the world: gas, water and heat outlive a reset of the board.
        self.cell = ElectrolysisCell(cell_params)
        self.setpoint_a = 0.0
        self.current_on = False
        self.heater_enabled = False
        self.heater_setpoint_c = 0.0
        self.heater_on = False
        self.valves = dict.fromkeys(Valve, False)
        self.fault_flags = ElecFlags(0)
        self.drift_rate = dict.fromkeys(ELEC_SENSORS, 0.0)
        self.drift = dict.fromkeys(ELEC_SENSORS, 0.0)
        super().__init__(**base)

    # -- measured values ---------------------------------------------------------------

    @property
    def h2_kpa(self) -> float:
        return self.cell.h2_kpa + self.drift["h2_pressure"]

    @property
    def o2_kpa(self) -> float:
        return self.cell.o2_kpa + self.drift["o2_pressure"]

    @property
    def cell_temp_c(self) -> float:
        return self.cell.temp_c + self.drift["cell_temp"]

    @property
    def cell_voltage_v(self) -> float:
        return self.cell.voltage_v + self.drift["cell_voltage"]

    @property
    def in_fault(self) -> bool:
        return bool(self.fault_flags)

    @property
    def state(self) -> ElecState:
        if self.in_fault:
            return ElecState.FAULT
        return ElecState.RUNNING if self.current_on else ElecState.IDLE

    # -- firmware ----------------------------------------------------------------------

    def _power_on_reset(self) -> None:
        self.setpoint_a = 0.0
        self.current_on = False
        self.heater_enabled = False
        self.heater_setpoint_c = 0.0
        self.heater_on = False
        self.valves = dict.fromkeys(Valve, False)
        self.fault_flags = ElecFlags(0)
        self._apply_outputs()

    def _apply_outputs(self) -> None:
        cell = self.cell
        cell.source_on = self.current_on
        cell.setpoint_a = self.setpoint_a
        cell.heater_w = HEATER_W if self.heater_on else 0.0
        cell.h2_vent_open = self.valves[Valve.H2_VENT]
        cell.o2_vent_open = self.valves[Valve.O2_VENT]

    def _step(self, dt: float) -> None:
        for sensor, rate in self.drift_rate.items():
            self.drift[sensor] += rate * dt
        self._thermostat()
        self._apply_outputs()
        self.cell.step(dt)
        self._protect()
        self.thermal.step(dt, 1.0 + 0.3 * self.cell.current_a)

    def _thermostat(self) -> None:
        if not self.heater_enabled:
            self.heater_on = False
        elif self.cell_temp_c < self.heater_setpoint_c - THERMOSTAT_BAND_C:
            self.heater_on = True
        elif self.cell_temp_c > self.heater_setpoint_c + THERMOSTAT_BAND_C:
            self.heater_on = False

    def _trip_causes(self) -> ElecFlags:
        causes = ElecFlags(0)
        if self.h2_kpa > H2_TRIP_KPA:
            causes |= ElecFlags.H2_OVERPRESSURE
        if self.o2_kpa > O2_TRIP_KPA:
            causes |= ElecFlags.O2_OVERPRESSURE
        if self.cell_temp_c > TEMP_TRIP_C:
            causes |= ElecFlags.OVERTEMP
        if self.current_on and self.cell_voltage_v > VOLTAGE_TRIP_V:
            causes |= ElecFlags.OVERVOLTAGE
        return causes

    def _protect(self) -> None:
        causes = self._trip_causes()
        if not causes:
            return
        self.fault_flags |= causes
        self.current_on = False
        if causes & ElecFlags.OVERTEMP:
            self.heater_enabled = self.heater_on = False
        self._apply_outputs()

    def host_lost(self) -> None:
        self.current_on = False
        self.heater_enabled = self.heater_on = False
        self.valves = dict.fromkeys(Valve, False)
        self.fault_flags |= ElecFlags.HOST_TIMEOUT
        self._apply_outputs()

    def execute(self, name: str, args: Any) -> bytes:
        if name == "STOP":
            self.current_on = False
            self.heater_enabled = self.heater_on = False
            if not self._trip_causes():
                self.fault_flags = ElecFlags(0)
        elif name == "SET_CURRENT":
            assert isinstance(args, CellCurrent)
            self.setpoint_a = args.current_a
        elif name == "START":
            if self.cell.water_g <= 0.0:
                raise Refused(NackCode.INTERLOCK)
            if self.h2_kpa > H2_TRIP_KPA or self.o2_kpa > O2_TRIP_KPA:
                raise Refused(NackCode.INTERLOCK)
            self.current_on = True
        elif name == "SET_VALVE":
            assert isinstance(args, ValveCommand)
            self.valves[args.valve] = bool(args.open)
        elif name == "SET_HEATER":
            assert isinstance(args, HeaterCommand)
            self.heater_enabled = bool(args.enable)
            self.heater_setpoint_c = args.setpoint_c
            self._thermostat()
        else:
            raise Refused(NackCode.UNKNOWN_COMMAND)  # a catalogue entry this board lacks
        self._apply_outputs()
        return b""

    def flags(self) -> ElecFlags:
        bits = int(self.fault_flags)  # summed as an int: one flag word made
        if self.current_on:
            bits |= _CURRENT_ON
        if self.heater_on:
            bits |= _HEATER_ON
        for valve, flag in _VALVE_FLAG.items():
            if self.valves[valve]:
                bits |= flag
        if self.cell.water_g < WATER_LOW_G:
            bits |= _WATER_LOW
        return ElecFlags(bits)

    def telemetry(self) -> ElecTelemetry:
        cell = self.cell
        return ElecTelemetry(
            boot_count=self.boot_count,
            uptime_ms=self.uptime_ms,
            state=self.state,
            flags=self.flags(),
            cell_voltage_v=self.cell_voltage_v if self.current_on else 0.0,
            # The source switches off at once (STOP, a trip, the host watchdog); the cell model
            # only settles at its next step, so a packet between the two must not show current.
            cell_current_a=cell.current_a if self.current_on else 0.0,
            current_setpoint_a=self.setpoint_a,
            cell_temp_c=self.cell_temp_c,
            heater_setpoint_c=self.heater_setpoint_c,
            heater_power_w=cell.heater_w,
            h2_pressure_kpa=self.h2_kpa,
            o2_pressure_kpa=self.o2_kpa,
            water_mass_g=cell.water_g,
            board_temp_c=self.thermal.temp_c,
        )
