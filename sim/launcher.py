"""SimBoards: the three emulated boards on their ports, with their clock and fault controls.

::

    async with SimBoards(link_dir="/tmp/isru") as sim:
        sim.urls            # {"scoop": "/tmp/isru/scoop", "elec": ..., "oven": ...}
        sim.scoop.arm.boom_angle_deg
        sim.set_corrupt("scoop", 0.01)

The boards share one world: a scoop DUMP with target OVEN tips its sample into the oven's
hopper when the oven's lid is open (``ice_wt_pct`` of it water ice; default 5.6 wt%, the
LCROSS figure, Colaprete et al., Science 330 (2010) 463) and onto the ground, lost, when it
is not; the oven's transfer pump fills the elec board's water reservoir. The elec board's PEM
stack is ``cell_params``, a :mod:`sim.pem_params` set (Tjarks 2017 as in SimSES by default).

Firmware behaviour (including the duplicate-request reply cache) is described in
:mod:`sim.firmware`; the line and its faults in :mod:`sim.uart`; ports in :mod:`sim.ports`.
"""

from __future__ import annotations

import random
from pathlib import Path
from types import TracebackType

from hal.commands import DumpTarget
from sim.board_faults import BoardFaults
from sim.boot_store import BootStore
from sim.clock import Clock, RealClock
from sim.elec_board import ElecFirmware
from sim.electrolysis import CellParams
from sim.faults import BOARDS, LinkFaults, StartFaults
from sim.firmware import DEFAULT_HOST_TIMEOUT_S, Firmware
from sim.ice_content import DEFAULT_ICE_WT_PCT, check_ice_wt_pct
from sim.oven_board import OvenFirmware
from sim.pem_params import PemParams
from sim.ports import Port, PtyPort, TcpPort
from sim.scoop_board import ScoopFirmware
from sim.uart import Uart


class SimBoards(BoardFaults):
    """The three boards, running; an async context manager."""

    def __init__(
        self,
        *,
        link_dir: str | Path | None = None,
        tcp: bool = False,
        scoop_port: int = 0,
        elec_port: int = 0,
        oven_port: int = 0,
        baud: int | None = None,
        clock: Clock | None = None,
        faults: StartFaults | None = None,
        state_dir: str | Path | None = None,
        seed: int = 0,
        host_timeout_s: float | None = DEFAULT_HOST_TIMEOUT_S,
        ice_wt_pct: float = DEFAULT_ICE_WT_PCT,
        cell_params: PemParams | None = None,
    ) -> None:
        if host_timeout_s is not None and not host_timeout_s > 0:
            raise ValueError(f"host_timeout_s: must be positive or None, got {host_timeout_s!r}")
        if tcp and link_dir is not None:
            raise ValueError("link_dir: symlinks are for ptys; not with tcp=True")
        ports = {"scoop": scoop_port, "elec": elec_port, "oven": oven_port}
        for name, port in ports.items():
            if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
                raise ValueError(f"{name}_port: must be a TCP port 0..65535, got {port!r}")
        if baud is not None and (isinstance(baud, bool) or not isinstance(baud, int) or baud <= 0):
            raise ValueError(f"baud: must be a positive integer or None, got {baud!r}")
        try:
            ice_wt_pct = check_ice_wt_pct(ice_wt_pct)
        except ValueError as exc:
            raise ValueError(f"ice_wt_pct: {exc}") from None
        if not isinstance(seed, int):
            raise ValueError(f"seed: must be an integer, got {seed!r}")
        if faults is not None and not isinstance(faults, StartFaults):
            raise ValueError(f"faults: must be a StartFaults or None, got {faults!r}")
        if cell_params is not None and not isinstance(cell_params, PemParams):
            raise ValueError(f"cell_params: must be a PemParams or None, got {cell_params!r}")
        self.link_dir = None if link_dir is None else Path(link_dir)
        if self.link_dir is not None and not self.link_dir.is_dir():
            raise ValueError(f"link_dir: {str(self.link_dir)!r} is not a directory")
        self.state_dir = None if state_dir is None else Path(state_dir)
        self.tcp = tcp
        self.baud = baud
        self.clock: Clock = clock if clock is not None else RealClock()
        self.start_faults = faults or StartFaults()
        self.seed = seed
        self.ice_wt_pct = float(ice_wt_pct)
        #: Regolith tipped beside the vehicle: DUMP to the ground, or at a closed oven lid.
        self.ground_g = 0.0
        #: Regolith tipped into the oven's hopper since start (ice and bound water included).
        self.oven_loaded_g = 0.0
        #: Water the oven's pump put into the cell's reservoir since start.
        self.cell_fed_g = 0.0
        self._tcp_ports = ports
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
            cell_params=None if cell_params is None else CellParams(pem=cell_params),
        )
        self.boards: dict[str, Firmware] = {"scoop": self.scoop, "elec": self.elec}
        self.uarts: dict[str, Uart] = {}
        self.ports: dict[str, Port] = {}
        for name, firmware in self.boards.items():
            self.uarts[name] = self._uart_for(firmware, rng)
        # The oven's generators come after the first two boards', which keep their streams.
        self.oven = OvenFirmware(
            clock=self.clock,
            boot_store=BootStore("oven", self.state_dir),
            rng=_child(rng),
            host_timeout_s=host_timeout_s,
        )
        self.boards["oven"] = self.oven
        self.uarts["oven"] = self._uart_for(self.oven, rng)
        self.scoop.dumped = self._dumped
        self.oven.water_sink = self._to_cell
        sf = self.start_faults
        if sf.stall is not None:
            self.scoop.arm.joint(sf.stall).stuck = True
        self.oven.pump.stalled = sf.pump_stall
        self.oven.heater_stuck = sf.heater_stuck
        self.oven.sensors.open.update(sf.sensor_open)
        self.oven.physics.leak_tau_s = sf.lid_leak_tau_s

    def _uart_for(self, firmware: Firmware, rng: random.Random) -> Uart:
        sf = self.start_faults
        link = LinkFaults(corrupt=sf.corrupt, drop=sf.drop, delay_ms=sf.delay_ms)
        return Uart(firmware, baud=self.baud, faults=link, rng=_child(rng))

    def _dumped(self, target: DumpTarget, grams: float) -> None:
        """The scoop tipped ``grams`` out: into the oven's hopper if aimed there and open."""
        if target is DumpTarget.OVEN and self.oven.lid.open:
            self.oven.physics.load(regolith_g=grams, ice_wt_pct=self.ice_wt_pct)
            self.oven_loaded_g += grams
        else:
            self.ground_g += grams

    def _to_cell(self, grams: float) -> None:
        """The oven's pump moved ``grams`` of water into the cell's reservoir."""
        self.elec.cell.add_water(grams)
        self.cell_fed_g += grams

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


def _child(rng: random.Random) -> random.Random:
    """An independent generator derived from the seed, one per consumer."""
    return random.Random(rng.getrandbits(64))
