"""The ICD's rules on what a board does (§5 to §8): commands, telemetry, boot, watchdog,
FAULT and operations."""

from __future__ import annotations

from isru.conform.rule import ALL, ELEC, OVEN, SCOOP, Rule

#: In report order; :data:`isru.conform.rules.RULES` lists them after the protocol's.
BOARD_RULES: tuple[Rule, ...] = (
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
