"""In-process fault injection on the three boards: ``SimBoards``' fault methods.

Every method validates its arguments and raises ValueError naming the bad one. Link faults
act on a board's UART and port (real time); the others on its physics and sensors (virtual
time). The JSON form of each is in :mod:`sim.faults`.
"""

from __future__ import annotations

from hal.commands import Joint
from sim.elec_board import ELEC_SENSORS, ElecFirmware
from sim.faults import (
    BOARDS,
    FaultRequest,
    LinkFaults,
    check_fraction,
    check_non_negative,
    check_positive,
    parse_fault_request,
    parse_open_sensor,
)
from sim.oven_board import OvenFirmware
from sim.oven_sensors import OVEN_SENSORS
from sim.ports import Port
from sim.scoop_board import ScoopFirmware
from sim.uart import Uart


class BoardFaults:
    """The fault methods of :class:`sim.launcher.SimBoards`, which owns these attributes."""

    scoop: ScoopFirmware
    elec: ElecFirmware
    oven: OvenFirmware
    uarts: dict[str, Uart]
    ports: dict[str, Port]

    def _uart(self, board: str) -> Uart:
        if board not in self.uarts:
            raise ValueError(f"board: must be one of {', '.join(BOARDS)}, got {board!r}")
        return self.uarts[board]

    def set_corrupt(self, board: str, fraction: float) -> None:
        """Flip one random bit in ``fraction`` of the board's output bytes."""
        self._uart(board).faults.corrupt = check_fraction("fraction", fraction)

    def set_drop(self, board: str, fraction: float) -> None:
        """Lose ``fraction`` of the board's output frames."""
        self._uart(board).faults.drop = check_fraction("fraction", fraction)

    def set_delay(self, board: str, ms: float) -> None:
        """Hold every reply of the board back by ``ms`` milliseconds of real time."""
        self._uart(board).faults.delay_ms = check_non_negative("ms", ms)

    def set_silent(self, board: str, silent: bool = True) -> None:
        """No output at all and requests ignored (not executed) while ``silent``."""
        self._uart(board).faults.silent = bool(silent)

    def disconnect(self, board: str, seconds: float) -> None:
        """The board's port vanishes now and comes back after ``seconds`` of real time.

        ``await sim.ports[board].opened.wait()`` waits for it to be back; ``urls`` then
        has the new pty path (the symlink, when there is one, points at it).
        """
        self._uart(board)
        self.ports[board].disconnect(check_positive("seconds", seconds))

    def set_stall(self, joint: Joint, stuck: bool = True) -> None:
        """A stuck motor: the joint stops moving and draws stall current when driven."""
        self.scoop.arm.joint(Joint(joint)).stuck = bool(stuck)

    def set_pump_stall(self, stalled: bool = True) -> None:
        """The oven's transfer pump blocked: driven, it moves nothing (the board trips)."""
        self.oven.pump.stalled = bool(stalled)

    def set_heater_stuck(self, stuck: bool = True) -> None:
        """The oven heater's switch failed closed: full power whenever its relay is closed."""
        self.oven.heater_stuck = bool(stuck)

    def set_sensor_open(self, sensor: str, open: bool = True) -> None:
        """A broken wire on an oven sensor: it reads the open-circuit value (2000)."""
        name = parse_open_sensor("sensor", sensor)
        if open:
            self.oven.sensors.open.add(name)
        else:
            self.oven.sensors.open.discard(name)

    def set_lid_leak(self, tau_s: float | None) -> None:
        """The sealed oven lid leaks vapour to vacuum, time constant ``tau_s`` (None: tight)."""
        self.oven.physics.leak_tau_s = None if tau_s is None else check_positive("tau_s", tau_s)

    def set_leak(self, gas: str, tau_s: float | None) -> None:
        """A tank leaking to ambient with time constant ``tau_s`` (None: tight again)."""
        if gas not in ("h2", "o2"):
            raise ValueError(f"gas: must be h2 or o2, got {gas!r}")
        tau = None if tau_s is None else check_positive("tau_s", tau_s)
        setattr(self.elec.cell, f"{gas}_leak_tau_s", tau)

    def set_drift(self, board: str, sensor: str, rate: float) -> None:
        """A sensor whose reading drifts by ``rate`` units per (virtual) second."""
        if board == "scoop" and sensor == "load_cell":
            self.scoop.arm.loadcell_drift_g_per_s = rate
        elif board == "elec" and sensor in ELEC_SENSORS:
            self.elec.drift_rate[sensor] = rate
        elif board == "oven" and sensor in OVEN_SENSORS:
            self.oven.sensors.drift_rate[sensor] = rate
        else:
            raise ValueError(f"sensor: {sensor!r} is not a sensor of board {board!r}")

    def clear_faults(self, board: str) -> None:
        """Every injected fault on ``board`` off; drifted sensors read true again."""
        uart = self._uart(board)
        uart.faults = LinkFaults()
        if board == "scoop":
            for joint in Joint:
                self.scoop.arm.joint(joint).stuck = False
            self.scoop.arm.loadcell_drift_g_per_s = self.scoop.arm.loadcell_drift_g = 0.0
        elif board == "oven":
            self.oven.pump.stalled = self.oven.heater_stuck = False
            self.oven.physics.leak_tau_s = None
            self.oven.sensors.clear()
        else:
            self.elec.cell.h2_leak_tau_s = self.elec.cell.o2_leak_tau_s = None
            for sensor in ELEC_SENSORS:
                self.elec.drift_rate[sensor] = self.elec.drift[sensor] = 0.0

    def apply_fault(self, request: object) -> None:
        """Apply one run-time fault request: a FaultRequest or the control protocol's
        JSON object (see :mod:`sim.faults`); ValueError names what is wrong."""
        req = request if isinstance(request, FaultRequest) else parse_fault_request(request)
        if req.fault == "corrupt":
            self.set_corrupt(req.board, req.rate)
        elif req.fault == "drop":
            self.set_drop(req.board, req.rate)
        elif req.fault == "delay":
            self.set_delay(req.board, req.ms)
        elif req.fault == "silent":
            self.set_silent(req.board, req.on)
        elif req.fault == "disconnect":
            self.disconnect(req.board, req.seconds)
        elif req.fault == "stall" and req.board == "oven":
            self.set_pump_stall(req.on)
        elif req.fault == "stall":
            self.set_stall(req.joint, req.on)
        elif req.fault == "leak" and req.board == "oven":
            self.set_lid_leak(req.tau_s)
        elif req.fault == "leak":
            self.set_leak(req.gas, req.tau_s)
        elif req.fault == "heater_stuck":
            self.set_heater_stuck(req.on)
        elif req.fault == "sensor_open":
            self.set_sensor_open(req.sensor, req.on)
        elif req.fault == "drift":
            self.set_drift(req.board, req.sensor, req.rate)
        else:
            self.clear_faults(req.board)
