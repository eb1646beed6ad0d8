"""What the vehicle's oven telemetry says over a run: its counters and its time series.

The oven board's ``heater_energy_wh``, ``water_collected_g`` and ``water_transferred_g``
count since the board's boot; a board that reboots mid-run (a new ``boot_count``) starts
them again from zero, so the run's figure is the sum of their changes within each boot.
(``water_collected_g`` is net: it falls when the trap gives water back to the chamber.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ground import GroundClient
from isru.boot_counter import BootCounter
from isru.chain_report import ChainReport, chain_report
from isru.sim_child import SimChild

#: The series keeps a sample at most this often (mission seconds): a few hundred points
#: for a run of hours, plenty for a plot.
SERIES_STEP_S = 15.0
#: Series names (the report's ``oven_series``) and the oven channel each samples.
SERIES = {
    "sample_temp_c": "oven.sample_temp_c",
    "trap_temp_c": "oven.trap_temp_c",
    "chamber_pressure_kpa": "oven.chamber_pressure_kpa",
}
#: Run totals kept from the board's since-boot counters.
COUNTERS = {
    "oven_energy_wh": "oven.heater_energy_wh",
    "water_collected_g": "oven.water_collected_g",
    "water_transferred_g": "oven.water_transferred_g",
}


class ChainRecorder:
    """Listens to the oven's telemetry on a :class:`GroundClient` for the run's figures."""

    def __init__(self, client: GroundClient) -> None:
        self.counters = {name: BootCounter() for name in COUNTERS}
        self.series: dict[str, list[float]] = {"t_s": [], **{name: [] for name in SERIES}}
        self.series["water_collected_g"] = []
        self._start: datetime | None = None
        self._kept_at = -SERIES_STEP_S
        self._pending: tuple[float, dict[str, Any]] | None = None
        self._remove = client.listen(self._take)

    def close(self) -> None:
        self._remove()

    def seen(self) -> dict[str, float]:
        """The run's totals: ``oven_energy_wh``, ``water_collected_g``,
        ``water_transferred_g``."""
        return {name: counter.total for name, counter in self.counters.items()}

    def finish(self) -> dict[str, list[float]]:
        """The series, with the last sample heard as its last point."""
        if self._pending is not None:
            self._keep(*self._pending)
            self._pending = None
        return self.series

    def _take(self, suffix: str, document: dict[str, Any]) -> None:
        if suffix != "tm/oven" or document.get("replayed"):
            return
        values = document.get("values", {})
        try:
            now = datetime.fromisoformat(str(document["time"]))
            numbers = {k: float(values[c]) for k, c in (SERIES | COUNTERS).items()}
            boot = float(values["oven.boot_count"])
        except (KeyError, TypeError, ValueError):
            return
        for name, counter in self.counters.items():
            counter.take(boot, numbers[name])
        if self._start is None:
            self._start = now
        t = (now - self._start).total_seconds()
        if t - self._kept_at >= SERIES_STEP_S:
            self._keep(t, numbers)
            self._pending = None
        else:
            self._pending = (t, numbers)

    def _keep(self, t: float, numbers: dict[str, float]) -> None:
        self._kept_at = t
        self.series["t_s"].append(round(t, 3))
        for name in SERIES:
            self.series[name].append(round(numbers[name], 4))
        self.series["water_collected_g"].append(round(self.counters["water_collected_g"].total, 4))


async def chain_of_run(
    sim: SimChild, recorder: ChainRecorder, *, cell_charge_ah: float, cell_energy_wh: float
) -> ChainReport | None:
    """The run's chain: the simulator's truth (asked now, on its control port), what the
    oven's telemetry said, and the cell's charge and energy integrated from its own; None
    when the simulator does not answer (it has gone: the run's report says why)."""
    try:
        oven, elec = await sim.query("oven"), await sim.query("elec")
    except (OSError, RuntimeError, ValueError):
        return None
    seen = recorder.seen() | {"cell_charge_ah": cell_charge_ah, "cell_energy_wh": cell_energy_wh}
    return chain_report(oven=oven, elec=elec, seen=seen, series=recorder.finish())
