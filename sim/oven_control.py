"""The oven board's mechanisms and controllers: the lid, the heater's ramp and PI law, the
cold-trap thermostat and the transfer pump. Pure and deterministic; :mod:`sim.oven_board`
drives them every physics tick (10 ms; longer at a time scale above 10).

* **Lid**: a motor drives the hopper lid between closed-and-sealed (position 0) and open
  (position 1) in ``LID_TRAVEL_S`` = 2 s for the full stroke, proportionally less from part
  way. It is a mechanism: a reset or STOP halts it where it is (neither sealed nor open).
* **Heater**: HEAT starts a ramp of the target from the sample temperature toward the
  setpoint at ``ramp_c_per_min`` (either way); a PI law on the sample temperature
  (``HEATER_KP_W_PER_C``, ``HEATER_KI_W_PER_C_S``) with the integral clamped so the output
  stays in [0, min(power limit, rated power)] (no wind-up). The phase is HEATING while the
  target ramps and until the sample is within ``HOLD_BAND_C`` of the setpoint, then HOLDING.
* **Trap**: a Peltier thermostat, proportional: heat pumped out of the trap =
  ``TRAP_KP_W_PER_C`` x (trap - setpoint), clipped to +- the Peltier's rating (negative
  warms it; how much it can pump at a temperature is the Peltier's own law, in the physics).
* **Pump**: moves ``PUMP_FLOW_G_S`` of trap liquid per second until the amount asked for is
  moved or the trap's sump is dry. Its outlet flow meter sees a stall: driven, liquid in the
  sump, no flow for more than ``PUMP_STALL_TRIP_S``.
"""

from __future__ import annotations

from dataclasses import dataclass

LID_TRAVEL_S = 2.0
HEATER_KP_W_PER_C = 30.0
HEATER_KI_W_PER_C_S = 0.5
HOLD_BAND_C = 2.0
TRAP_KP_W_PER_C = 25.0
#: Bartels mp6 piezo micropump, water, at its maximum-fluidic-power point (3.5 ml/min at
#: 300 mbar back-pressure; bartels-mikrotechnik.de, FAQ "Pump efficiency for mp6").
PUMP_FLOW_G_S = 3.5 / 60.0
PUMP_STALL_TRIP_S = 1.0
#: The sump's conductivity sensor reads "liquid" above this much water.
SUMP_WET_G = 0.05


class Lid:
    """The hopper lid and its motor: position 0 closed and sealed, 1 open."""

    def __init__(self, *, closed: bool = True) -> None:
        self.position = 0.0 if closed else 1.0
        self.target: float | None = None

    @property
    def moving(self) -> bool:
        return self.target is not None

    @property
    def sealed(self) -> bool:
        return not self.moving and self.position <= 0.0

    @property
    def open(self) -> bool:
        return not self.moving and self.position >= 1.0

    def command(self, *, open: bool) -> None:
        """Drive toward open or closed; already there: nothing moves."""
        goal = 1.0 if open else 0.0
        self.target = None if self.position == goal else goal

    def halt(self) -> None:
        self.target = None

    def step(self, dt: float) -> None:
        if self.target is None:
            return
        travel = dt / LID_TRAVEL_S
        error = self.target - self.position
        if abs(error) <= travel + 1e-12:
            self.position, self.target = self.target, None
        else:
            self.position += travel if error > 0 else -travel


class Heater:
    """Ramp generator and PI controller of the sample heater."""

    def __init__(self) -> None:
        self.enabled = False
        self.holding = False
        self.setpoint_c = 0.0
        self.target_c = 0.0
        self.ramp_c_per_s = 0.0
        self.limit_w = 0.0
        self.integral_w = 0.0

    def heat(
        self, *, setpoint_c: float, ramp_c_per_min: float, limit_w: float, now_c: float
    ) -> None:
        """Start a ramp from ``now_c``; the integral carries on if already heating."""
        if not self.enabled:
            self.integral_w = 0.0
        self.enabled, self.holding = True, False
        self.setpoint_c, self.target_c = setpoint_c, now_c
        self.ramp_c_per_s = ramp_c_per_min / 60.0
        self.limit_w = limit_w

    def hold(self, *, now_c: float, limit_w: float) -> None:
        """Freeze the target at ``now_c``; the integral carries on if already heating."""
        if not self.enabled:
            self.integral_w = 0.0
            self.limit_w = limit_w
        self.enabled, self.holding = True, True
        self.setpoint_c = self.target_c = now_c

    def off(self) -> None:
        self.enabled = self.holding = False
        self.integral_w = 0.0

    def power_w(self, sample_c: float, rated_w: float, dt: float) -> float:
        """Advance the ramp by ``dt`` and return the PI output for this tick."""
        if not self.enabled:
            return 0.0
        step = self.ramp_c_per_s * dt
        error = self.setpoint_c - self.target_c
        self.target_c = (
            self.setpoint_c
            if abs(error) <= step
            else self.target_c + step * (1 if error > 0 else -1)
        )
        if not self.holding and self.target_c == self.setpoint_c:
            self.holding = abs(sample_c - self.setpoint_c) <= HOLD_BAND_C
        top = min(self.limit_w, rated_w)
        error_c = self.target_c - sample_c
        proportional = HEATER_KP_W_PER_C * error_c
        integral = min(max(self.integral_w + HEATER_KI_W_PER_C_S * error_c * dt, 0.0), top)
        output = proportional + integral
        if (output > top and error_c > 0) or (output < 0 and error_c < 0):
            integral = min(max(self.integral_w, 0.0), top)  # saturated: no wind-up
        self.integral_w = integral
        return min(max(proportional + integral, 0.0), top)


class Trap:
    """The cold trap's Peltier thermostat; ``rated_w`` is the Peltier's Qmax."""

    def __init__(self, rated_w: float) -> None:
        self.rated_w = rated_w
        self.enabled = False
        self.setpoint_c = 0.0

    def set(self, *, enabled: bool, setpoint_c: float) -> None:
        self.enabled, self.setpoint_c = enabled, setpoint_c

    def heat_out_w(self, trap_c: float) -> float:
        """Heat pumped out of the trap this tick (negative: the Peltier warms it)."""
        if not self.enabled:
            return 0.0
        request = TRAP_KP_W_PER_C * (trap_c - self.setpoint_c)
        return min(max(request, -self.rated_w), self.rated_w)


@dataclass(slots=True)
class Pump:
    """The transfer pump with its outlet flow meter; ``stalled`` is the injected fault."""

    running: bool = False
    remaining_g: float = 0.0
    no_flow_s: float = 0.0
    stalled: bool = False

    def start(self, water_g: float) -> None:
        self.running, self.remaining_g, self.no_flow_s = True, water_g, 0.0

    def off(self) -> None:
        self.running, self.remaining_g, self.no_flow_s = False, 0.0, 0.0

    def ask_g(self, dt: float) -> float:
        """Liquid the pump would move this tick (0 when it is off or blocked)."""
        if not self.running or self.stalled:
            return 0.0
        return min(PUMP_FLOW_G_S * dt, self.remaining_g)

    def moved(self, grams: float, dt: float, *, sump_wet: bool) -> bool:
        """Account ``grams`` moved this tick; True when the flow meter says it stalled."""
        if not self.running:
            return False
        self.remaining_g -= grams
        if self.remaining_g <= 1e-9 or not sump_wet:
            self.off()  # done, or the trap is empty: the transfer ends
            return False
        self.no_flow_s = self.no_flow_s + dt if grams <= 0.0 else 0.0
        return self.no_flow_s > PUMP_STALL_TRIP_S + 1e-9
