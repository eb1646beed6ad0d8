"""One dry run: the flight software's core and the simulated boards in one process, on one
virtual clock (:mod:`isru.predict.vtime`), the sequence run to its end.

The flight side is :class:`flight.vehicle.FlightApp` itself (dispatcher, interlocks, limits,
arming, safing, the sequencer and its timing, verification): only the MQTT uplink is left
out. The boards are :class:`sim.launcher.SimBoards` (the SIL firmware and physics) on loopback
TCP ports. Their figures are read as ``isru sil --run`` reads them: the vehicle's telemetry
(:class:`~isru.predict.record.RunRecorder`) and, at the end, the simulator's truth.
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from flight.boards import BOARDS
from flight.config import FlightConfig
from flight.vehicle import FlightApp
from interface.sequence import Sequence
from isru.chain_report import ChainReport, chain_report
from isru.predict.record import RunRecorder
from isru.predict.vtime import AutojumpLoop, LoopFlightClock, LoopSimClock
from sim.ice_content import DEFAULT_ICE_WT_PCT
from sim.launcher import SimBoards
from sim.pem_params import PemParams
from sim.truth import elec_truth, oven_truth

#: Mission seconds the boards have to come up before the sequence starts.
LINK_UP_TIMEOUT_S = 30.0
#: Allocations between the garbage collector's youngest-generation runs during a dry run.
GC_THRESHOLD = 50_000


#: Virtual seconds between two looks at the real time a capped dry run has taken.
WALL_CHECK_S = 1.0


class PredictError(Exception):
    """The dry run could not be made; the message says why."""


class PredictTimeout(PredictError):
    """The dry run took more real time than it was allowed; the message says how far it got."""


@dataclass
class Prediction:
    """What a sequence would do: the ``--report-json`` report's names where they exist."""

    sequence: str
    outcome: str = "UNKNOWN"
    reason: str = ""
    cause: str = ""
    duration_s: float = 0.0
    #: Energy, Wh: ``oven_energy_wh`` and ``cell_energy_wh`` as in the SIL report's chain;
    #: the cell's heater and the scoop's motors (an estimate) only here; and their total.
    oven_energy_wh: float = 0.0
    cell_energy_wh: float = 0.0
    cell_heater_energy_wh: float = 0.0
    scoop_energy_wh: float = 0.0
    total_energy_wh: float = 0.0
    peak_power_w: float = 0.0
    sample_mass_g: float = 0.0
    charge_ah: float = 0.0
    events: list[dict[str, Any]] = field(default_factory=list)
    chain: ChainReport | None = None
    #: Real seconds the dry run took (not a prediction: how long the machine needed).
    wall_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The prediction; the chain's figures at the top level (``h2_g``...)."""
        document: dict[str, Any] = {
            "sequence": self.sequence,
            "outcome": self.outcome,
            "reason": self.reason,
            "cause": self.cause,
            "duration_s": round(self.duration_s, 3),
            "oven_energy_wh": round(self.oven_energy_wh, 4),
            "cell_energy_wh": round(self.cell_energy_wh, 4),
            "cell_heater_energy_wh": round(self.cell_heater_energy_wh, 4),
            "scoop_energy_wh": round(self.scoop_energy_wh, 4),
            "total_energy_wh": round(self.total_energy_wh, 4),
            "peak_power_w": round(self.peak_power_w, 3),
            "sample_mass_g": self.sample_mass_g,
            "charge_ah": self.charge_ah,
            "events": self.events,
            "wall_s": round(self.wall_s, 3),
        }
        if self.chain is not None:
            figures = self.chain.figures.as_dict()
            document.update({name: round(value, 4) for name, value in figures.items()})
        return document


@dataclass(frozen=True)
class World:
    """The simulated world a prediction runs in (the ``isru sil`` simulator's options)."""

    ice_wt_pct: float = DEFAULT_ICE_WT_PCT
    cell_params: PemParams | None = None
    seed: int = 0
    #: The speed-up of the SIL run this one stands for (``isru sil --time-scale``): the
    #: physics tick (0.1 s at 100, 0.01 s up to 10) and the arm window follow it.
    time_scale: float = 100.0
    #: Limit overrides as in the flight config's ``[limits]`` table.
    limits: dict[str, dict[str, Any]] = field(default_factory=dict)


def predict(
    sequence: Sequence, *, world: World | None = None, max_wall_s: float | None = None
) -> Prediction:
    """Run ``sequence`` on virtual time; blocks until it ends (in a fresh event loop).
    ``max_wall_s``: real seconds the run may take; past them it stops (``PredictTimeout``)."""
    started = time.perf_counter()
    # Most of what a run makes is freed by reference counting: collect cycles less often.
    thresholds = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, *thresholds[1:])
    try:
        with asyncio.Runner(loop_factory=AutojumpLoop) as runner:
            work = _predict(sequence, world or World())
            if max_wall_s is not None:
                work = _within(work, started, max_wall_s)
            prediction = runner.run(work)
    finally:
        gc.set_threshold(*thresholds)
    prediction.wall_s = time.perf_counter() - started
    return prediction


async def _within(
    work: Coroutine[Any, Any, Prediction], started: float, max_wall_s: float
) -> Prediction:
    """``work``, cancelled once it has taken ``max_wall_s`` real seconds since ``started``
    (looked at every ``WALL_CHECK_S`` of virtual time: a runaway is a long mission)."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    virtual_start = loop.time()
    expired = False
    handle: asyncio.TimerHandle | None = None

    def look() -> None:
        nonlocal handle, expired
        if time.perf_counter() - started >= max_wall_s:
            expired = True
            task.cancel()
        else:
            handle = loop.call_later(WALL_CHECK_S, look)

    handle = loop.call_later(WALL_CHECK_S, look)
    try:
        return await work
    except asyncio.CancelledError:
        if not expired:
            raise
        task.uncancel()
        mission_s = loop.time() - virtual_start
        raise PredictTimeout(
            f"stopped after {max_wall_s:g} s of real time (--max-wall-s), "
            f"{mission_s:.0f} s into the mission; nothing predicted"
        ) from None
    finally:
        if handle is not None:
            handle.cancel()


async def _predict(sequence: Sequence, world: World) -> Prediction:
    with tempfile.TemporaryDirectory(prefix="isru-predict-") as workdir:
        sim = SimBoards(
            tcp=True,
            clock=LoopSimClock(scale=world.time_scale),
            state_dir=Path(workdir) / "sim",
            seed=world.seed,
            ice_wt_pct=world.ice_wt_pct,
            cell_params=world.cell_params,
        )
        (Path(workdir) / "sim").mkdir()
        async with sim:
            config = _config(sim.urls, state=Path(workdir) / "flight", limits=world.limits)
            async with FlightApp(
                config=config, clock=LoopFlightClock(scale=world.time_scale)
            ) as app:
                return await _run(app, sim, sequence)


def _config(urls: dict[str, str], *, state: Path, limits: dict[str, Any]) -> FlightConfig:
    document = {
        "vehicle": "predict",
        # Every packet read as it comes: on virtual time a read hold saves no CPU, only adds
        # loop work (a dry run took a fifth longer with it).
        "devices": {board: {"url": urls[board], "read_hold_s": 0} for board in BOARDS},
        "state": {"dir": str(state)},
        "limits": limits,
    }
    try:
        return FlightConfig.model_validate(document, context={"base_dir": state.parent})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise PredictError(f"the flight configuration is not valid: {problems}") from None


async def _run(app: FlightApp, sim: SimBoards, sequence: Sequence) -> Prediction:
    def boards_up(values: Mapping[str, Any]) -> bool:  # linked, and a packet from each heard
        return all(
            values.get(f"{board}.link_up") is True and f"{board}.state" in values
            for board in BOARDS
        )

    try:
        await app.channels.wait_until(boards_up, timeout_s=LINK_UP_TIMEOUT_S)
    except TimeoutError:
        raise PredictError("the simulated boards did not come up") from None
    recorder = RunRecorder(app)
    recorder.start()
    app.sequencer.start(sequence)
    status = await app.sequencer.wait_done()
    recorder.close()
    oven, elec = oven_truth(sim), elec_truth(sim)
    energy = recorder.energy_wh()
    seen = {
        "water_transferred_g": recorder.transferred.total,
        "oven_energy_wh": energy["oven_energy_wh"],
        "cell_charge_ah": recorder.charge_ah,
        "cell_energy_wh": energy["cell_energy_wh"],
    }
    return Prediction(
        sequence=sequence.name,
        outcome=str(status.outcome or "UNKNOWN"),
        reason=status.reason,
        cause=str(status.cause or ""),
        duration_s=status.elapsed_s,
        **energy,
        total_energy_wh=sum(energy.values()),
        peak_power_w=recorder.peak_power_w,
        sample_mass_g=float(app.channels.values.get("scoop.sample_mass_g", 0.0)),
        charge_ah=recorder.charge_ah,
        events=[happening.as_dict() for happening in recorder.happenings],
        chain=chain_report(oven=oven, elec=elec, seen=seen),
    )
