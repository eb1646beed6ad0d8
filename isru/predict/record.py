"""What a dry run watches: the vehicle's telemetry and events, as the ground would see them.

:class:`RunRecorder` listens to the flight software's channel store and event log (the same
values and events ``isru sil --run`` hears over MQTT) and keeps, on mission time:

* the energy of each part: the oven's heater (its own ``heater_energy_wh`` counter, as the
  SIL report counts it), the cell (current x voltage, integrated like the SIL report), the
  cell's heater, the scoop's two motors (current x :data:`SCOOP_BUS_V`: the board reports no
  voltage, so this figure is an estimate),
* the peak of their summed power,
* the oven's water counters (``water_transferred_g``), the cell's charge,
* every limit crossed, every interlock refusal, every command that failed, with its time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flight.events import Event
from flight.vehicle import FlightApp
from isru.boot_counter import BootCounter

#: The scoop motors' supply, volts: a nominal 28 V spacecraft bus (not in telemetry).
SCOOP_BUS_V = 28.0
#: Event kinds of the prediction's ``events`` list.
LIMIT, INTERLOCK, FAILED = "LIMIT", "INTERLOCK", "FAILED"


@dataclass(frozen=True)
class Happening:
    """A limit crossed, an interlock that refused, a command or sequence that failed."""

    time_s: float
    kind: str
    what: str

    def as_dict(self) -> dict[str, Any]:
        return {"time_s": round(self.time_s, 3), "kind": self.kind, "what": self.what}


class _Integral:
    """The trapezoid integral of a power over mission time, in Wh."""

    def __init__(self) -> None:
        self.wh = 0.0
        self._last: tuple[float, float] | None = None

    def take(self, t: float, watts: float) -> None:
        if self._last is not None:
            then, before = self._last
            self.wh += (watts + before) / 2 * max(0.0, t - then) / 3600
        self._last = (t, watts)


def _number(values: dict[str, Any], name: str) -> float:
    value = values.get(name, 0.0)
    if type(value) is float:  # what telemetry carries: the common case, in short
        return value
    return float(value) if isinstance(value, int | float) else 0.0


class RunRecorder:
    """Listens to a running :class:`FlightApp` from :meth:`start` on; time 0 is the start."""

    def __init__(self, app: FlightApp) -> None:
        self._app = app
        self._t0 = app.clock.monotonic()
        self.oven_heater = BootCounter()
        self.transferred = BootCounter()
        self.cell = _Integral()
        self.cell_heater = _Integral()
        self.scoop = _Integral()
        self.charge_ah = 0.0
        self.peak_power_w = 0.0
        self.power_w: dict[str, float] = {"scoop": 0.0, "elec": 0.0, "oven": 0.0}
        self._last_current: tuple[float, float] | None = None
        self.happenings: list[Happening] = []
        self._removers: list[Callable[[], None]] = []

    def start(self) -> None:
        self._t0 = self._app.clock.monotonic()
        self._removers = [
            self._app.channels.listen(self._on_packet),
            self._app.events.subscribe(self._on_event),
        ]

    def close(self) -> None:
        for remove in self._removers:
            remove()
        self._removers = []

    @property
    def now_s(self) -> float:
        return self._app.clock.monotonic() - self._t0

    def energy_wh(self) -> dict[str, float]:
        """Each part's energy, Wh, under the prediction's names (``isru seq predict --json``)."""
        return {
            "scoop_energy_wh": self.scoop.wh,
            "cell_energy_wh": self.cell.wh,
            "cell_heater_energy_wh": self.cell_heater.wh,
            "oven_energy_wh": self.oven_heater.total,
        }

    def _on_packet(self, packet: str, values: dict[str, Any]) -> None:
        power_w = self.power_w
        if packet == "oven":
            boot = _number(values, "oven.boot_count")
            self.oven_heater.take(boot, _number(values, "oven.heater_energy_wh"))
            self.transferred.take(boot, _number(values, "oven.water_transferred_g"))
            power_w["oven"] = _number(values, "oven.heater_power_w")
        elif packet == "elec":
            t = self.now_s
            current = _number(values, "elec.cell_current_a")
            cell_w = current * _number(values, "elec.cell_voltage_v")
            heater_w = _number(values, "elec.heater_power_w")
            if self._last_current is not None:
                then, before = self._last_current
                self.charge_ah += (current + before) / 2 * max(0.0, t - then) / 3600
            self._last_current = (t, current)
            self.cell.take(t, cell_w)
            self.cell_heater.take(t, heater_w)
            power_w["elec"] = cell_w + heater_w
        elif packet == "scoop":
            amps = abs(_number(values, "scoop.boom_current_a"))
            amps += abs(_number(values, "scoop.scoop_current_a"))
            self.scoop.take(self.now_s, amps * SCOOP_BUS_V)
            power_w["scoop"] = amps * SCOOP_BUS_V
        else:
            return
        total = power_w["scoop"] + power_w["elec"] + power_w["oven"]
        if total > self.peak_power_w:
            self.peak_power_w = total

    def _on_event(self, event: Event) -> None:
        kind = _kind(event)
        if kind is not None:
            self.happenings.append(Happening(self.now_s, kind, event.text))


def _kind(event: Event) -> str | None:
    if event.id in ("LIMIT_YELLOW", "LIMIT_RED"):
        return LIMIT
    if event.id == "COMMAND_FAILED":
        return INTERLOCK if event.args.get("reason") == "INTERLOCK" else FAILED
    if event.id == "SEQ_ABORTED":
        return FAILED
    return None
