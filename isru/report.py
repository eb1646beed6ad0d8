"""The end-of-run report of a sequence run in SIL: outcome, time, sample, gases, energy."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from ground import Event, GroundClient
from interface.sequence import CommandStep, Sequence, WaitStep
from isru.chain_report import ChainReport

FARADAY_C_PER_MOL = 96485.332
H2_G_PER_MOL = 2.016
O2_G_PER_MOL = 31.998
#: Events at these severities go into the report.
REPORTED = ("WARNING", "ERROR", "FATAL")
#: Real-time allowance per step on top of what the sequence says it may take.
STEP_ALLOWANCE_S = 30.0


@dataclass
class RunReport:
    """What an operator wants to know after a run. Gases follow Faraday's law from the
    cell charge measured in telemetry (100 % Faradaic efficiency assumed)."""

    sequence: str
    outcome: str = "UNKNOWN"
    #: For ABORTED: ``<cause>: <detail>``, e.g. ``command: SEQ.ABORT from mqtt``.
    reason: str = ""
    #: For ABORTED, what ended the run: command, limit, restart, safing, step or internal.
    cause: str = ""
    duration_s: float = 0.0
    sample_mass_g: float = 0.0
    charge_ah: float = 0.0
    h2_produced_g: float = 0.0
    o2_produced_g: float = 0.0
    #: The cell's electrical energy (current x voltage), Wh: ``cell_energy_wh`` in the chain's
    #: figures and in ``isru seq predict``'s too.
    cell_energy_wh: float = 0.0
    events: list[dict[str, Any]] = field(default_factory=list)
    #: The extraction chain's figures and balances (``isru.chain_report``), when known.
    chain: ChainReport | None = None

    def as_dict(self) -> dict[str, Any]:
        """The report; the chain's figures at the top level (``regolith_g``...)."""
        document = asdict(self)
        del document["chain"]
        if self.chain is not None:
            document.update(self.chain.as_dict())
        return document

    def text(self) -> str:
        lines = [
            f"sequence   {self.sequence}: {self.outcome}"
            + (f" ({self.reason})" if self.reason else ""),
            f"duration   {self.duration_s:.1f} s (mission time)",
            f"sample     {self.sample_mass_g:.1f} g",
            f"charge     {self.charge_ah * 1000:.2f} mA h",
            f"H2         {self.h2_produced_g * 1000:.2f} mg",
            f"O2         {self.o2_produced_g * 1000:.2f} mg",
            f"energy     {self.cell_energy_wh:.3f} W h (cell)",
            f"events     {len(self.events)} warning or worse",
        ]
        lines += [f"  {e['severity']:<8} {e['id']:<16} {e['text']}" for e in self.events]
        if self.chain is not None and self.chain.active:
            lines += ["", self.chain.table()]
        return "\n".join(lines)


class ReportRecorder:
    """Integrates the cell's charge and energy from elec telemetry and keeps notable events,
    while listening to a :class:`GroundClient`."""

    def __init__(self, client: GroundClient, *, sequence: str) -> None:
        self.report = RunReport(sequence)
        self._client = client
        self._last: tuple[datetime, float, float] | None = None
        self._remove = client.listen(self._take)

    def close(self) -> None:
        self._remove()

    def _take(self, suffix: str, document: dict[str, Any]) -> None:
        if suffix == "tm/elec":
            self._integrate(document)
        elif suffix == "evr" and document.get("severity") in REPORTED:
            event = Event.from_message(document)
            self.report.events.append(
                {"time": event.time, "severity": event.severity, "id": event.id, "text": event.text}
            )

    def _integrate(self, document: dict[str, Any]) -> None:
        values = document.get("values", {})
        try:
            now = datetime.fromisoformat(str(document["time"]))
            current = float(values["elec.cell_current_a"])
            voltage = float(values["elec.cell_voltage_v"])
        except (KeyError, TypeError, ValueError):
            return
        if self._last is not None:
            then, last_current, last_voltage = self._last
            hours = max(0.0, (now - then).total_seconds()) / 3600
            mean_current = (current + last_current) / 2
            self.report.charge_ah += mean_current * hours
            self.report.cell_energy_wh += (
                (current * voltage + last_current * last_voltage) / 2 * hours
            )
        self._last = (now, current, voltage)

    def finish(self, end: Event, status: dict[str, Any]) -> RunReport:
        report = self.report
        report.outcome = "COMPLETED" if end.id == "SEQ_COMPLETED" else "ABORTED"
        if report.outcome == "ABORTED":
            # From the end event itself: seq/status may not have arrived yet.
            report.reason = str(end.args.get("reason") or status.get("reason") or "")
            report.cause = str(end.args.get("cause") or report.reason.partition(":")[0])
        report.duration_s = float(end.args.get("elapsed_s", status.get("elapsed_s", 0.0)))
        report.sample_mass_g = float(self._client.values.get("scoop.sample_mass_g", 0.0))
        coulombs = report.charge_ah * 3600
        report.h2_produced_g = coulombs / (2 * FARADAY_C_PER_MOL) * H2_G_PER_MOL
        report.o2_produced_g = coulombs / (4 * FARADAY_C_PER_MOL) * O2_G_PER_MOL
        return report


def run_budget_s(sequence: Sequence, *, time_scale: float) -> float:
    """A real-time bound on a run: every delay and WAIT timeout, scaled, plus an allowance."""
    mission = 0.0
    for step in sequence.steps:
        if isinstance(step, WaitStep):
            mission += step.timeout_s
        elif isinstance(step, CommandStep) and hasattr(step.tag, "delay_s"):
            mission += step.tag.delay_s
    return mission / time_scale + STEP_ALLOWANCE_S * (1 + len(sequence.steps) / 4)
