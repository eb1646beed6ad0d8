"""The oven board's sensors as its firmware reads them: physics, plus faults.

* Thermocouples on the sample, the chamber wall and the cold trap (degC), the chamber's
  absolute pressure sensor (kPa), the load cell under the sample (g, Gaussian noise sigma
  0.2 g, as the scoop's).
* ``drift`` (a fault): a reading offset growing at a rate per virtual second; the trips and
  interlocks see the drifted value, as on a real board.
* ``open`` (a fault): a broken sensor wire. The board's front end detects it (a thermocouple
  amplifier's open-circuit bit, the pressure transducer's output below its live zero) and
  reports the sentinel ``OPEN_CIRCUIT_READING`` = 2000 (degC or kPa), above anything the
  sensor can measure (type K ends at 1372 degC; the transducer at 100 kPa): upscale burnout,
  the fail-safe direction, so a host limit on the value also sees it. An open sensor takes no
  part in the temperature and pressure trips; it latches SENSOR_FAULT instead.
"""

from __future__ import annotations

import random
from typing import Protocol

KELVIN = 273.15
OPEN_CIRCUIT_READING = 2000.0
LOADCELL_SIGMA_G = 0.2
#: Sensors a drift fault can be put on (degC/s, kPa/s, g/s); the first four can go open.
OVEN_SENSORS = ("sample_temp", "wall_temp", "trap_temp", "pressure", "load_cell")
OPEN_CIRCUIT_SENSORS = OVEN_SENSORS[:4]


class Chamber(Protocol):
    """What the sensors measure (``sim.oven_physics.OvenPhysics``)."""

    @property
    def sample_temp_k(self) -> float: ...
    @property
    def wall_temp_k(self) -> float: ...
    @property
    def trap_temp_k(self) -> float: ...
    @property
    def pressure_pa(self) -> float: ...
    @property
    def sample_mass_g(self) -> float: ...


class OvenSensors:
    """The five sensors of one oven, with their drift and open-circuit faults."""

    def __init__(self, chamber: Chamber, rng: random.Random) -> None:
        self.chamber = chamber
        self._rng = rng
        self.open: set[str] = set()
        self.drift_rate = dict.fromkeys(OVEN_SENSORS, 0.0)
        self.drift = dict.fromkeys(OVEN_SENSORS, 0.0)

    def step(self, dt: float) -> None:
        for sensor, rate in self.drift_rate.items():
            self.drift[sensor] += rate * dt

    def clear(self) -> None:
        """Every sensor fault off: the readings are true again."""
        self.open.clear()
        for sensor in OVEN_SENSORS:
            self.drift_rate[sensor] = self.drift[sensor] = 0.0

    def read(self, sensor: str) -> float:
        """One reading: physics plus drift, or the open-circuit sentinel."""
        if sensor in self.open:
            return OPEN_CIRCUIT_READING
        chamber = self.chamber
        if sensor == "load_cell":
            true = chamber.sample_mass_g + self._rng.gauss(0.0, LOADCELL_SIGMA_G)
        elif sensor == "pressure":
            true = chamber.pressure_pa / 1000.0
        elif sensor == "sample_temp":
            true = chamber.sample_temp_k - KELVIN
        elif sensor == "wall_temp":
            true = chamber.wall_temp_k - KELVIN
        else:
            true = chamber.trap_temp_k - KELVIN
        return true + self.drift[sensor]

    def valid(self, sensor: str) -> float | None:
        """The reading, or None while the sensor is open."""
        return None if sensor in self.open else self.read(sensor)
