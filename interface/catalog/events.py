"""The events of this build, and its interlocks (conditions a command needs to run)."""

from __future__ import annotations

from interface.catalog.oven import OVEN_INTERLOCKS
from interface.catalog.samples import SAMPLE_EVENTS
from interface.dictionary import EventDef, InterlockDef, Severity

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
        id="OVEN_SAFED",
        severity=_S.INFO,
        template="oven safe: heater, pump and trap off; lid {lid}, sample {sample_temp_c} degC",
    ),
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
    *SAMPLE_EVENTS,
]


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
    *OVEN_INTERLOCKS,
]
