"""Fault descriptions: link faults, faults set at start, and run-time fault requests.

A run-time fault request is one JSON object (the control server's line protocol, also
accepted in-process by ``SimBoards.apply_fault``)::

    {"board": "scoop", "fault": "corrupt", "rate": 0.01}    flip a bit in 1 % of output bytes
    {"board": "elec",  "fault": "drop", "rate": 0.1}        lose 10 % of output frames
    {"board": "scoop", "fault": "delay", "ms": 300}         hold every reply back 300 ms
    {"board": "elec",  "fault": "silent", "on": true}       no output, requests ignored
    {"board": "scoop", "fault": "disconnect", "seconds": 2} port vanishes, comes back after 2 s
    {"board": "scoop", "fault": "stall", "joint": "boom", "on": true}   stuck motor
    {"board": "elec",  "fault": "leak", "gas": "h2", "tau_s": 600}      tank leaks to ambient
    {"board": "elec",  "fault": "drift", "sensor": "h2_pressure", "rate": 0.05}  units/s
    {"board": "scoop", "fault": "drift", "sensor": "load_cell", "rate": 0.01}    g/s
    {"board": "oven",  "fault": "heater_stuck", "on": true}  heater switch fails closed
    {"board": "oven",  "fault": "sensor_open", "sensor": "sample_temp"}  broken sensor wire
    {"board": "oven",  "fault": "leak", "tau_s": 600}       sealed lid leaks vapour to vacuum
    {"board": "oven",  "fault": "stall"}                    transfer pump blocked
    {"board": "elec",  "fault": "clear"}                    every fault on that board off

Link faults (corrupt, drop, delay, silent, disconnect) act on the board's serial line and
use real time; stall, leak, drift, heater_stuck and sensor_open act on the board's physics
and sensors and use virtual time. ``stall`` is a scoop joint (``joint`` required) or the
oven's pump (no ``joint``); ``leak`` an elec tank (``gas``) or the oven's lid seal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hal.commands import Joint
from sim.elec_board import ELEC_SENSORS
from sim.oven_sensors import OPEN_CIRCUIT_SENSORS, OVEN_SENSORS

BOARDS = ("scoop", "elec", "oven")
FAULTS = (
    "corrupt",
    "drop",
    "delay",
    "silent",
    "disconnect",
    "stall",
    "leak",
    "drift",
    "heater_stuck",
    "sensor_open",
    "clear",
)
SENSORS = {"scoop": ("load_cell",), "elec": ELEC_SENSORS, "oven": OVEN_SENSORS}
JOINTS = {"boom": Joint.BOOM, "scoop": Joint.SCOOP}
GASES = ("h2", "o2")


def check_fraction(name: str, value: object) -> float:
    """``value`` as a float in 0..1, or ValueError naming ``name``."""
    number = _number(name, value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{name}: must be a fraction 0..1, got {value!r}")
    return number


def check_non_negative(name: str, value: object) -> float:
    number = _number(name, value)
    if number < 0:
        raise ValueError(f"{name}: must be >= 0, got {value!r}")
    return number


def check_positive(name: str, value: object) -> float:
    number = _number(name, value)
    if number <= 0:
        raise ValueError(f"{name}: must be > 0, got {value!r}")
    return number


def parse_open_sensor(name: str, value: object) -> str:
    """``value`` as an oven sensor that can go open circuit, or ValueError naming ``name``."""
    if value not in OPEN_CIRCUIT_SENSORS:
        names = ", ".join(OPEN_CIRCUIT_SENSORS)
        raise ValueError(f"{name}: the oven has open-circuit sensors {names}, got {value!r}")
    assert isinstance(value, str)
    return value


def parse_joint(name: str, value: object) -> Joint:
    if not isinstance(value, str) or value.lower() not in JOINTS:
        raise ValueError(f"{name}: must be one of {', '.join(JOINTS)}, got {value!r}")
    return JOINTS[value.lower()]


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name}: must be finite, got {value!r}")
    return number


@dataclass(slots=True)
class LinkFaults:
    """What is currently wrong with one board's serial line."""

    corrupt: float = 0.0  # fraction of output bytes that get one bit flipped
    drop: float = 0.0  # fraction of output frames lost
    delay_ms: float = 0.0  # replies held back this long (real time)
    silent: bool = False  # no output at all, requests ignored


@dataclass(frozen=True, slots=True)
class StartFaults:
    """Faults in place from the start (the CLI's fault flags); link faults hit every board."""

    corrupt: float = 0.0
    drop: float = 0.0
    delay_ms: float = 0.0
    stall: Joint | None = None
    pump_stall: bool = False
    heater_stuck: bool = False
    sensor_open: tuple[str, ...] = ()
    lid_leak_tau_s: float | None = None

    def __post_init__(self) -> None:
        check_fraction("corrupt", self.corrupt)
        check_fraction("drop", self.drop)
        check_non_negative("delay_ms", self.delay_ms)
        if self.stall is not None and not isinstance(self.stall, Joint):
            raise ValueError(f"stall: must be a Joint or None, got {self.stall!r}")
        if not isinstance(self.sensor_open, tuple):
            raise ValueError(f"sensor_open: must be a tuple of sensors, got {self.sensor_open!r}")
        for sensor in self.sensor_open:
            parse_open_sensor("sensor_open", sensor)
        if self.lid_leak_tau_s is not None:
            check_positive("lid_leak_tau_s", self.lid_leak_tau_s)


@dataclass(frozen=True, slots=True)
class FaultRequest:
    """One validated run-time fault request; which fields matter depends on ``fault``."""

    board: str
    fault: str
    rate: float = 0.0
    ms: float = 0.0
    seconds: float = 0.0
    on: bool = True
    joint: Joint = Joint.BOOM
    gas: str = "h2"
    tau_s: float | None = None
    sensor: str = ""


def parse_fault_request(obj: object) -> FaultRequest:
    """Validate a decoded JSON request; ValueError with a message naming the bad key."""
    if not isinstance(obj, dict):
        raise ValueError("request: must be a JSON object")
    board, fault = obj.get("board"), obj.get("fault")
    if board not in BOARDS:
        raise ValueError(f"board: must be one of {', '.join(BOARDS)}, got {board!r}")
    if fault not in FAULTS:
        raise ValueError(f"fault: must be one of {', '.join(FAULTS)}, got {fault!r}")
    assert isinstance(board, str) and isinstance(fault, str)
    known = {"board", "fault", *_KEYS[fault]}
    unknown = sorted(set(obj) - known)
    if unknown:
        raise ValueError(f"{unknown[0]}: not a parameter of fault {fault!r}")
    on = obj.get("on", True)
    if not isinstance(on, bool):
        raise ValueError(f"on: must be true or false, got {on!r}")
    if fault in ("corrupt", "drop"):
        return FaultRequest(board, fault, rate=check_fraction("rate", _required(obj, "rate")))
    if fault == "delay":
        return FaultRequest(board, fault, ms=check_non_negative("ms", _required(obj, "ms")))
    if fault == "disconnect":
        seconds = check_positive("seconds", _required(obj, "seconds"))
        return FaultRequest(board, fault, seconds=seconds)
    if fault == "stall":
        if board == "elec":
            raise ValueError("board: fault 'stall' is on the scoop (a joint) and oven (the pump)")
        if board == "oven":
            if "joint" in obj:
                raise ValueError("joint: the oven's stall is its pump; it has no joint")
            return FaultRequest(board, fault, on=on)
        return FaultRequest(
            board, fault, on=on, joint=parse_joint("joint", _required(obj, "joint"))
        )
    if fault == "leak":
        if board == "scoop":
            raise ValueError("board: fault 'leak' is on the elec (a tank) and oven (the lid)")
        if board == "oven":
            if "gas" in obj:
                raise ValueError("gas: the oven's leak is its lid seal; it has no gas")
            tau = check_positive("tau_s", obj.get("tau_s", 600.0)) if on else None
            return FaultRequest(board, fault, on=on, tau_s=tau)
        gas = obj.get("gas", "h2")
        if gas not in GASES:
            raise ValueError(f"gas: must be one of {', '.join(GASES)}, got {gas!r}")
        tau = check_positive("tau_s", obj.get("tau_s", 600.0)) if on else None
        return FaultRequest(board, fault, on=on, gas=str(gas), tau_s=tau)
    if fault == "drift":
        sensor = _required(obj, "sensor")
        if sensor not in SENSORS[board]:
            names = ", ".join(SENSORS[board])
            raise ValueError(f"sensor: the {board} board has {names}, got {sensor!r}")
        rate = _number("rate", _required(obj, "rate"))
        return FaultRequest(board, fault, rate=rate, sensor=str(sensor))
    if fault in ("heater_stuck", "sensor_open"):
        if board != "oven":
            raise ValueError(f"board: fault {fault!r} is on the oven board only")
        if fault == "sensor_open":
            sensor = parse_open_sensor("sensor", _required(obj, "sensor"))
            return FaultRequest(board, fault, on=on, sensor=sensor)
    return FaultRequest(board, fault, on=on)  # silent, clear, heater_stuck


_KEYS = {
    "corrupt": ("rate",),
    "drop": ("rate",),
    "delay": ("ms",),
    "silent": ("on",),
    "disconnect": ("seconds",),
    "stall": ("joint", "on"),
    "leak": ("gas", "tau_s", "on"),
    "drift": ("sensor", "rate"),
    "heater_stuck": ("on",),
    "sensor_open": ("sensor", "on"),
    "clear": (),
}


def _required(obj: dict[str, object], key: str) -> object:
    if key not in obj:
        raise ValueError(f"{key}: required for this fault")
    return obj[key]
