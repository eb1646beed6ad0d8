"""A recorded moment of a SIL vehicle, as the console receives it: a fixed feed for the
console's snapshot tests (tests/test_console_snapshots.py), with no broker and no clock.

The vehicle is OPERATING, ten seconds into electrolysis at 4 A with the scoop homed after a
dig; the H2 tank is in its yellow band, and the demo sequence runs step 4 of 9.
"""

from __future__ import annotations

from typing import Any

from ground import Ack, Event, GroundClient
from interface.catalog import DICTIONARY

BROKER = "mqtt://127.0.0.1:1883"
VEHICLE = "sil"
#: ``last_heard`` of the recorded client and what the status line's clock reads: 0.4 s ago.
HEARD_AT = 1000.0
NOW = 1000.4

STATUS: dict[str, Any] = {"state": "online", "mode": "OPERATING", "dict_hash": DICTIONARY.hash}

SEQUENCE: dict[str, Any] = {
    "time": "2026-01-01T00:05:02.000Z",
    "name": "demo",
    "state": "RUNNING",
    "line": 12,
    "step": 4,
    "steps": 9,
    "uploaded": ["demo"],
}

VALUES: dict[str, Any] = {
    "core.mode": "OPERATING",
    "core.armed": "",
    "core.uptime_s": 312.5,
    "core.boot_count": 3,
    "core.commands_completed": 17,
    "core.commands_failed": 1,
    "core.seq_state": "RUNNING",
    "core.seq_line": 12,
    "core.cell_ah_total": 0.84,
    "core.scoop_cycles_total": 2,
    "scoop.boot_count": 1,
    "scoop.uptime_ms": 312480,
    "scoop.state": "IDLE",
    "scoop.boom_angle_deg": 0.0,
    "scoop.scoop_angle_deg": 0.0,
    "scoop.boom_current_a": 0.02,
    "scoop.scoop_current_a": 0.01,
    "scoop.load_mass_g": 0.4,
    "scoop.sample_mass_g": 212.3,
    "scoop.tool_depth_mm": 0.0,
    "scoop.board_temp_c": 21.7,
    "scoop.homed": True,
    "scoop.boom_home_switch": True,
    "scoop.scoop_home_switch": True,
    "scoop.boom_stall": False,
    "scoop.scoop_stall": False,
    "scoop.overcurrent": False,
    "scoop.overtemp": False,
    "scoop.loadcell_fault": False,
    "scoop.motors_on": False,
    "scoop.host_timeout": False,
    "scoop.link_up": True,
    "elec.boot_count": 1,
    "elec.uptime_ms": 312470,
    "elec.state": "RUNNING",
    "elec.cell_voltage_v": 1.92,
    "elec.cell_current_a": 4.0,
    "elec.current_setpoint_a": 4.0,
    "elec.cell_temp_c": 62.1,
    "elec.heater_setpoint_c": 60.0,
    "elec.heater_power_w": 12.5,
    "elec.h2_pressure_kpa": 184.2,
    "elec.o2_pressure_kpa": 142.1,
    "elec.water_mass_g": 187.6,
    "elec.board_temp_c": 24.3,
    "elec.current_on": True,
    "elec.heater_on": True,
    "elec.water_valve_open": True,
    "elec.h2_vent_open": False,
    "elec.o2_vent_open": False,
    "elec.overtemp": False,
    "elec.h2_overpressure": False,
    "elec.o2_overpressure": False,
    "elec.water_low": False,
    "elec.overvoltage": False,
    "elec.host_timeout": False,
    "elec.link_up": True,
}

EVENTS: list[dict[str, Any]] = [
    {
        "time": "2026-01-01T00:04:50.000Z",
        "seq": 40,
        "severity": "INFO",
        "id": "SEQ_STARTED",
        "text": "sequence demo started (9 steps)",
    },
    {
        "time": "2026-01-01T00:05:01.200Z",
        "seq": 41,
        "severity": "INFO",
        "id": "MODE_CHANGED",
        "text": "mode IDLE -> OPERATING: a device is active",
    },
    {
        "time": "2026-01-01T00:05:02.000Z",
        "seq": 42,
        "severity": "WARNING",
        "id": "LIMIT_YELLOW",
        "text": "elec.h2_pressure_kpa = 184.2 kPa: beyond yellow limit 180.0",
    },
]

ACKS: list[dict[str, Any]] = [
    {"id": "g-1", "name": "CORE.NOOP", "stage": stage, "time": "2026-01-01T00:04:41.000Z"}
    for stage in ("ACCEPTED", "STARTED", "COMPLETED")
] + [
    {
        "id": "g-2",
        "name": "SCOOP.DIG",
        "stage": "FAILED",
        "time": "2026-01-01T00:04:45.000Z",
        "reason": "NOT_ALLOWED_IN_MODE",
        "detail": "SCOOP.DIG is not allowed in mode SAFE",
    },
]


def recorded_client() -> GroundClient:
    """A client that never connects, holding the vehicle's state of the recorded moment."""
    client = GroundClient(broker=BROKER, vehicle=VEHICLE)
    client.dictionary = DICTIONARY
    client.status = dict(STATUS)
    client.sequence_status = dict(SEQUENCE)
    client.values = dict(VALUES)
    client.events.extend(Event.from_message(document) for document in EVENTS)
    client.last_heard = HEARD_AT
    return client


def recorded_acks() -> list[Ack]:
    """The command acks of the recorded moment, as the console's feed receives them."""
    return [Ack.from_message(document) for document in ACKS]
