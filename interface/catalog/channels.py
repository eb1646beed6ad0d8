"""The telemetry channels of this build: the core's own, and each board packet's.

Pure data: a board packet's channels are its telemetry fields in wire order (the flag word
left out), one bool per flag bit, then ``link_up`` (the oven's then has two channels the
flight software derives, see :mod:`interface.catalog.oven`). ``hal.telemetry`` defines the
same packets on the wire; ``tests/test_catalog.py`` checks that the two agree.
"""

from __future__ import annotations

from interface.catalog.oven import OVEN_DERIVED, OVEN_FIELDS, OVEN_FLAGS, OVEN_LIMITS
from interface.dictionary import ChannelDef, ChannelType, Limits, Mode, SafingResponse

# Limits on board channels. Bool channels are 0/1: a red_high of 0.5 means "red when true".
_R = SafingResponse
BOARD_LIMITS: dict[str, Limits] = {
    "scoop.boom_current_a": Limits(
        yellow_high=1.6, red_high=2.2, persistence=5, response=_R.STOP_SCOOP
    ),
    "scoop.scoop_current_a": Limits(
        yellow_high=1.6, red_high=2.2, persistence=5, response=_R.STOP_SCOOP
    ),
    "scoop.boom_stall": Limits(red_high=0.5, persistence=2, response=_R.SAFE),
    "scoop.scoop_stall": Limits(red_high=0.5, persistence=2, response=_R.SAFE),
    "scoop.load_mass_g": Limits(yellow_high=480, red_high=550, persistence=5),
    "scoop.board_temp_c": Limits(
        red_low=-30, yellow_low=-15, yellow_high=60, red_high=75, persistence=5, response=_R.SAFE
    ),
    "elec.h2_pressure_kpa": Limits(yellow_high=180, red_high=200, persistence=3, response=_R.SAFE),
    "elec.o2_pressure_kpa": Limits(yellow_high=180, red_high=200, persistence=3, response=_R.SAFE),
    "elec.cell_temp_c": Limits(
        red_low=1, yellow_low=5, yellow_high=70, red_high=80, persistence=3, response=_R.STOP_CELL
    ),
    "elec.cell_voltage_v": Limits(
        yellow_high=2.2, red_high=2.4, persistence=3, response=_R.STOP_CELL
    ),
    "elec.cell_current_a": Limits(red_high=10.5, persistence=3, response=_R.STOP_CELL),
    "elec.water_mass_g": Limits(red_low=10, yellow_low=30, persistence=3, response=_R.STOP_CELL),
    "elec.board_temp_c": Limits(
        red_low=-30, yellow_low=-15, yellow_high=60, red_high=75, persistence=5, response=_R.SAFE
    ),
    **OVEN_LIMITS,
}

#: A board packet's field: (name, type, unit, description, enum choices).
Field = tuple[str, ChannelType, str, str, tuple[str, ...]]

_BOOT_COUNT: Field = ("boot_count", "int", "", "resets since the board's memory was cleared", ())
_UPTIME: Field = ("uptime_ms", "int", "ms", "time since this boot, wraps at 2^32", ())
_BOARD_TEMP: Field = ("board_temp_c", "float", "degC", "board temperature", ())

SCOOP_STATES = ("IDLE", "HOMING", "MOVING", "DIGGING", "DUMPING", "FAULT")
SCOOP_FIELDS: tuple[Field, ...] = (
    _BOOT_COUNT,
    _UPTIME,
    ("state", "enum", "", "ScoopState", SCOOP_STATES),
    ("boom_angle_deg", "float", "deg", "boom joint angle from its encoder", ()),
    ("scoop_angle_deg", "float", "deg", "scoop joint angle from its encoder", ()),
    ("boom_current_a", "float", "A", "boom motor current", ()),
    ("scoop_current_a", "float", "A", "scoop motor current", ()),
    ("load_mass_g", "float", "g", "live load-cell reading, tared", ()),
    ("sample_mass_g", "float", "g", "mass latched by the last WEIGH", ()),
    ("tool_depth_mm", "float", "mm", "scoop tip depth below the surface", ()),
    _BOARD_TEMP,
)
#: The bits of the scoop's flag word, lowest first.
SCOOP_FLAGS = (
    "HOMED",
    "BOOM_HOME_SWITCH",
    "SCOOP_HOME_SWITCH",
    "BOOM_STALL",
    "SCOOP_STALL",
    "OVERCURRENT",
    "OVERTEMP",
    "LOADCELL_FAULT",
    "MOTORS_ON",
    "HOST_TIMEOUT",
)

ELEC_STATES = ("IDLE", "RUNNING", "FAULT")
ELEC_FIELDS: tuple[Field, ...] = (
    _BOOT_COUNT,
    _UPTIME,
    ("state", "enum", "", "ElecState", ELEC_STATES),
    ("cell_voltage_v", "float", "V", "cell stack voltage", ()),
    ("cell_current_a", "float", "A", "measured cell current", ()),
    ("current_setpoint_a", "float", "A", "current source setpoint", ()),
    ("cell_temp_c", "float", "degC", "cell temperature", ()),
    ("heater_setpoint_c", "float", "degC", "heater thermostat setpoint", ()),
    ("heater_power_w", "float", "W", "heater power now", ()),
    ("h2_pressure_kpa", "float", "kPa", "H2 tank pressure, absolute", ()),
    ("o2_pressure_kpa", "float", "kPa", "O2 tank pressure, absolute", ()),
    ("water_mass_g", "float", "g", "water left in the reservoir", ()),
    _BOARD_TEMP,
)
#: The bits of the elec board's flag word, lowest first.
ELEC_FLAGS = (
    "CURRENT_ON",
    "HEATER_ON",
    "WATER_VALVE_OPEN",
    "H2_VENT_OPEN",
    "O2_VENT_OPEN",
    "OVERTEMP",
    "H2_OVERPRESSURE",
    "O2_OVERPRESSURE",
    "WATER_LOW",
    "OVERVOLTAGE",
    "HOST_TIMEOUT",
)


def board_channels(
    board: str, fields: tuple[Field, ...], flags_type: str, flags: tuple[str, ...]
) -> list[ChannelDef]:
    """Channels of one board's packet: every field, each flag bit as a bool, and ``link_up``."""
    channels = [
        ChannelDef(
            name=f"{board}.{field}",
            type=kind,
            unit=unit,
            packet=board,
            description=description,
            choices=choices,
            limits=BOARD_LIMITS.get(f"{board}.{field}"),
        )
        for field, kind, unit, description, choices in fields
    ]
    channels += [
        ChannelDef(
            name=f"{board}.{flag.lower()}",
            type="bool",
            packet=board,
            description=f"{flags_type}.{flag}",
            limits=BOARD_LIMITS.get(f"{board}.{flag.lower()}"),
        )
        for flag in flags
    ]
    channels.append(
        ChannelDef(name=f"{board}.link_up", type="bool", packet=board, description="serial link up")
    )
    return channels


SCOOP_CHANNELS = board_channels("scoop", SCOOP_FIELDS, "ScoopFlags", SCOOP_FLAGS)
ELEC_CHANNELS = board_channels("elec", ELEC_FIELDS, "ElecFlags", ELEC_FLAGS)
#: The oven's packet, then the flight software's channels derived from it.
OVEN_CHANNELS = [*board_channels("oven", OVEN_FIELDS, "OvenFlags", OVEN_FLAGS), *OVEN_DERIVED]

CORE_CHANNELS = [
    ChannelDef(
        name="core.mode",
        type="enum",
        packet="core",
        choices=tuple(Mode),
        description="payload mode",
    ),
    ChannelDef(name="core.armed", type="str", packet="core", description="command armed, or empty"),
    ChannelDef(
        name="core.uptime_s", type="float", unit="s", packet="core", description="since start"
    ),
    ChannelDef(
        name="core.boot_count", type="int", packet="core", description="flight software starts"
    ),
    ChannelDef(
        name="core.commands_completed", type="int", packet="core", description="since start"
    ),
    ChannelDef(name="core.commands_failed", type="int", packet="core", description="since start"),
    ChannelDef(
        name="core.seq_state",
        type="enum",
        packet="core",
        choices=("IDLE", "RUNNING"),
        description="sequencer",
    ),
    ChannelDef(
        name="core.seq_line", type="int", packet="core", description="line being run, 0 when idle"
    ),
    ChannelDef(
        name="core.cell_ah_total",
        type="float",
        unit="A h",
        packet="core",
        description="lifetime cell charge",
    ),
    ChannelDef(
        name="core.scoop_cycles_total", type="int", packet="core", description="lifetime digs"
    ),
]

CHANNELS = (*CORE_CHANNELS, *SCOOP_CHANNELS, *ELEC_CHANNELS, *OVEN_CHANNELS)
