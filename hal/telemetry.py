"""The boards' telemetry packets: typed snapshots, their states and fault flags."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hal.frozen import quick_init
from hal.layout import wire


class PacketId(enum.IntEnum):
    """``msg_id`` of a TELEMETRY frame."""

    SCOOP = 0x01
    ELEC = 0x02
    OVEN = 0x03


class ScoopState(enum.IntEnum):
    IDLE = 0
    HOMING = 1
    MOVING = 2
    DIGGING = 3
    DUMPING = 4
    FAULT = 5


class ScoopFlags(enum.IntFlag):
    HOMED = 1 << 0
    BOOM_HOME_SWITCH = 1 << 1
    SCOOP_HOME_SWITCH = 1 << 2
    BOOM_STALL = 1 << 3
    SCOOP_STALL = 1 << 4
    OVERCURRENT = 1 << 5
    OVERTEMP = 1 << 6
    LOADCELL_FAULT = 1 << 7
    MOTORS_ON = 1 << 8
    HOST_TIMEOUT = 1 << 9


class ElecState(enum.IntEnum):
    IDLE = 0
    RUNNING = 1
    FAULT = 2


class ElecFlags(enum.IntFlag):
    CURRENT_ON = 1 << 0
    HEATER_ON = 1 << 1
    WATER_VALVE_OPEN = 1 << 2
    H2_VENT_OPEN = 1 << 3
    O2_VENT_OPEN = 1 << 4
    OVERTEMP = 1 << 5
    H2_OVERPRESSURE = 1 << 6
    O2_OVERPRESSURE = 1 << 7
    WATER_LOW = 1 << 8
    OVERVOLTAGE = 1 << 9
    HOST_TIMEOUT = 1 << 10


class OvenState(enum.IntEnum):
    IDLE = 0
    HEATING = 1
    HOLDING = 2
    TRANSFERRING = 3
    EJECTING = 4
    FAULT = 5


class OvenFlags(enum.IntFlag):
    LID_SEALED = 1 << 0
    LID_OPEN = 1 << 1
    LID_MOVING = 1 << 2
    HEATER_ON = 1 << 3
    TRAP_ON = 1 << 4
    PUMP_ON = 1 << 5
    SAMPLE_LOADED = 1 << 6
    OVERTEMP = 1 << 7
    OVERPRESSURE = 1 << 8
    SENSOR_FAULT = 1 << 9
    PUMP_STALL = 1 << 10
    HOST_TIMEOUT = 1 << 11


@quick_init
@dataclass(frozen=True, slots=True)
class ScoopTelemetry:
    """Scoop board packet (id 0x01)."""

    boot_count: int = wire("H", doc="resets since the board's memory was cleared")
    uptime_ms: int = wire("I", "ms", doc="time since this boot, wraps at 2^32")
    state: ScoopState = wire("B", doc="ScoopState")
    flags: ScoopFlags = wire("H", doc="ScoopFlags bit field")
    boom_angle_deg: float = wire("f", "deg", doc="boom joint angle from its encoder")
    scoop_angle_deg: float = wire("f", "deg", doc="scoop joint angle from its encoder")
    boom_current_a: float = wire("f", "A", doc="boom motor current")
    scoop_current_a: float = wire("f", "A", doc="scoop motor current")
    load_mass_g: float = wire("f", "g", doc="live load-cell reading, tared")
    sample_mass_g: float = wire("f", "g", doc="mass latched by the last WEIGH")
    tool_depth_mm: float = wire("f", "mm", doc="scoop tip depth below the surface")
    board_temp_c: float = wire("f", "degC", doc="board temperature")


@quick_init
@dataclass(frozen=True, slots=True)
class ElecTelemetry:
    """Electrolysis board packet (id 0x02)."""

    boot_count: int = wire("H", doc="resets since the board's memory was cleared")
    uptime_ms: int = wire("I", "ms", doc="time since this boot, wraps at 2^32")
    state: ElecState = wire("B", doc="ElecState")
    flags: ElecFlags = wire("H", doc="ElecFlags bit field")
    cell_voltage_v: float = wire("f", "V", doc="cell stack voltage")
    cell_current_a: float = wire("f", "A", doc="measured cell current")
    current_setpoint_a: float = wire("f", "A", doc="current source setpoint")
    cell_temp_c: float = wire("f", "degC", doc="cell temperature")
    heater_setpoint_c: float = wire("f", "degC", doc="heater thermostat setpoint")
    heater_power_w: float = wire("f", "W", doc="heater power now")
    h2_pressure_kpa: float = wire("f", "kPa", doc="H2 tank pressure, absolute")
    o2_pressure_kpa: float = wire("f", "kPa", doc="O2 tank pressure, absolute")
    water_mass_g: float = wire("f", "g", doc="water left in the reservoir")
    board_temp_c: float = wire("f", "degC", doc="board temperature")


@quick_init
@dataclass(frozen=True, slots=True)
class OvenTelemetry:
    """Oven (thermal extraction) board packet (id 0x03)."""

    boot_count: int = wire("H", doc="resets since the board's memory was cleared")
    uptime_ms: int = wire("I", "ms", doc="time since this boot, wraps at 2^32")
    state: OvenState = wire("B", doc="OvenState")
    flags: OvenFlags = wire("H", doc="OvenFlags bit field")
    sample_temp_c: float = wire("f", "degC", doc="sample thermocouple")
    wall_temp_c: float = wire("f", "degC", doc="chamber wall thermocouple")
    heater_setpoint_c: float = wire("f", "degC", doc="present heater target (ramping)")
    heater_power_w: float = wire("f", "W", doc="heater power now")
    heater_energy_wh: float = wire("f", "Wh", doc="heater energy since boot")
    chamber_pressure_kpa: float = wire("f", "kPa", doc="chamber pressure, absolute")
    trap_temp_c: float = wire("f", "degC", doc="cold-trap temperature")
    water_collected_g: float = wire("f", "g", doc="water caught on the trap since boot")
    water_transferred_g: float = wire("f", "g", doc="water pumped to the cell since boot")
    sample_mass_g: float = wire("f", "g", doc="sample in the chamber, tared load cell")
    board_temp_c: float = wire("f", "degC", doc="board temperature")


Telemetry = ScoopTelemetry | ElecTelemetry | OvenTelemetry

TELEMETRY_CLASSES: dict[
    PacketId, type[ScoopTelemetry] | type[ElecTelemetry] | type[OvenTelemetry]
] = {
    PacketId.SCOOP: ScoopTelemetry,
    PacketId.ELEC: ElecTelemetry,
    PacketId.OVEN: OvenTelemetry,
}
