"""This payload's dictionary: the commands, telemetry channels and events of the build."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, get_type_hints

from flight.dictionary import (
    ArgDef,
    ChannelDef,
    ChannelType,
    CommandDef,
    Dictionary,
    EventDef,
    InterlockDef,
    Limits,
    Mode,
    SafingResponse,
    Severity,
)
from hal.commands import JOINT_LIMITS_DEG, Joint
from hal.layout import layout_of
from hal.telemetry import ElecFlags, ElecTelemetry, ScoopFlags, ScoopTelemetry

VERSION = "0.1.0"
ALL_MODES = (Mode.SAFE, Mode.IDLE, Mode.OPERATING)
BOARDS = ("scoop", "elec")

# --- telemetry channels ---------------------------------------------------------------

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
}


def board_channels(board: str, cls: type[Any], flags: type[enum.IntFlag]) -> list[ChannelDef]:
    """Channels of one board's packet: every field, with the flag word split into bools."""
    hints = get_type_hints(cls)
    wires = layout_of(cls).wires
    channels = []
    for field, wire in zip(dataclasses.fields(cls), wires, strict=True):
        annotation = hints[field.name]
        if annotation is flags:
            continue
        name = f"{board}.{field.name}"
        kind: ChannelType
        choices: tuple[str, ...]
        if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            kind, choices = "enum", tuple(m.name for m in annotation)
        else:
            kind, choices = ("float" if wire.fmt == "f" else "int"), ()
        channels.append(
            ChannelDef(
                name=name,
                type=kind,
                unit=wire.unit,
                packet=board,
                description=wire.doc,
                choices=choices,
                limits=BOARD_LIMITS.get(name),
            )
        )
    for flag in flags:
        assert flag.name is not None
        name = f"{board}.{flag.name.lower()}"
        channels.append(
            ChannelDef(
                name=name,
                type="bool",
                packet=board,
                description=f"{flags.__name__}.{flag.name}",
                limits=BOARD_LIMITS.get(name),
            )
        )
    channels.append(
        ChannelDef(name=f"{board}.link_up", type="bool", packet=board, description="serial link up")
    )
    return channels


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

# --- commands -------------------------------------------------------------------------


def _float(name: str, unit: str, lo: float, hi: float, description: str) -> ArgDef:
    return ArgDef(name=name, type="float", unit=unit, min=lo, max=hi, description=description)


def _enum(name: str, choices: tuple[str, ...], description: str) -> ArgDef:
    return ArgDef(name=name, type="enum", choices=choices, description=description)


_BOOM_LO, _BOOM_HI = JOINT_LIMITS_DEG[Joint.BOOM]
_SCOOP_LO, _SCOOP_HI = JOINT_LIMITS_DEG[Joint.SCOOP]
HAZARDOUS = ("SCOOP.DUMP", "ELEC.START", "ELEC.VENT", "LIMIT.DISABLE", "CORE.RESET_BOARD")
LIMITED_CHANNELS = tuple(BOARD_LIMITS)

COMMANDS = [
    CommandDef(name="CORE.NOOP", description="does nothing; completes at once", modes=ALL_MODES),
    CommandDef(
        name="CORE.ARM",
        description="arm a hazardous command: FIRE it (send it) within the arm window",
        args=(_enum("command", HAZARDOUS, "the hazardous command to arm"),),
        modes=ALL_MODES,
    ),
    CommandDef(name="CORE.DISARM", description="cancel an armed command", modes=ALL_MODES),
    CommandDef(
        name="CORE.RESET_BOARD",
        description="reboot one board (it comes back with actuators off)",
        args=(_enum("board", BOARDS, "which board"),),
        hazardous=True,
        modes=ALL_MODES,
    ),
    CommandDef(
        name="CORE.TM_RATE",
        description="set a board's telemetry rate (the host polls a quiet board at 1 Hz)",
        args=(
            _enum("board", BOARDS, "which board"),
            _float("rate_hz", "Hz", 0, 100, "0 stops the stream"),
        ),
        modes=ALL_MODES,
    ),
    CommandDef(name="MODE.SAFE", description="all actuators off, go SAFE", modes=ALL_MODES),
    CommandDef(
        name="MODE.IDLE", description="leave SAFE: commanding allowed", modes=(Mode.SAFE, Mode.IDLE)
    ),
    CommandDef(
        name="LIMIT.ENABLE",
        description="monitor a channel's limits again",
        args=(_enum("channel", LIMITED_CHANNELS, "channel"),),
        modes=ALL_MODES,
    ),
    CommandDef(
        name="LIMIT.DISABLE",
        description="stop monitoring a channel's limits",
        args=(_enum("channel", LIMITED_CHANNELS, "channel"),),
        hazardous=True,
        modes=ALL_MODES,
    ),
    CommandDef(
        name="SCOOP.HOME",
        description="drive both joints to their home switches",
        completion_timeout_s=30,
    ),
    CommandDef(
        name="SCOOP.MOVE",
        description="slew one joint to an angle",
        args=(
            _enum("joint", ("BOOM", "SCOOP"), "which joint"),
            _float(
                "angle_deg",
                "deg",
                min(_BOOM_LO, _SCOOP_LO),
                max(_BOOM_HI, _SCOOP_HI),
                "target angle",
            ),
            _float("speed_dps", "deg/s", 0.5, 30, "slew speed"),
        ),
        completion_timeout_s=60,
    ),
    CommandDef(
        name="SCOOP.DIG",
        description="cut a sample to a depth (arm homed)",
        args=(_float("depth_mm", "mm", 5, 100, "depth below the surface"),),
        completion_timeout_s=60,
    ),
    CommandDef(name="SCOOP.TARE", description="zero the load cell"),
    CommandDef(name="SCOOP.WEIGH", description="latch the sample mass"),
    CommandDef(
        name="SCOOP.DUMP",
        description="tip the sample into the inlet",
        hazardous=True,
        completion_timeout_s=60,
    ),
    CommandDef(name="SCOOP.STOP", description="stop the arm", modes=ALL_MODES),
    CommandDef(
        name="ELEC.START",
        description="run the cell at a current (hazardous above 5 A)",
        args=(_float("current_a", "A", 0.1, 10, "cell current"),),
        hazardous_above={"current_a": 5.0},
        completion_timeout_s=10,
    ),
    CommandDef(name="ELEC.STOP", description="cell current and heater off", modes=ALL_MODES),
    CommandDef(
        name="ELEC.VENT",
        description="open a gas tank's vent valve",
        args=(_enum("gas", ("H2", "O2"), "which tank"),),
        hazardous=True,
    ),
    CommandDef(
        name="ELEC.VENT_CLOSE",
        description="close a gas tank's vent valve",
        args=(_enum("gas", ("H2", "O2"), "which tank"),),
        modes=ALL_MODES,
    ),
    CommandDef(
        name="ELEC.WATER",
        description="open or close the water feed valve",
        args=(ArgDef(name="open", type="bool", description="true opens"),),
    ),
    CommandDef(
        name="ELEC.HEATER",
        description="cell heater thermostat",
        args=(
            ArgDef(name="enabled", type="bool", description="false switches it off"),
            _float("setpoint_c", "degC", -20, 80, "thermostat setpoint"),
        ),
        completion_timeout_s=5,
    ),
]

SEQUENCE_NAME = ArgDef(
    name="name", type="str", max_length=64, description="sequence name ([A-Za-z0-9_.-])"
)
COMMANDS += [
    CommandDef(
        name="SEQ.UPLOAD",
        description="store a sequence onboard after checking it against the dictionary",
        args=(
            SEQUENCE_NAME,
            ArgDef(name="text", type="str", max_length=200_000, description="the file"),
        ),
        modes=ALL_MODES,
        in_sequences=False,
    ),
    CommandDef(
        name="SEQ.START",
        description="start an uploaded sequence (one at a time)",
        args=(SEQUENCE_NAME,),
        modes=ALL_MODES,
        in_sequences=False,
    ),
    CommandDef(
        name="SEQ.ABORT",
        description="abort the running sequence; the payload goes SAFE",
        modes=ALL_MODES,
        in_sequences=False,
    ),
]

# --- events ---------------------------------------------------------------------------

_S = Severity
EVENTS = [
    EventDef(
        id="BOOT",
        severity=_S.INFO,
        template="flight software {version} started (boot {boot_count}), mode SAFE",
    ),
    EventDef(
        id="STATE_RECOVERED",
        severity=_S.WARNING,
        template="persistent state was unreadable: {detail}",
    ),
    EventDef(id="SHUTDOWN", severity=_S.INFO, template="flight software stopping: {reason}"),
    EventDef(id="BROKER_CONNECTED", severity=_S.INFO, template="connected to {broker}"),
    EventDef(id="BROKER_LOST", severity=_S.WARNING, template="broker {broker} lost: {detail}"),
    EventDef(
        id="REPLAY_DONE",
        severity=_S.INFO,
        template="sent {count} messages stored while the broker was out of reach",
    ),
    EventDef(id="OUTBOX_DROPPED", severity=_S.WARNING, template="outbox {detail}"),
    EventDef(
        id="MESSAGE_REJECTED", severity=_S.WARNING, template="{topic}: message refused: {detail}"
    ),
    EventDef(id="AUTH_REFUSED", severity=_S.ERROR, template="command {id} refused: {detail}"),
    EventDef(
        id="COMMAND_DUPLICATE",
        severity=_S.DIAGNOSTIC,
        template="command {id} seen before: acknowledged again, not executed",
    ),
    EventDef(id="MODE_CHANGED", severity=_S.INFO, template="mode {old} -> {new}: {reason}"),
    EventDef(
        id="COMMAND_FAILED",
        severity=_S.WARNING,
        template="{name} ({id}) failed: {reason}: {detail}",
    ),
    EventDef(id="ARMED", severity=_S.INFO, template="{command} armed for {window_s} s"),
    EventDef(id="ARM_CANCELLED", severity=_S.INFO, template="{command} disarmed: {reason}"),
    EventDef(
        id="LIMIT_YELLOW",
        severity=_S.WARNING,
        template="{channel} = {value} {unit}: beyond yellow limit {limit}",
    ),
    EventDef(
        id="LIMIT_RED",
        severity=_S.ERROR,
        template="{channel} = {value} {unit}: beyond red limit {limit}, response {response}",
    ),
    EventDef(
        id="LIMIT_CLEARED",
        severity=_S.INFO,
        template="{channel} = {value} {unit}: back within limits",
    ),
    EventDef(id="LIMIT_ENABLED", severity=_S.INFO, template="{channel} limits enabled"),
    EventDef(id="LIMIT_DISABLED", severity=_S.WARNING, template="{channel} limits disabled"),
    EventDef(id="SAFING", severity=_S.ERROR, template="safing {response}: {reason}"),
    EventDef(id="LINK_LOST", severity=_S.ERROR, template="{board} link lost: {detail}"),
    EventDef(id="LINK_RESTORED", severity=_S.INFO, template="{board} link restored"),
    EventDef(
        id="BOARD_RESET",
        severity=_S.WARNING,
        template="{board} board reset (boot_count {old} -> {new})",
    ),
    EventDef(
        id="BOARD_FAULT",
        severity=_S.ERROR,
        template="{board} board in FAULT ({cause}): {action}",
    ),
    EventDef(id="BOARD_FAULT_CLEARED", severity=_S.INFO, template="{board} board out of FAULT"),
    EventDef(
        id="SEQ_STARTED", severity=_S.INFO, template="sequence {name} started ({steps} steps)"
    ),
    EventDef(id="SEQ_STEP", severity=_S.DIAGNOSTIC, template="sequence {name} line {line}: {text}"),
    EventDef(
        id="SEQ_COMPLETED", severity=_S.INFO, template="sequence {name} completed in {elapsed_s} s"
    ),
    EventDef(
        id="SEQ_ABORTED",
        severity=_S.ERROR,
        template="sequence {name} aborted at line {line}: {reason}",
    ),
    EventDef(
        id="SEQ_INTERRUPTED",
        severity=_S.WARNING,
        template="sequence {name} was interrupted at line {line} by a restart; not resumed",
    ),
]


# --- interlocks ------------------------------------------------------------------------

INTERLOCKS = [
    InterlockDef(
        name="H2_PRESSURE_HIGH",
        commands=("ELEC.START",),
        require="elec.h2_pressure_kpa < 180",
        description="no cell current while the H2 tank is above its yellow limit",
    ),
    InterlockDef(
        name="O2_PRESSURE_HIGH",
        commands=("ELEC.START",),
        require="elec.o2_pressure_kpa < 180",
        description="no cell current while the O2 tank is above its yellow limit",
    ),
    InterlockDef(
        name="CELL_TOO_COLD",
        commands=("ELEC.START",),
        require="elec.cell_temp_c >= 5",
        description="no cell current while the cell is near freezing",
    ),
    InterlockDef(
        name="WATER_LOW",
        commands=("ELEC.START",),
        require="elec.water_mass_g >= 30",
        description="no cell current with too little water in the reservoir",
    ),
    InterlockDef(
        name="SCOOP_NOT_HOMED",
        commands=("SCOOP.DIG", "SCOOP.DUMP", "SCOOP.MOVE"),
        require="scoop.homed == true",
        description="no arm motion but HOME before the joints are homed",
    ),
    InterlockDef(
        name="ARM_IN_MOTION",
        commands=("SCOOP.TARE", "SCOOP.WEIGH"),
        require="scoop.state == IDLE",
        description="the load cell is read only with the arm at rest",
    ),
]


def build() -> Dictionary:
    """The dictionary of this build."""
    channels = [
        *CORE_CHANNELS,
        *board_channels("scoop", ScoopTelemetry, ScoopFlags),
        *board_channels("elec", ElecTelemetry, ElecFlags),
    ]
    return Dictionary(
        version=VERSION,
        commands=tuple(COMMANDS),
        channels=tuple(channels),
        events=tuple(EVENTS),
        interlocks=tuple(INTERLOCKS),
    )


DICTIONARY = build()
