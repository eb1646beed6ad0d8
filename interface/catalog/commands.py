"""The commands of this build, with their arguments, modes and hazard classes."""

from __future__ import annotations

from interface.catalog.channels import BOARD_LIMITS
from interface.catalog.oven import OVEN_COMMANDS
from interface.catalog.samples import SAMPLE_COMMANDS
from interface.dictionary import ArgDef, CommandDef, Mode

ALL_MODES = (Mode.SAFE, Mode.IDLE, Mode.OPERATING)
BOARDS = ("scoop", "elec", "oven")
#: Each joint's travel in degrees, as the scoop board enforces it (``hal.commands``).
JOINT_LIMITS_DEG: dict[str, tuple[float, float]] = {
    "BOOM": (-5.0, 95.0),
    "SCOOP": (-30.0, 190.0),
}


def _float(name: str, unit: str, lo: float, hi: float, description: str) -> ArgDef:
    return ArgDef(name=name, type="float", unit=unit, min=lo, max=hi, description=description)


def _enum(name: str, choices: tuple[str, ...], description: str) -> ArgDef:
    return ArgDef(name=name, type="enum", choices=choices, description=description)


_BOOM_LO, _BOOM_HI = JOINT_LIMITS_DEG["BOOM"]
_SCOOP_LO, _SCOOP_HI = JOINT_LIMITS_DEG["SCOOP"]
HAZARDOUS = (
    "SCOOP.DUMP",
    "ELEC.START",
    "ELEC.VENT",
    "OVEN.HEAT",
    "LIMIT.DISABLE",
    "CORE.RESET_BOARD",
)
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
            _enum("joint", tuple(JOINT_LIMITS_DEG), "which joint"),
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
        description="tip the sample at a target and return",
        args=(
            _enum(
                "target",
                ("GROUND", "OVEN"),
                "GROUND: discard beside the vehicle; OVEN: into the oven's hopper",
            ),
        ),
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
    *OVEN_COMMANDS,
    *SAMPLE_COMMANDS,
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
