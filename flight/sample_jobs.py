"""The automatic custody jobs: what the scoop's hooks (:mod:`flight.sample_handlers`) record.

Each job reports its own failure (``CAMERA_FAILED``, ``CUSTODY_FAILED``) and never raises:
a camera or ledger problem never stops, fails or moves anything of the payload. While
custody is off the jobs record nothing (``CUSTODY_UNAVAILABLE`` said why at boot); pictures
are still taken and kept as ``unassigned``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from flight.camera_keeper import CameraKeeper, CameraProblem, StoredImage
from flight.clock import Clock
from flight.events import EventLog
from flight.rover_position import Fix, RoverPosition
from flight.samples import CustodyProblem, SampleKeeper, stamp
from interface.custody import (
    Collected,
    Imaged,
    Kind,
    Location,
    Measured,
    Moved,
    Site,
    Stamp,
)
from interface.custody.model import CommandRef, SequenceRef

__all__ = ["SampleJobs"]

log = logging.getLogger(__name__)
_T = TypeVar("_T")
#: How long shutting down waits for the custody jobs still queued, seconds (real time).
DRAIN_S = 10.0
#: A command's custody job (CAMERA.CAPTURE, SAMPLE.*) is refused BUSY while this many wait:
#: a flood of commands cannot queue work without end (the scoop's own jobs always queue).
MAX_COMMAND_JOBS = 32


class SampleJobs:
    """The custody work of the scoop's commands, one job at a time (the desk's worker)."""

    def __init__(
        self,
        *,
        keeper: SampleKeeper,
        camera: CameraKeeper,
        position: RoverPosition,
        clock: Clock,
        events: EventLog,
    ) -> None:
        self.keeper = keeper
        self.camera = camera
        self.position = position
        self.clock = clock
        self.events = events
        self._queue: asyncio.Queue[tuple[Callable[[], Awaitable[Any]], asyncio.Future[Any]]]
        self._queue = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    # --- the worker --------------------------------------------------------------------

    def start(self) -> None:
        self.position.load()
        self._worker = asyncio.create_task(self._work(), name="custody jobs")

    async def stop(self) -> None:
        """Finish the jobs queued (within DRAIN_S), then stop."""
        if self._worker is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_S):
                await self._queue.join()
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        self._worker = None

    async def _work(self) -> None:
        while True:
            job, future = await self._queue.get()
            try:
                result = await job()
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(result)
            finally:
                self._queue.task_done()

    async def _do(self, job: Callable[[], Awaitable[_T]]) -> _T:
        """Run ``job`` in its turn; a cancelled caller leaves it to finish."""
        future: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((job, future))
        return await asyncio.shield(future)

    def busy(self) -> str | None:
        """Why a command's job cannot be queued now (MAX_COMMAND_JOBS wait), or None."""
        waiting = self._queue.qsize()
        if waiting < MAX_COMMAND_JOBS:
            return None
        return (
            f"custody busy: {waiting} jobs wait (at most {MAX_COMMAND_JOBS} for a command): "
            "not run, send it again later"
        )

    def _later(self, job: Callable[[], Awaitable[None]]) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_log_failure)
        self._queue.put_nowait((job, future))

    def now(self) -> Stamp:
        return stamp(self.clock)

    def site(self, what: str, fix: Fix | None, at: datetime) -> Site:
        """The site of an entry about ``what``: the configured point and the rover's offset
        ``fix`` (the position then known) as of mission time ``at``, unless it is stale."""
        site = self.keeper.settings.site
        if site is None:  # custody is off without one: no entry gets this far
            raise CustodyProblem("[samples.site] is not set")
        return site.site(self.position.offset(fix, at, what))

    async def picture(self, purpose: str, sample: str | None) -> StoredImage | None:
        """A picture taken automatically; None (and CAMERA_FAILED) when there is none."""
        if not self.camera.configured:
            return None
        try:
            return await self.camera.capture(purpose, sample)
        except CameraProblem as exc:
            self.events.emit("CAMERA_FAILED", purpose=purpose, detail=str(exc))
        except Exception as exc:  # a bug here must not fail the scoop command it serves
            log.exception("picture %s failed", purpose)
            self.events.emit(
                "CAMERA_FAILED", purpose=purpose, detail=f"{type(exc).__name__}: {exc}"
            )
        return None

    def _failed(self, what: str, exc: Exception) -> None:
        self.events.emit("CUSTODY_FAILED", what=what, detail=str(exc))

    async def imaged(self, sample: str, images: list[StoredImage | None]) -> None:
        """IMAGED of the pictures that were taken (nothing when none was)."""
        taken = [image.ref() for image in images if image is not None]
        if not taken or self.keeper.off is not None:
            return
        try:
            await self.keeper.append(sample, Kind.IMAGED, Imaged(images=taken))
        except (CustodyProblem, ValueError) as exc:
            self._failed(f"IMAGED of {sample}", exc)

    async def collected(
        self,
        start: Stamp,
        end: Stamp,
        depth_mm: float,
        sequence: SequenceRef | None,
        commands: list[CommandRef],
        site_image: StoredImage | None,
        fix: Fix | None,
    ) -> None:
        """After a completed dig: COLLECTED (at the rover's position ``fix`` as of the dig's
        start), a ``scoop`` picture, IMAGED."""
        if self.keeper.off is not None:
            await self.picture("scoop", None)
            return
        try:
            body = Collected(
                site=self.site("COLLECTED", fix, _mission(start)),
                dig_start=start,
                dig_end=end,
                depth_mm=round(max(0.0, depth_mm), 2),
                sequence=sequence,
                commands=commands,
            )
            sample = (await self.keeper.collect(body)).entry.sample
        except (CustodyProblem, ValueError) as exc:
            self._failed("COLLECTED", exc)
            return
        await self.imaged(sample, [site_image, await self.picture("scoop", sample)])

    async def measured(self, mass_g: float) -> None:
        """After a completed WEIGH: MEASURED of the sample in the scoop (if one is)."""
        sample = self.keeper.where(Location.SCOOP) if self.keeper.off is None else None
        if sample is None:
            return
        settings = self.keeper.settings
        body = Measured(
            mass_g=round(mass_g, 3), sigma_g=settings.mass_sigma_g, calibration=settings.calibration
        )
        try:
            await self.keeper.append(sample, Kind.MEASURED, body)
        except (CustodyProblem, ValueError) as exc:
            self._failed(f"MEASURED of {sample}", exc)

    async def dumped(self, target: str) -> None:
        """After a completed DUMP: the scoop's sample MOVED to the oven (and pictured in
        its hopper) or dumped on the ground."""
        sample = self.keeper.where(Location.SCOOP) if self.keeper.off is None else None
        into_oven = target == "OVEN"
        if sample is None:
            if into_oven:
                await self.picture("hopper", None)
            return
        where = Location.OVEN if into_oven else Location.DUMPED
        note = "SCOOP.DUMP target=" + target
        try:
            await self.keeper.append(sample, Kind.MOVED, Moved(location=where, note=note))
        except (CustodyProblem, ValueError) as exc:
            self._failed(f"MOVED of {sample}", exc)
            return
        if into_oven:
            await self.imaged(sample, [await self.picture("hopper", sample)])


def _mission(when: Stamp) -> datetime:
    return datetime.fromisoformat(when.mission.replace("Z", "+00:00"))


def _log_failure(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("custody job failed", exc_info=future.exception())
