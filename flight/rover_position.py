"""The rover's position, as the rover's navigation tells the payload (``SAMPLE.POSITION``).

A payload on a rover does not know where it is: the rover does. The rover (or the ground on
its behalf) sends ``SAMPLE.POSITION east_m north_m up_m sigma_m``, its offset from the
configured site point (``[samples.site]``) in the point's local east/north/up frame, metres,
with its 1-sigma uncertainty. :class:`RoverPosition` keeps the latest one with the mission
and board time it arrived, in ``<state_dir>/rover_position.json`` (replaced atomically, so a
restart keeps it), and gives the :class:`~interface.custody.Offset` that ``COLLECTED`` and
``TRANSFERRED`` entries carry (``source`` ``telemetry``). A position older than
``[samples] position_max_age_s`` is not used: the entry has the configured point without an
offset and ``POSITION_STALE`` says so. Without any position (a lander) the offset is null.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flight.clock import Clock
from flight.dispatcher import CommandFailed, Execution, Reason, Route
from flight.events import EventLog
from flight.files import corrupt_copy_name, remove_stale_temps, write_atomic
from flight.samples import stamp
from interface.custody import Offset, Stamp

__all__ = ["FILE_NAME", "Fix", "RoverPosition"]

log = logging.getLogger(__name__)

FILE_NAME = "rover_position.json"
Finite = Annotated[float, Field(allow_inf_nan=False)]


class Fix(BaseModel):
    """One position the rover sent, and when it arrived (mission clock and board clock)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    east_m: Finite
    north_m: Finite
    up_m: Finite
    sigma_m: Annotated[float, Field(allow_inf_nan=False, ge=0)]
    at: Stamp

    def age_s(self, now: datetime) -> float:
        """Seconds of mission time from its arrival to ``now``."""
        arrived = datetime.fromisoformat(self.at.mission.replace("Z", "+00:00"))
        return (now - arrived).total_seconds()

    def offset(self) -> Offset:
        return Offset(
            east_m=self.east_m,
            north_m=self.north_m,
            up_m=self.up_m,
            sigma_m=self.sigma_m,
            source="telemetry",
        )


class RoverPosition:
    """The latest rover position, kept in the state directory."""

    def __init__(self, *, path: Path, clock: Clock, events: EventLog, max_age_s: float) -> None:
        self.path = path
        self.clock = clock
        self.events = events
        self.max_age_s = max_age_s
        #: The latest position (None: the rover never sent one).
        self.fix: Fix | None = None

    def load(self) -> None:
        """At boot: the position kept before the restart, if any. An unreadable file is set
        aside (``STATE_RECOVERED``) and there is no position until the rover sends one."""
        remove_stale_temps(self.path)
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except OSError as exc:
            self._recovered(f"rover position {self.path}: {exc.strerror or exc}")
            return
        try:
            self.fix = Fix.model_validate_json(text)
        except ValidationError as exc:
            kept = corrupt_copy_name(self.path)
            try:
                os.replace(self.path, kept)
            except OSError as moved:
                log.error("cannot set %s aside: %s", self.path, moved)
            first = exc.errors()[0]["msg"] if exc.errors() else str(exc)
            self._recovered(f"rover position {self.path} ({first}): kept as {kept.name}")

    def _recovered(self, detail: str) -> None:
        self.events.emit(
            "STATE_RECOVERED", detail=f"{detail}; no rover position until the rover sends one"
        )

    def routes(self) -> dict[str, Route]:
        return {"SAMPLE.POSITION": Route(self.sample_position)}

    async def sample_position(self, run: Execution) -> None:
        """``SAMPLE.POSITION``: keep the rover's position, durably, then announce it."""
        run.started()
        args = run.args
        fix = Fix(
            east_m=args["east_m"],
            north_m=args["north_m"],
            up_m=args["up_m"],
            sigma_m=args["sigma_m"],
            at=stamp(self.clock),
        )
        try:
            await asyncio.to_thread(write_atomic, self.path, fix.model_dump_json() + "\n")
        except OSError as exc:
            raise CommandFailed(
                Reason.DEVICE_FAULT,
                f"rover position not kept: {self.path}: {exc.strerror or exc}",
            ) from None
        self.fix = fix
        self.events.emit(
            "POSITION_RECEIVED",
            east_m=fix.east_m,
            north_m=fix.north_m,
            up_m=fix.up_m,
            sigma_m=fix.sigma_m,
        )

    def offset(self, fix: Fix | None, at: datetime, what: str) -> Offset | None:
        """The offset an entry about ``what`` carries for ``fix`` at mission time ``at``:
        None without a position, or (with ``POSITION_STALE``) when it is too old."""
        if fix is None:
            return None
        age = fix.age_s(at)
        if age > self.max_age_s:
            self.events.emit(
                "POSITION_STALE",
                what=what,
                age_s=round(age, 1),
                max_age_s=self.max_age_s,
                at=fix.at.mission,
            )
            return None
        return fix.offset()
