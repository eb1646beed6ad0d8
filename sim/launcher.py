"""SimBoards: both emulated boards on their ports, with their clock and fault controls.

::

    async with SimBoards(link_dir="/tmp/isru") as sim:
        sim.urls            # {"scoop": "/tmp/isru/scoop", "elec": "/tmp/isru/elec"}
        sim.scoop.arm.boom_angle_deg
        sim.set_corrupt("scoop", 0.01)

Firmware behaviour (including the duplicate-request reply cache) is described in
:mod:`sim.firmware`; the line and its faults in :mod:`sim.uart`; ports in :mod:`sim.ports`.
"""

from __future__ import annotations

import random
from pathlib import Path
from types import TracebackType

from hal.commands import Joint
from sim.boot_store import BootStore
from sim.clock import Clock, RealClock
from sim.elec_board import ELEC_SENSORS, ElecFirmware
from sim.faults import (
    BOARDS,
    FaultRequest,
    LinkFaults,
    StartFaults,
    check_fraction,
    check_non_negative,
    check_positive,
    parse_fault_request,
)
from sim.firmware import DEFAULT_HOST_TIMEOUT_S, Firmware
from sim.ports import Port, PtyPort, TcpPort
from sim.scoop_board import ScoopFirmware
from sim.uart import Uart


class SimBoards:
    """Both boards, running; an async context manager."""

    def __init__(
        self,
        *,
        link_dir: str | Path | None = None,
        tcp: bool = False,
        scoop_port: int = 0,
        elec_port: int = 0,
        baud: int | None = None,
        clock: Clock | None = None,
        faults: StartFaults | None = None,
        state_dir: str | Path | None = None,
        seed: int = 0,
        host_timeout_s: float | None = DEFAULT_HOST_TIMEOUT_S,
    ) -> None:
        if host_timeout_s is not None and not host_timeout_s > 0:
            raise ValueError(f"host_timeout_s: must be positive or None, got {host_timeout_s!r}")
        if tcp and link_dir is not None:
            raise ValueError("link_dir: symlinks are for ptys; not with tcp=True")
        for name, port in (("scoop_port", scoop_port), ("elec_port", elec_port)):
            if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
                raise ValueError(f"{name}: must be a TCP port 0..65535, got {port!r}")
        if baud is not None and (isinstance(baud, bool) or not isinstance(baud, int) or baud <= 0):
            raise ValueError(f"baud: must be a positive integer or None, got {baud!r}")
        if not isinstance(seed, int):
            raise ValueError(f"seed: must be an integer, got {seed!r}")
        if faults is not None and not isinstance(faults, StartFaults):
            raise ValueError(f"faults: must be a StartFaults or None, got {faults!r}")
        self.link_dir = None if link_dir is None else Path(link_dir)
        if self.link_dir is not None and not self.link_dir.is_dir():
            raise ValueError(f"link_dir: {str(self.link_dir)!r} is not a directory")
        self.state_dir = None if state_dir is None else Path(state_dir)
        self.tcp = tcp
        self.baud = baud
        self.clock: Clock = clock if clock is not None else RealClock()
        self.start_faults = faults or StartFaults()
        self.seed = seed
        self._tcp_ports = {"scoop": scoop_port, "elec": elec_port}
        rng = random.Random(seed)
        self.scoop = ScoopFirmware(
            clock=self.clock,
            boot_store=BootStore("scoop", self.state_dir),
            rng=_child(rng),
            host_timeout_s=host_timeout_s,
        )
        self.elec = ElecFirmware(
            clock=self.clock,
            boot_store=BootStore("elec", self.state_dir),
            rng=_child(rng),
            host_timeout_s=host_timeout_s,
        )
        self.boards: dict[str, Firmware] = {"scoop": self.scoop, "elec": self.elec}
        self.uarts: dict[str, Uart] = {}
        self.ports: dict[str, Port] = {}
        for name, firmware in self.boards.items():
            sf = self.start_faults
            link = LinkFaults(corrupt=sf.corrupt, drop=sf.drop, delay_ms=sf.delay_ms)
            self.uarts[name] = Uart(firmware, baud=baud, faults=link, rng=_child(rng))
        if self.start_faults.stall is not None:
            self.scoop.arm.joint(self.start_faults.stall).stuck = True

    @property
    def urls(self) -> dict[str, str]:
        """Board name -> what the host opens (symlink path, pty path or socket:// URL)."""
        return {name: port.url for name, port in self.ports.items()}

    async def __aenter__(self) -> SimBoards:
        try:
            for name in BOARDS:
                uart = self.uarts[name]
                port: Port
                if self.tcp:
                    port = TcpPort(uart.receive, port=self._tcp_ports[name])
                else:
                    link = None if self.link_dir is None else self.link_dir / name
                    port = PtyPort(uart.receive, link_path=link)
                self.ports[name] = port
                await port.open()
                uart.attach(port.write)
                uart.start()
                self.boards[name].start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop the boards and close their ports (symlinks removed)."""
        for firmware in self.boards.values():
            firmware.stop()
        for uart in self.uarts.values():
            await uart.close()
        for port in self.ports.values():
            await port.close()

    # -- faults, in-process ------------------------------------------------------------

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
        elif req.fault == "stall":
            self.set_stall(req.joint, req.on)
        elif req.fault == "leak":
            self.set_leak(req.gas, req.tau_s)
        elif req.fault == "drift":
            self.set_drift(req.board, req.sensor, req.rate)
        else:
            self.clear_faults(req.board)


def _child(rng: random.Random) -> random.Random:
    """An independent generator derived from the seed, one per consumer."""
    return random.Random(rng.getrandbits(64))
