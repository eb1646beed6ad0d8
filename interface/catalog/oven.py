"""The oven board's part of the dictionary: its packet, limits, commands and interlocks.

Pure data, like the rest of the catalog: ``hal.telemetry.OvenTelemetry`` defines the same
packet on the wire (``tests/test_catalog.py`` checks that the two agree). Two channels are
the flight software's own, derived from each packet (``flight/oven.py``): ``oven.lid`` and
``oven.heater_stall_s``.
"""

from __future__ import annotations

from interface.dictionary import (
    ArgDef,
    ChannelDef,
    ChannelType,
    CommandDef,
    InterlockDef,
    Limits,
    Mode,
    SafingResponse,
)

#: A board packet's field: (name, type, unit, description, enum choices).
Field = tuple[str, ChannelType, str, str, tuple[str, ...]]

#: Above this sample temperature the oven is hot: the lid stays shut, nothing is loaded or
#: ejected (the board's own lid interlock is the same, docs/icd.md).
OVEN_HOT_C = 60.0
#: Above this chamber pressure the lid stays shut (the board's own lid interlock).
OVEN_PRESSURISED_KPA = 5.0
#: The electrolysis cell's water tank (design value; the simulated cell starts at 200 g).
CELL_TANK_CAPACITY_G = 300.0
#: The most one OVEN.TRANSFER may move: the board takes up to 100 g, the flight less, so
#: that a transfer accepted below the full mark never overfills the tank.
TRANSFER_MAX_G = 20.0
#: OVEN.TRANSFER's timeout: the largest transfer at the pump's 3.5 g/min (a micropump at its
#: working back-pressure; docs/sim.md) takes 343 s.
TRANSFER_TIMEOUT_S = 600.0
#: At or above this the cell's tank is full: OVEN.TRANSFER is refused (CELL_TANK_FULL).
CELL_TANK_FULL_G = CELL_TANK_CAPACITY_G - TRANSFER_MAX_G
#: The heater counts as stalled while it draws at least this much with the sample this far
#: below its target, the sample not STALL_RISE_C warmer and the trap not STALL_COLLECT_G
#: fuller than when that began (the heat goes neither into the sample nor into its ice:
#: flight/oven.py).
STALL_POWER_W = 2.0
STALL_MARGIN_C = 5.0
STALL_RISE_C = 1.0
STALL_COLLECT_G = 0.05

OVEN_STATES = ("IDLE", "HEATING", "HOLDING", "TRANSFERRING", "EJECTING", "FAULT")
OVEN_FIELDS: tuple[Field, ...] = (
    ("boot_count", "int", "", "resets since the board's memory was cleared", ()),
    ("uptime_ms", "int", "ms", "time since this boot, wraps at 2^32", ()),
    ("state", "enum", "", "OvenState", OVEN_STATES),
    ("sample_temp_c", "float", "degC", "sample thermocouple", ()),
    ("wall_temp_c", "float", "degC", "chamber wall thermocouple", ()),
    ("heater_setpoint_c", "float", "degC", "present heater target (ramping)", ()),
    ("heater_power_w", "float", "W", "heater power now", ()),
    ("heater_energy_wh", "float", "Wh", "heater energy since boot", ()),
    ("chamber_pressure_kpa", "float", "kPa", "chamber pressure, absolute", ()),
    ("trap_temp_c", "float", "degC", "cold-trap temperature", ()),
    ("water_collected_g", "float", "g", "water caught on the trap since boot", ()),
    ("water_transferred_g", "float", "g", "water pumped to the cell since boot", ()),
    ("sample_mass_g", "float", "g", "sample in the chamber, tared load cell", ()),
    ("board_temp_c", "float", "degC", "board temperature", ()),
)
#: The bits of the oven's flag word, lowest first.
OVEN_FLAGS = (
    "LID_SEALED",
    "LID_OPEN",
    "LID_MOVING",
    "HEATER_ON",
    "TRAP_ON",
    "PUMP_ON",
    "SAMPLE_LOADED",
    "OVERTEMP",
    "OVERPRESSURE",
    "SENSOR_FAULT",
    "PUMP_STALL",
    "HOST_TIMEOUT",
)
LID_STATES = ("OPEN", "SEALED", "MOVING", "UNKNOWN")

_R = SafingResponse
_HOT = Limits(yellow_high=460, red_high=480, persistence=3, response=_R.SAFE)
OVEN_LIMITS: dict[str, Limits] = {
    "oven.sample_temp_c": _HOT,
    "oven.wall_temp_c": _HOT,
    "oven.chamber_pressure_kpa": Limits(
        yellow_high=30, red_high=40, persistence=3, response=_R.SAFE
    ),
    "oven.heater_stall_s": Limits(yellow_high=120, red_high=300, persistence=3, response=_R.SAFE),
    "oven.board_temp_c": Limits(
        red_low=-30, yellow_low=-15, yellow_high=60, red_high=75, persistence=5, response=_R.SAFE
    ),
}

#: The flight software's own channels of the oven packet, after ``oven.link_up``.
OVEN_DERIVED = (
    ChannelDef(
        name="oven.lid",
        type="enum",
        packet="oven",
        choices=LID_STATES,
        description="lid from LID_SEALED, LID_OPEN, LID_MOVING (UNKNOWN: none set)",
    ),
    ChannelDef(
        name="oven.heater_stall_s",
        type="float",
        unit="s",
        packet="oven",
        description=(
            f"how long the heater has drawn >= {STALL_POWER_W:g} W with the sample more than "
            f"{STALL_MARGIN_C:g} degC below its target, not {STALL_RISE_C:g} degC warmer and "
            f"the trap not {STALL_COLLECT_G:g} g fuller"
        ),
        limits=OVEN_LIMITS["oven.heater_stall_s"],
    ),
)

_ALL_MODES = (Mode.SAFE, Mode.IDLE, Mode.OPERATING)


def _float(name: str, unit: str, lo: float, hi: float, description: str) -> ArgDef:
    return ArgDef(name=name, type="float", unit=unit, min=lo, max=hi, description=description)


OVEN_COMMANDS = [
    CommandDef(
        name="OVEN.LID",
        description="open the hopper lid, or close and seal it",
        args=(ArgDef(name="state", type="enum", choices=("OPEN", "SEALED"), description="lid"),),
        completion_timeout_s=10,
    ),
    CommandDef(
        name="OVEN.HEAT",
        description="ramp the sample to a setpoint, then hold it there (lid sealed, sample in)",
        args=(
            _float("setpoint_c", "degC", -50, 450, "sample temperature to reach"),
            _float("ramp_c_per_min", "degC/min", 0.5, 60, "heater target ramp rate"),
            _float("power_limit_w", "W", 1, 200, "heater power never above this"),
        ),
        hazardous=True,
        completion_timeout_s=10,
    ),
    CommandDef(name="OVEN.HOLD", description="hold the sample at its present temperature"),
    CommandDef(
        name="OVEN.HEATER_OFF", description="switch the sample heater off", modes=_ALL_MODES
    ),
    CommandDef(
        name="OVEN.TRAP",
        description="run the cold trap's thermostat at a setpoint",
        args=(_float("setpoint_c", "degC", -150, 40, "cold-trap setpoint"),),
    ),
    CommandDef(name="OVEN.TRAP_OFF", description="switch the cold trap off", modes=_ALL_MODES),
    CommandDef(
        name="OVEN.TRANSFER",
        description="pump melted water from the trap into the cell's tank",
        args=(_float("water_g", "g", 0.5, TRANSFER_MAX_G, "water to move"),),
        completion_timeout_s=TRANSFER_TIMEOUT_S,
    ),
    CommandDef(
        name="OVEN.EJECT",
        description="drop the spent sample out of the chamber",
        completion_timeout_s=20,
    ),
    CommandDef(
        name="OVEN.STOP",
        description="heater and pump off; clears a board FAULT",
        modes=_ALL_MODES,
    ),
]

_HOT_TEXT = f"oven.sample_temp_c <= {OVEN_HOT_C:g}"
OVEN_INTERLOCKS = [
    InterlockDef(
        name="OVEN_LID_NOT_SEALED",
        commands=("OVEN.HEAT", "OVEN.HOLD"),
        require="oven.lid_sealed == true",
        description="no heating unless the lid is sealed",
    ),
    InterlockDef(
        name="OVEN_NO_SAMPLE",
        commands=("OVEN.HEAT", "OVEN.HOLD"),
        require="oven.sample_loaded == true",
        description="no heating without a sample in the chamber",
    ),
    InterlockDef(
        name="OVEN_HOT",
        commands=("OVEN.LID",),
        when={"state": "OPEN"},
        require=_HOT_TEXT,
        description="the lid is not opened while the sample is hot",
    ),
    InterlockDef(
        name="OVEN_PRESSURISED",
        commands=("OVEN.LID",),
        when={"state": "OPEN"},
        require=f"oven.chamber_pressure_kpa <= {OVEN_PRESSURISED_KPA:g}",
        description="the lid is not opened while the chamber holds vapour",
    ),
    InterlockDef(
        name="OVEN_HOT_LOAD",
        commands=("SCOOP.DUMP",),
        when={"target": "OVEN"},
        require=_HOT_TEXT,
        description="nothing is loaded into a hot oven",
    ),
    InterlockDef(
        name="OVEN_LID_NOT_OPEN",
        commands=("SCOOP.DUMP",),
        when={"target": "OVEN"},
        require="oven.lid_open == true",
        description="the scoop dumps into the oven only with its lid open",
    ),
    InterlockDef(
        name="OVEN_HEATER_ON",
        commands=("OVEN.EJECT",),
        require="oven.heater_on == false",
        description="no eject while the heater is on",
    ),
    InterlockDef(
        name="OVEN_HOT_EJECT",
        commands=("OVEN.EJECT",),
        require=_HOT_TEXT,
        description="no eject of a hot sample",
    ),
    InterlockDef(
        name="CELL_RUNNING",
        commands=("OVEN.TRANSFER",),
        require="elec.state != RUNNING",
        description="no water into the cell's tank while the cell runs",
    ),
    InterlockDef(
        name="CELL_TANK_FULL",
        commands=("OVEN.TRANSFER",),
        require=f"elec.water_mass_g < {CELL_TANK_FULL_G:g}",
        description=(
            f"no transfer once the cell's tank holds {CELL_TANK_FULL_G:g} g "
            f"(it holds {CELL_TANK_CAPACITY_G:g} g, a transfer at most {TRANSFER_MAX_G:g} g)"
        ),
    ),
    InterlockDef(
        name="TRAP_FROZEN",
        commands=("OVEN.TRANSFER",),
        require="oven.trap_temp_c > 0",
        description="the trap's water is pumped only once melted",
    ),
]
