"""The rules `isru conform` checks, each tied to the section of docs/icd.md that states it.

:data:`RULES` is the one list: the kit's report, its steps and the rule table in ICD §11 are
all checked against it (``tests/test_conform.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

BOARDS = ("scoop", "elec", "oven")
ALL = frozenset(BOARDS)
SCOOP = frozenset({"scoop"})
ELEC = frozenset({"elec"})
OVEN = frozenset({"oven"})


@dataclass(frozen=True, slots=True)
class Rule:
    """One ICD rule the kit checks from the host side."""

    id: str
    section: str
    boards: frozenset[str]
    text: str


RULES: tuple[Rule, ...] = (
    Rule("INFO-BOARD", "§5.1", ALL, "GET_INFO names this board and protocol version 1"),
    Rule("FRAME-CRC", "§2.3", ALL, "a frame with a bad CRC is dropped: no reply, not executed"),
    Rule("FRAME-COBS", "§2.3", ALL, "a frame that is not valid COBS is dropped: no reply"),
    Rule("FRAME-SHORT", "§2.3", ALL, "a payload of 0, 1 or 2 bytes is ignored: no reply"),
    Rule(
        "FRAME-IDLE",
        "§2.3",
        ALL,
        "0x00 fill, a flushed partial frame and a frame split across writes are fine",
    ),
    Rule(
        "FRAME-OVERSIZE",
        "§2.3",
        ALL,
        "over 255 bytes without 0x00 are discarded; the next frame is answered",
    ),
    Rule(
        "FRAME-MAX",
        "§2.2",
        ALL,
        "a 254-byte frame (one 0xFF COBS block) is decoded: its 249-byte body gets BAD_LENGTH",
    ),
    Rule(
        "FRAME-TRAILING",
        "§2.2",
        ALL,
        "the same frame with a trailing empty COBS block (256 bytes) is dropped",
    ),
    Rule("OTHER-TYPES", "§3", ALL, "ACK, NACK, TELEMETRY or unknown-type frames get no reply"),
    Rule(
        "REPLY-FORMAT",
        "§3",
        ALL,
        "replies are version 1 ACK/NACK; NACK body 2 bytes; ACK bodies as catalogued",
    ),
    Rule(
        "REPLY-ONE",
        "§4.2",
        ALL,
        "every intact request gets exactly one reply with its seq and id, nothing else",
    ),
    Rule("REPLY-TIME", "§4.2", ALL, "every reply within the host's 200 ms (20 ms recommended)"),
    Rule(
        "VERSION-FIRST",
        "§4.1",
        ALL,
        "the version check precedes the duplicate check; BAD_VERSION is never cached",
    ),
    Rule(
        "DUP-ONCE",
        "§4.3",
        ALL,
        "a retried RESET (same seq, id, body) gets the identical ACK; one reboot",
    ),
    Rule("DUP-BODY", "§4.3", ALL, "same seq and id with another body is a new request"),
    Rule(
        "DUP-NACK",
        "§4.3",
        ALL,
        "a NACK is cached too: a retry gets the identical NACK (scoop, oven: after BUSY ends)",
    ),
    Rule(
        "DUP-STALE",
        "§4.3",
        ALL,
        "a retry is answered from the cache whatever the state: old reply, even in FAULT",
    ),
    Rule(
        "VERSION-NACK",
        "§4.4",
        ALL,
        "version != 1 gets NACK BAD_VERSION (v1 header, same seq, id) and is not executed",
    ),
    Rule(
        "UNKNOWN",
        "§4.4",
        ALL,
        "unknown ids and the other boards' commands get UNKNOWN_COMMAND, arg 0xFF",
    ),
    Rule("LENGTH", "§4.4", ALL, "a body shorter or longer than the arguments gets BAD_LENGTH"),
    Rule(
        "NACK-ORDER",
        "§4.4",
        ALL,
        "checks in table order: unknown, length, range, FAULT, then the board's state",
    ),
    Rule("NOT-HOMED", "§4.4", SCOOP, "DIG before a HOME since boot gets NOT_HOMED"),
    Rule(
        "BUSY",
        "§4.4",
        SCOOP,
        "HOME, MOVE_JOINT, DIG, DUMP, TARE, WEIGH during a motion get BUSY (before NOT_HOMED)",
    ),
    Rule(
        "OVEN-BUSY",
        "§4.4",
        OVEN,
        "SET_LID while the lid moves, EJECT while ejecting, TRANSFER while pumping get BUSY",
    ),
    Rule(
        "OVEN-INTERLOCK",
        "§4.4",
        OVEN,
        "HEAT/HOLD unsealed or empty, EJECT while heating, TRANSFER at trap <= 0 degC: INTERLOCK",
    ),
    Rule(
        "RANGE-EDGES",
        "§4.5",
        ALL,
        "both ends of every range accepted; next f32 outside, NaN, inf, non-members refused",
    ),
    Rule(
        "JOINT-LIMITS",
        "§4.5",
        SCOOP,
        "MOVE_JOINT within JOINT_LIMITS_DEG inclusive; beyond: OUT_OF_RANGE on argument 1",
    ),
    Rule(
        "TM-STATUS",
        "§5.1",
        ALL,
        "GET_STATUS replies with the current packet and takes no telemetry seq",
    ),
    Rule(
        "STOP-MOTION",
        "§5.2",
        SCOOP,
        "STOP mid-motion: motors off and IDLE in the next packet; the joint stays; HOMED kept",
    ),
    Rule(
        "OVEN-STOP",
        "§5.1",
        OVEN,
        "STOP: HEATER_ON, PUMP_ON clear, heater < 0.05 W, IDLE; the lid halted; the trap kept on",
    ),
    Rule(
        "START-AGAIN",
        "§5.3",
        ELEC,
        "START while RUNNING is ACKed; SET_CURRENT while RUNNING applies within 1 s",
    ),
    Rule(
        "OVEN-LID",
        "§5.4",
        OVEN,
        "SET_LID: LID_MOVING from the ACK, then LID_OPEN or LID_SEALED within 10 s; at an end: ACK",
    ),
    Rule(
        "OVEN-HEAT",
        "§5.4",
        OVEN,
        "HEAT 40 degC 30 degC/min 10 W: HEATING/HOLDING, HEATER_ON, target ramps +-10 %, <= 10.5 W",
    ),
    Rule(
        "OVEN-HOLD",
        "§5.4",
        OVEN,
        "HOLD: HOLDING with HEATER_ON, the target frozen at sample_temp_c +- 1 degC, within 5 s",
    ),
    Rule(
        "OVEN-HEATER-OFF",
        "§5.4",
        OVEN,
        "HEATER_OFF: HEATER_ON clear, heater_power_w < 0.05 W, IDLE, within 5 s",
    ),
    Rule(
        "OVEN-TRAP",
        "§5.4",
        OVEN,
        "SET_TRAP 1: TRAP_ON, the trap cools to -10 / warms to +10 degC; SET_TRAP 0: TRAP_ON clear",
    ),
    Rule(
        "OVEN-TRANSFER",
        "§5.4",
        OVEN,
        "TRANSFER 0.5 g, trap above 0 degC: PUMP_ON, water_transferred_g up; a dry sump: INTERLOCK",
    ),
    Rule(
        "OVEN-EJECT",
        "§5.4",
        OVEN,
        "EJECT: EJECTING, then IDLE within 20 s with sample_mass_g < 1 g, SAMPLE_LOADED clear",
    ),
    Rule("TM-FRAMES", "§6.1", ALL, "every telemetry frame intact, v1, this board's id and size"),
    Rule(
        "TM-RATE",
        "§6.2",
        ALL,
        "SET_TM_RATE R: first packet within 1/R + 100 ms, then every 1/R +- 10 %, seq + 1",
    ),
    Rule("TM-OFF", "§6.2", ALL, "rate 0 stops the stream; GET_STATUS still answers"),
    Rule(
        "STATE-FLAGS",
        "§6.3",
        ALL,
        "state FAULT exactly when a fault flag is latched; activity flags match the state",
    ),
    Rule(
        "HOME-SWITCH",
        "§6.3",
        SCOOP,
        "BOOM_/SCOOP_HOME_SWITCH set exactly when the joint is within +-0.5 deg of 0",
    ),
    Rule("WATER-LOW", "§6.3", ELEC, "WATER_LOW set exactly when water_mass_g < 20 g"),
    Rule(
        "OVEN-FLAGS",
        "§6.3",
        OVEN,
        "SAMPLE_LOADED exactly when sample_mass_g >= 1 g; never two of LID_SEALED, _OPEN, _MOVING",
    ),
    Rule(
        "OFF-READINGS",
        "§6.4",
        ALL,
        "actuators off: motor currents < 0.05 A, cell current 0 +- 0.2 A, V and W < 0.05",
    ),
    Rule(
        "OVEN-BOOT",
        "§7.1",
        OVEN,
        "RESET: heater, trap, pump off, setpoint and counters 0, IDLE; the lid reported, not moved",
    ),
    Rule(
        "RESET-BOOT",
        "§7.2",
        ALL,
        "RESET: ACK, boot_count + 1, uptime and seq from 0, 10 Hz, all off (scoop: not homed)",
    ),
    Rule(
        "RESET-DEAF",
        "§7.2",
        ALL,
        "after the RESET ACK the board answers within the host's 4 x 200 ms",
    ),
    Rule(
        "WDG-TRIP",
        "§7.4",
        ALL,
        "3 s without a request: actuators off, HOST_TIMEOUT, FAULT (3.0 to 3.5 s)",
    ),
    Rule(
        "WDG-FEED",
        "§7.4",
        ALL,
        "bad-CRC frames, BAD_VERSION requests and other frame types do not feed the watchdog",
    ),
    Rule(
        "WDG-RESET",
        "§7.4",
        ALL,
        "the watchdog stays armed across RESET: silence after it trips 3.0 to 3.5 s later",
    ),
    Rule(
        "FAULT-ALLOWED",
        "§7.5",
        ALL,
        "in FAULT: STOP, RESET, GET_*, SET_TM_RATE, SET_VALVE, SET_TRAP ACKed; the rest NACK FAULT",
    ),
    Rule(
        "FAULT-CLEAR",
        "§7.5",
        ALL,
        "STOP clears a HOST_TIMEOUT FAULT: IDLE, fault flags clear (scoop: HOMED kept)",
    ),
    Rule(
        "HOME",
        "§8",
        SCOOP,
        "HOME: IDLE with HOMED and both switches, joints at 0 +- 0.5 deg, within 30 s",
    ),
    Rule(
        "MOVE",
        "§8",
        SCOOP,
        "MOVE_JOINT: IDLE with the joint within tolerance of the target, within 60 s",
    ),
    Rule("TARE", "§8", SCOOP, "TARE: load_mass_g within +-2 g of 0 within 5 s"),
    Rule(
        "DIG",
        "§8",
        SCOOP,
        "DIG d: DIGGING to depth d +- 1 mm, then IDLE within 60 s (about d/5 + 3 s)",
    ),
    Rule("WEIGH", "§8", SCOOP, "WEIGH: ACK mass in sample_mass_g (+-0.01 g) within 5 s"),
    Rule(
        "DUMP",
        "§8",
        SCOOP,
        "DUMP: IDLE, load under 5 g, scoop back at 0 +- 1 deg, boom unmoved, within 60 s",
    ),
    Rule(
        "START",
        "§8",
        ELEC,
        "SET_CURRENT + START: RUNNING at the setpoint within tolerance, within 10 s",
    ),
    Rule(
        "STOP-CELL",
        "§8",
        ELEC,
        "STOP: CURRENT_ON clear, current within tolerance of 0, heater off, valves kept",
    ),
    Rule(
        "HEATER",
        "§8",
        ELEC,
        "SET_HEATER: setpoint echoed, HEATER_ON below setpoint - 0.5 degC, off when disabled",
    ),
    Rule("VALVES", "§8", ELEC, "SET_VALVE: each valve's flag follows within 5 s"),
)

BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}


def rules_for(board: str) -> tuple[Rule, ...]:
    """The rules that apply to ``board``, in report order."""
    return tuple(rule for rule in RULES if board in rule.boards)


def render_rule_table() -> str:
    """The ICD's rule table (§11), as Markdown."""
    lines = ["| rule | boards | ICD | requirement |", "|---|---|---|---|"]
    for rule in RULES:
        boards = "all" if rule.boards == ALL else ", ".join(b for b in BOARDS if b in rule.boards)
        lines.append(f"| `{rule.id}` | {boards} | {rule.section} | {rule.text} |")
    return "\n".join(lines) + "\n"
