"""The command catalogue: every request a board understands, its id, arguments and reply."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from hal.layout import wire


class BoardKind(enum.IntEnum):
    SCOOP = 1
    ELEC = 2
    OVEN = 3


class Joint(enum.IntEnum):
    BOOM = 0
    SCOOP = 1


class DumpTarget(enum.IntEnum):
    """Where DUMP tips the sample."""

    GROUND = 0
    OVEN = 1


class Valve(enum.IntEnum):
    WATER_FEED = 0
    H2_VENT = 1
    O2_VENT = 2


#: Travel of each joint, in degrees: MOVE_JOINT outside it is NACKed OUT_OF_RANGE (argument 1).
JOINT_LIMITS_DEG: dict[Joint, tuple[float, float]] = {
    Joint.BOOM: (-5.0, 95.0),
    Joint.SCOOP: (-30.0, 190.0),
}


@dataclass(frozen=True, slots=True)
class BoardInfo:
    board: BoardKind = wire("B", doc="which board answers")
    protocol_version: int = wire("B", doc="protocol version the firmware speaks")
    fw_major: int = wire("B", doc="firmware version, major")
    fw_minor: int = wire("B", doc="firmware version, minor")
    boot_count: int = wire("H", doc="resets since the board's memory was cleared")
    uptime_ms: int = wire("I", "ms", doc="time since this boot")


@dataclass(frozen=True, slots=True)
class TelemetryRate:
    rate_hz: float = wire("f", "Hz", lo=0.0, hi=1000.0, doc="0 stops streaming")


@dataclass(frozen=True, slots=True)
class MoveJoint:
    joint: Joint = wire("B", doc="0 boom, 1 scoop")
    angle_deg: float = wire("f", "deg", lo=-30.0, hi=190.0, doc="target; see JOINT_LIMITS_DEG")
    speed_dps: float = wire("f", "deg/s", lo=0.5, hi=30.0, doc="slew speed")


@dataclass(frozen=True, slots=True)
class Dig:
    depth_mm: float = wire("f", "mm", lo=5.0, hi=100.0, doc="depth to cut below the surface")


@dataclass(frozen=True, slots=True)
class DumpCommand:
    target: DumpTarget = wire("B", doc="0 ground (discard beside the vehicle), 1 oven hopper")


@dataclass(frozen=True, slots=True)
class WeighResult:
    mass_g: float = wire("f", "g", doc="tared load-cell mass, averaged")


@dataclass(frozen=True, slots=True)
class CellCurrent:
    current_a: float = wire("f", "A", lo=0.0, hi=10.0, doc="current source setpoint")


@dataclass(frozen=True, slots=True)
class ValveCommand:
    valve: Valve = wire("B", doc="0 water feed, 1 H2 vent, 2 O2 vent")
    open: int = wire("B", lo=0, hi=1, doc="1 open, 0 closed")


@dataclass(frozen=True, slots=True)
class HeaterCommand:
    enable: int = wire("B", lo=0, hi=1, doc="1 thermostat on, 0 heater off")
    setpoint_c: float = wire("f", "degC", lo=-20.0, hi=80.0, doc="thermostat setpoint")


@dataclass(frozen=True, slots=True)
class LidCommand:
    open: int = wire("B", lo=0, hi=1, doc="1 open the hopper lid, 0 close and seal it")


@dataclass(frozen=True, slots=True)
class HeatCommand:
    setpoint_c: float = wire("f", "degC", lo=-50.0, hi=450.0, doc="sample temperature to reach")
    ramp_c_per_min: float = wire("f", "degC/min", lo=0.5, hi=60.0, doc="heater target ramp rate")
    power_limit_w: float = wire("f", "W", lo=1.0, hi=200.0, doc="heater power never above this")


@dataclass(frozen=True, slots=True)
class TrapCommand:
    enable: int = wire("B", lo=0, hi=1, doc="1 thermostat on, 0 trap cooler off")
    setpoint_c: float = wire("f", "degC", lo=-150.0, hi=40.0, doc="cold-trap setpoint")


@dataclass(frozen=True, slots=True)
class TransferCommand:
    water_g: float = wire("f", "g", lo=0.5, hi=100.0, doc="liquid water to pump to the cell")


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One request: ``board`` is None for the commands every board has."""

    id: int
    name: str
    board: BoardKind | None
    doc: str
    args: type[Any] | None = None
    reply: type[Any] | None = None
    reply_is_telemetry: bool = False


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(0x01, "GET_INFO", None, "identify the board", reply=BoardInfo),
    CommandSpec(0x02, "SET_TM_RATE", None, "set the telemetry stream rate", args=TelemetryRate),
    CommandSpec(
        0x03, "GET_STATUS", None, "one telemetry packet as the reply", reply_is_telemetry=True
    ),
    CommandSpec(0x04, "RESET", None, "ACK, then reboot: actuators off, boot_count + 1"),
    CommandSpec(0x05, "STOP", None, "actuators off (motors, cell current, heater); clears FAULT"),
    CommandSpec(0x10, "HOME", BoardKind.SCOOP, "drive both joints to their home switches"),
    CommandSpec(0x11, "MOVE_JOINT", BoardKind.SCOOP, "slew one joint to an angle", args=MoveJoint),
    CommandSpec(0x12, "DIG", BoardKind.SCOOP, "cut a sample to a depth (needs HOMED)", args=Dig),
    CommandSpec(0x13, "TARE", BoardKind.SCOOP, "zero the load cell (arm at rest)"),
    CommandSpec(
        0x14, "WEIGH", BoardKind.SCOOP, "latch the sample mass (arm at rest)", reply=WeighResult
    ),
    CommandSpec(
        0x15, "DUMP", BoardKind.SCOOP, "tip the sample at a target and return", args=DumpCommand
    ),
    CommandSpec(0x20, "SET_CURRENT", BoardKind.ELEC, "cell current setpoint", args=CellCurrent),
    CommandSpec(0x21, "START", BoardKind.ELEC, "switch the current source on at the setpoint"),
    CommandSpec(0x22, "SET_VALVE", BoardKind.ELEC, "open or close one valve", args=ValveCommand),
    CommandSpec(0x23, "SET_HEATER", BoardKind.ELEC, "heater thermostat", args=HeaterCommand),
    CommandSpec(
        0x30, "SET_LID", BoardKind.OVEN, "open, or close and seal, the lid", args=LidCommand
    ),
    CommandSpec(0x31, "HEAT", BoardKind.OVEN, "ramp the sample to a setpoint", args=HeatCommand),
    CommandSpec(0x32, "HOLD", BoardKind.OVEN, "hold the sample at its present temperature"),
    CommandSpec(0x33, "HEATER_OFF", BoardKind.OVEN, "switch the sample heater off"),
    CommandSpec(0x34, "SET_TRAP", BoardKind.OVEN, "cold-trap thermostat", args=TrapCommand),
    CommandSpec(
        0x35, "TRANSFER", BoardKind.OVEN, "pump trap water to the cell", args=TransferCommand
    ),
    CommandSpec(0x36, "EJECT", BoardKind.OVEN, "drop the spent sample out of the chamber"),
)

BY_NAME: dict[str, CommandSpec] = {c.name: c for c in COMMANDS}
BY_ID: dict[int, CommandSpec] = {c.id: c for c in COMMANDS}


def commands_for(board: BoardKind) -> tuple[CommandSpec, ...]:
    """The commands ``board`` answers: the common ones and its own."""
    return tuple(c for c in COMMANDS if c.board in (None, board))
