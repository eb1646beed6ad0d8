"""The oven board's firmware: lid, sample heater, cold trap, transfer pump, eject chute, trips.

The contract is docs/icd.md §5.4 (commands, BUSY and INTERLOCK), §6.3 (flags) and §7 (trips,
boot); :mod:`sim.oven_control` has the controllers, :mod:`sim.oven_sensors` the sensors and
:mod:`sim.oven_physics` the chamber. In short: state FAULT > EJECTING > TRANSFERRING >
HEATING/HOLDING > IDLE. The heater has a safety relay (open unless HEAT or HOLD runs) in
series with its controller's switch; ``heater_stuck`` (a fault) fails that switch closed.
Trips (sample or wall above 500 degC, chamber above 50 kPa, an open sensor, a pump stall)
latch FAULT and switch heater and pump off; the trap keeps running (it lowers the
pressure) and SET_TRAP works in FAULT. STOP switches heater, pump, lid motor and chute off
and clears the flags once no cause remains. Boot: heater, trap and pump off; the lid stays
where it is (a mechanism: reported, not moved).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Unpack

from hal.commands import BoardKind, HeatCommand, LidCommand, TransferCommand, TrapCommand
from hal.message import NackCode
from hal.telemetry import OvenFlags, OvenState, OvenTelemetry, PacketId
from sim.firmware import Firmware, FirmwareArgs, Refused
from sim.oven_control import SUMP_WET_G, Heater, Lid, Pump, Trap
from sim.oven_physics import OvenParams, OvenPhysics
from sim.oven_sensors import OvenSensors

OVERTEMP_TRIP_C = 500.0
OVERPRESSURE_TRIP_KPA = 50.0
LID_OPEN_MAX_C = 60.0
LID_OPEN_MAX_KPA = 5.0
EJECT_MAX_C = 60.0
SAMPLE_PRESENT_G = 1.0
EJECT_S = 3.0
HEATER_RATED_W = 150.0
DEFAULT_POWER_LIMIT_W = 50.0
#: The flags a packet adds to the fault flags, as ints: its flag word is summed as an int.
_LID_SEALED, _LID_OPEN = int(OvenFlags.LID_SEALED), int(OvenFlags.LID_OPEN)
_LID_MOVING, _HEATER_ON = int(OvenFlags.LID_MOVING), int(OvenFlags.HEATER_ON)
_TRAP_ON, _PUMP_ON = int(OvenFlags.TRAP_ON), int(OvenFlags.PUMP_ON)
_SAMPLE_LOADED = int(OvenFlags.SAMPLE_LOADED)

#: Receives the grams the pump moved out of the trap (the elec board's reservoir).
WaterSink = Callable[[float], None]


class OvenFirmware(Firmware):
    """Oven board: sealed chamber, heater, cold trap, pump and load cell."""

    kind = BoardKind.OVEN
    packet_id = PacketId.OVEN

    def __init__(
        self,
        *,
        params: OvenParams | None = None,
        **base: Unpack[FirmwareArgs],
    ) -> None:
        # The chamber, its sample, vapour and trap, and the lid are the world: they outlive
        # a reset of the board.
        self.physics = OvenPhysics(params or OvenParams())
        self.lid = Lid(closed=True)
        self.heater = Heater()
        self.trap = Trap(rated_w=self.physics.p.tec_q_max_w)
        self.pump = Pump()
        self.water_sink: WaterSink | None = None
        self._heater_stuck = False
        self.sensors = OvenSensors(self.physics, random.Random(base["rng"].random()))
        self.fault_flags = OvenFlags(0)
        self.eject_left_s = 0.0
        self.power_limit_w = DEFAULT_POWER_LIMIT_W
        self._base = (0.0, 0.0, 0.0)
        self._controller_w = 0.0
        super().__init__(**base)

    @property
    def heater_stuck(self) -> bool:
        """The heater's switch failed closed (a fault): full power whenever its relay is
        closed. Setting or clearing it takes effect at once, not at the next control cycle."""
        return self._heater_stuck

    @heater_stuck.setter
    def heater_stuck(self, stuck: bool) -> None:
        self._heater_stuck = stuck
        self._apply_heater()

    # -- measured values ---------------------------------------------------------------

    def reading(self, sensor: str) -> float:
        return self.sensors.read(sensor)

    @property
    def ejecting(self) -> bool:
        return self.eject_left_s > 0.0

    @property
    def in_fault(self) -> bool:
        return bool(self.fault_flags)

    @property
    def state(self) -> OvenState:
        if self.in_fault:
            return OvenState.FAULT
        if self.ejecting:
            return OvenState.EJECTING
        if self.pump.running:
            return OvenState.TRANSFERRING
        if self.heater.enabled:
            return OvenState.HOLDING if self.heater.holding else OvenState.HEATING
        return OvenState.IDLE

    # -- firmware ----------------------------------------------------------------------

    def _power_on_reset(self) -> None:
        self.heater.off()
        self.trap.set(enabled=False, setpoint_c=0.0)
        self.heater.setpoint_c = self.heater.target_c = 0.0
        self.pump.off()
        self.lid.halt()
        self.eject_left_s = 0.0
        self.fault_flags = OvenFlags(0)
        self.power_limit_w = DEFAULT_POWER_LIMIT_W
        oven = self.physics
        self._base = (oven.heater_energy_j, oven.collected_g, oven.pumped_g)
        self._apply_outputs()

    def _apply_outputs(self) -> None:
        self._apply_heater()
        oven = self.physics
        oven.trap_w = self.trap.heat_out_w(self.reading("trap_temp"))
        oven.lid_sealed = self.lid.sealed and not self.ejecting

    def _apply_heater(self) -> None:
        oven = self.physics
        if not self.heater.enabled:
            self._controller_w = oven.heater_w = 0.0  # the safety relay is open
        else:
            oven.heater_w = HEATER_RATED_W if self._heater_stuck else self._controller_w

    def _step(self, dt: float) -> None:
        self.sensors.step(dt)
        self.lid.step(dt)
        self.eject_left_s = max(0.0, self.eject_left_s - dt)
        self._controller_w = self.heater.power_w(self.reading("sample_temp"), HEATER_RATED_W, dt)
        self._apply_outputs()
        self.physics.step(dt)
        self._pump(dt)
        self._protect()
        self.thermal.step(dt, 1.0 + 0.02 * self.physics.heater_w)

    def _pump(self, dt: float) -> None:
        grams = self.pump.ask_g(dt)
        moved = self.physics.pump(grams) if grams > 0.0 else 0.0
        if moved > 0.0 and self.water_sink is not None:
            self.water_sink(moved)
        if self.pump.moved(moved, dt, sump_wet=self.sump_wet):
            self.fault_flags |= OvenFlags.PUMP_STALL

    @property
    def sump_wet(self) -> bool:
        return self.physics.trap_liquid_g > SUMP_WET_G

    def _trip_causes(self) -> OvenFlags:
        sensors, causes = self.sensors, OvenFlags(0)
        if sensors.open:
            causes |= OvenFlags.SENSOR_FAULT
        temps = (sensors.valid("sample_temp"), sensors.valid("wall_temp"))
        if any(t is not None and t > OVERTEMP_TRIP_C for t in temps):
            causes |= OvenFlags.OVERTEMP
        pressure = sensors.valid("pressure")
        if pressure is not None and pressure > OVERPRESSURE_TRIP_KPA:
            causes |= OvenFlags.OVERPRESSURE
        return causes

    def _protect(self) -> None:
        causes = self._trip_causes()
        if causes:
            self.fault_flags |= causes
        if self.fault_flags:
            self.heater.off()
            self.pump.off()
            self._apply_outputs()

    def host_lost(self) -> None:
        self.heater.off()
        self.trap.set(enabled=False, setpoint_c=self.trap.setpoint_c)
        self.pump.off()
        self.lid.halt()
        self.fault_flags |= OvenFlags.HOST_TIMEOUT
        self._apply_outputs()

    def execute(self, name: str, args: Any) -> bytes:
        handler = getattr(self, f"_cmd_{name.lower()}", None)
        if handler is None:
            raise Refused(NackCode.UNKNOWN_COMMAND)  # a catalogue entry this board lacks
        handler(args)
        self._apply_outputs()
        return b""

    def _cmd_stop(self, _args: None) -> None:
        self.heater.off()
        self.pump.off()
        self.lid.halt()
        self.eject_left_s = 0.0
        if not self._trip_causes():  # with the pump off, a pump stall is gone too
            self.fault_flags = OvenFlags(0)

    def _cmd_set_lid(self, args: LidCommand) -> None:
        if self.lid.moving:
            raise Refused(NackCode.BUSY)
        if args.open and (
            self.reading("sample_temp") > LID_OPEN_MAX_C
            or self.reading("pressure") > LID_OPEN_MAX_KPA
        ):
            raise Refused(NackCode.INTERLOCK)
        self.lid.command(open=bool(args.open))

    def _heater_interlock(self) -> None:
        sealed = self.lid.sealed and not self.ejecting  # the chute open unseals the chamber
        if not sealed or self.reading("load_cell") < SAMPLE_PRESENT_G:
            raise Refused(NackCode.INTERLOCK)

    def _cmd_heat(self, args: HeatCommand) -> None:
        self._heater_interlock()
        self.power_limit_w = args.power_limit_w
        self.heater.heat(
            setpoint_c=args.setpoint_c,
            ramp_c_per_min=args.ramp_c_per_min,
            limit_w=args.power_limit_w,
            now_c=self.reading("sample_temp"),
        )
        # A lower limit holds from this request on, not from the next control cycle.
        self._controller_w = min(self._controller_w, args.power_limit_w)

    def _cmd_hold(self, _args: None) -> None:
        if not self.heater.enabled:
            self._heater_interlock()
        self.heater.hold(now_c=self.reading("sample_temp"), limit_w=self.power_limit_w)

    def _cmd_heater_off(self, _args: None) -> None:
        self.heater.off()

    def _cmd_set_trap(self, args: TrapCommand) -> None:
        self.trap.set(enabled=bool(args.enable), setpoint_c=args.setpoint_c)

    def _cmd_transfer(self, args: TransferCommand) -> None:
        if self.pump.running:
            raise Refused(NackCode.BUSY)
        if self.reading("trap_temp") <= 0.0 or not self.sump_wet:
            raise Refused(NackCode.INTERLOCK)
        self.pump.start(args.water_g)

    def _cmd_eject(self, _args: None) -> None:
        if self.ejecting:
            raise Refused(NackCode.BUSY)
        if self.heater.enabled or self.reading("sample_temp") > EJECT_MAX_C:
            raise Refused(NackCode.INTERLOCK)
        self.physics.eject()
        self.eject_left_s = EJECT_S

    # -- telemetry ---------------------------------------------------------------------

    def flags(self, load_g: float) -> OvenFlags:
        """The flag word, with SAMPLE_LOADED from the load-cell reading ``load_g``."""
        bits = int(self.fault_flags)
        for on, flag in (
            (self.lid.sealed, _LID_SEALED),
            (self.lid.open, _LID_OPEN),
            (self.lid.moving, _LID_MOVING),
            (self.heater.enabled, _HEATER_ON),
            (self.trap.enabled, _TRAP_ON),
            (self.pump.running, _PUMP_ON),
            (load_g >= SAMPLE_PRESENT_G, _SAMPLE_LOADED),
        ):
            if on:
                bits |= flag
        return OvenFlags(bits)

    def telemetry(self) -> OvenTelemetry:
        oven = self.physics
        energy0, collected0, pumped0 = self._base
        load_g = self.reading("load_cell")
        return OvenTelemetry(
            boot_count=self.boot_count,
            uptime_ms=self.uptime_ms,
            state=self.state,
            flags=self.flags(load_g),
            sample_temp_c=self.reading("sample_temp"),
            wall_temp_c=self.reading("wall_temp"),
            heater_setpoint_c=self.heater.target_c,
            heater_power_w=oven.heater_w,
            heater_energy_wh=(oven.heater_energy_j - energy0) / 3600.0,
            chamber_pressure_kpa=self.reading("pressure"),
            trap_temp_c=self.reading("trap_temp"),
            water_collected_g=oven.collected_g - collected0,
            water_transferred_g=oven.pumped_g - pumped0,
            sample_mass_g=load_g,
            board_temp_c=self.thermal.temp_c,
        )
