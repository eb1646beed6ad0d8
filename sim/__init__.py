"""Software-in-the-loop simulator: the scoop, electrolysis and oven boards' firmware, emulated.

Speaks the wire protocol of :mod:`hal` (codec modules only) on ptys or loopback TCP, with
physics on a virtual clock and injectable faults. Start with :class:`SimBoards`.
"""

from sim.clock import Clock, ManualClock, RealClock
from sim.elec_board import ElecFirmware
from sim.faults import FaultRequest, LinkFaults, StartFaults, parse_fault_request
from sim.firmware import Firmware
from sim.launcher import SimBoards
from sim.oven_board import OvenFirmware
from sim.scoop_board import ScoopFirmware

__all__ = [
    "Clock",
    "ElecFirmware",
    "FaultRequest",
    "Firmware",
    "LinkFaults",
    "ManualClock",
    "OvenFirmware",
    "RealClock",
    "ScoopFirmware",
    "SimBoards",
    "StartFaults",
    "parse_fault_request",
]
