"""The sample commands (CAMERA.*, SAMPLE.*) and the scoop's custody hooks.

:class:`SampleDesk` owns the custody work of the vehicle: one job at a time, in the order
asked (a worker task), so that a WEIGH's MEASURED follows its DIG's COLLECTED even though
the scoop's commands complete without waiting for the ledger or the camera:

- ``SCOOP.DIG``: a ``site`` picture before the arm moves, then, once the dig completed,
  COLLECTED (site, start and end stamps, the deepest ``scoop.tool_depth_mm`` seen, the
  sequence, the scoop commands since the last sample), a ``scoop`` picture and IMAGED.
- ``SCOOP.WEIGH`` completed: MEASURED of the sample in the scoop (``[samples]`` sigma).
- ``SCOOP.DUMP`` completed: MOVED ``oven`` (then a ``hopper`` picture, IMAGED) or ``dumped``.

A failure there raises ``CAMERA_FAILED`` or ``CUSTODY_FAILED`` and nothing else: the scoop
command completes as it would have without custody. The commands fail (``DEVICE_FAULT``,
or ``INVALID_ARGUMENT`` for a sample that is not there) with the reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import ValidationError

from flight.camera_keeper import PURPOSE, CameraKeeper, CameraProblem
from flight.channels import ChannelStore
from flight.clock import Clock
from flight.config import FlightConfig
from flight.dispatcher import CommandFailed, Execution, Handler, Reason, Route
from flight.events import EventLog
from flight.rover_position import FILE_NAME, RoverPosition
from flight.sample_jobs import SampleJobs
from flight.samples import CustodyProblem, CustodySink, SampleKeeper, UnknownSample
from flight.sequencer import Sequencer
from interface.custody import Imaged, Kind, Location, Moved, Noted, Transferred
from interface.custody.model import CommandRef, SequenceRef

__all__ = ["SampleDesk", "sample_desk"]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

#: How many scoop commands a COLLECTED entry lists at most (the format's limit).
MAX_COMMANDS = 200


class SampleDesk(SampleJobs):
    """The sample commands' routes, and the hooks around the scoop's."""

    def __init__(
        self,
        *,
        keeper: SampleKeeper,
        camera: CameraKeeper,
        position: RoverPosition,
        channels: ChannelStore,
        clock: Clock,
        events: EventLog,
    ) -> None:
        super().__init__(
            keeper=keeper, camera=camera, position=position, clock=clock, events=events
        )
        self.channels = channels
        #: Whose status names the sequence running a command (set by the vehicle).
        self.sequencer: Sequencer | None = None
        #: sha256 of each sequence's text, by name, as uploaded or started.
        self.digests: dict[str, str] = {}
        self._runs: dict[str, str] = {}
        self._made: list[CommandRef] = []
        events.subscribe(self._on_event)

    # --- the scoop's hooks -------------------------------------------------------------

    def hook(self, routes: dict[str, Route]) -> dict[str, Route]:
        """``routes`` with the scoop's commands and SEQ.UPLOAD wrapped by custody's hooks."""
        hooks: dict[str, Callable[[Execution, Handler], Awaitable[None]]] = {
            "SCOOP.DIG": self._dig,
            "SCOOP.WEIGH": self._weigh,
            "SCOOP.DUMP": self._dump,
            "SEQ.UPLOAD": self._upload,
        }
        hooked = dict(routes)
        for name, route in routes.items():
            hook = hooks.get(name, self._scoop if route.device == "scoop" else None)
            if hook is not None:
                hooked[name] = Route(_around(hook, route.handler), route.device, route.preempts)
        return hooked

    def sequence_started(self, name: str, text: str) -> None:
        """A sequence started from its text (``FlightApp.start_sequence``)."""
        self.digests[name] = hashlib.sha256(text.encode("utf-8")).hexdigest()

    async def _upload(self, run: Execution, inner: Handler) -> None:
        await inner(run)
        self.sequence_started(run.args["name"], run.args["text"])

    async def _scoop(self, run: Execution, inner: Handler) -> None:
        await inner(run)
        self._remember(run)

    def _remember(self, run: Execution) -> None:
        ref = CommandRef(id=run.command.id[:200], name=run.command.name, args=dict(run.args))
        self._made = [*self._made, ref][-MAX_COMMANDS:]

    async def _dig(self, run: Execution, inner: Handler) -> None:
        site = await self._do(lambda: self.picture("site", self.keeper.next_id()))
        start, fix = self.now(), self.position.fix
        deepest = [0.0]

        def follow(packet: str, values: dict[str, Any]) -> None:
            depth = values.get("scoop.tool_depth_mm")
            if packet == "scoop" and isinstance(depth, int | float):
                deepest[0] = max(deepest[0], float(depth))

        stop_following = self.channels.listen(follow)
        try:
            await inner(run)
        finally:
            stop_following()
        self._remember(run)
        made, self._made = self._made, []
        end, sequence = self.now(), self._sequence(run)
        self._later(lambda: self.collected(start, end, deepest[0], sequence, made, site, fix))

    async def _weigh(self, run: Execution, inner: Handler) -> None:
        await inner(run)
        self._remember(run)
        mass = self.channels.values.get("scoop.sample_mass_g")
        if isinstance(mass, int | float):
            self._later(lambda: self.measured(float(mass)))

    async def _dump(self, run: Execution, inner: Handler) -> None:
        await inner(run)
        self._remember(run)
        self._later(lambda: self.dumped(run.args["target"]))

    def _sequence(self, run: Execution) -> SequenceRef | None:
        if run.command.source != "sequence" or self.sequencer is None:
            return None
        name = self.sequencer.status.name
        digest = self.digests.get(name)
        if digest is None:
            return None
        return SequenceRef(name=name, sha256=digest, run=self._runs.get(name))

    def _on_event(self, event: Any) -> None:
        if event.id == "SEQ_STARTED":
            self._runs[event.args["name"]] = f"started {event.time.isoformat()}"

    # --- the commands ------------------------------------------------------------------

    def routes(self) -> dict[str, Route]:
        return {
            "CAMERA.CAPTURE": Route(self.camera_capture),
            "CAMERA.SEND": Route(self.camera_send),
            "SAMPLE.MOVE": Route(self.sample_move),
            "SAMPLE.NOTE": Route(self.sample_note),
            "SAMPLE.TRANSFER": Route(self.sample_transfer),
        } | self.position.routes()

    async def camera_capture(self, run: Execution) -> None:
        purpose, reference = run.args["purpose"], run.args["sample"]
        if not PURPOSE.fullmatch(purpose):
            raise CommandFailed(
                Reason.INVALID_ARGUMENT,
                f"purpose {purpose!r}: must be 1-32 of A-Z a-z 0-9 _, a letter or digit first",
            )
        self._admit()
        run.started()

        async def job() -> None:
            sample = None if reference == "none" else self.keeper.resolve(reference)
            stored = await self.camera.capture(purpose, sample)
            if sample is not None:
                await self.keeper.append(sample, Kind.IMAGED, Imaged(images=[stored.ref()]))

        await _failing(self._do(job))

    def _admit(self) -> None:
        problem = self.busy()
        if problem is not None:
            raise CommandFailed(Reason.BUSY, problem)

    async def camera_send(self, run: Execution) -> None:
        run.started()
        args = run.args
        try:  # the file is read and hashed in a thread: a flood never stalls the loop
            stored = await asyncio.to_thread(self.camera.stored, args["name"])
            chunks = self.camera.chunks(stored, args["first_chunk"], args["last_chunk"])
        except CameraProblem as exc:
            raise CommandFailed(Reason.INVALID_ARGUMENT, str(exc)) from None
        problem = self.camera.send(stored, chunks)
        if problem is not None:
            raise CommandFailed(Reason.DEVICE_FAULT, problem)

    async def sample_move(self, run: Execution) -> None:
        self._admit()
        run.started()
        body = Moved(location=Location(run.args["location"]), note=run.args["note"])
        await _failing(self._do(lambda: self._append(run.args["sample"], Kind.MOVED, body)))

    async def sample_note(self, run: Execution) -> None:
        self._admit()
        run.started()
        try:
            body = Noted(text=run.args["text"])
        except ValueError:
            raise CommandFailed(Reason.INVALID_ARGUMENT, "text: must not be empty") from None
        await _failing(self._do(lambda: self._append(run.args["sample"], Kind.NOTED, body)))

    async def _append(self, reference: str, kind: Kind, body: Any) -> None:
        await self.keeper.append(self.keeper.resolve(reference), kind, body)

    async def sample_transfer(self, run: Execution) -> None:
        self._admit()
        run.started()
        args = run.args

        async def job() -> None:
            sample = self.keeper.resolve(args["sample"])
            measured = self.keeper.records[sample].measured
            if measured is None:
                raise UnknownSample(f"sample {sample}: no mass measured yet (SCOOP.WEIGH it)")
            body = Transferred(
                buyer=args["buyer"],
                mass_g=measured.mass_g,
                sigma_g=measured.sigma_g,
                at=self.now(),
                site=self.site(f"TRANSFERRED of {sample}", self.position.fix, self.clock.utc()),
                contract=args["contract"],
            )
            await self.keeper.append(sample, Kind.TRANSFERRED, body)
            await self.imaged(sample, [await self.picture("transfer", sample)])

        await _failing(self._do(job))


def sample_desk(
    config: FlightConfig,
    *,
    clock: Clock,
    events: EventLog,
    channels: ChannelStore,
    sink: CustodySink | None = None,
) -> SampleDesk:
    """Sample custody of the vehicle of ``config``: its ledger, its camera, their commands."""
    settings = config.samples.in_state_dir(config.state.dir)
    keeper = SampleKeeper(
        vehicle=config.vehicle, settings=settings, clock=clock, events=events, sink=sink
    )
    assert settings.images_dir is not None
    camera = CameraKeeper(
        settings=config.camera,
        images_dir=settings.images_dir,
        events=events,
        sink=lambda: keeper.sink,
    )
    position = RoverPosition(
        path=config.state.dir / FILE_NAME,
        clock=clock,
        events=events,
        max_age_s=settings.position_max_age_s,
    )
    return SampleDesk(
        keeper=keeper,
        camera=camera,
        position=position,
        channels=channels,
        clock=clock,
        events=events,
    )


def _around(hook: Callable[[Execution, Handler], Awaitable[None]], inner: Handler) -> Handler:
    async def handler(run: Execution) -> None:
        await hook(run, inner)

    return handler


async def _failing(work: Awaitable[object]) -> None:
    """``work``; its custody or camera problem as the command's failure."""
    try:
        await work
    except UnknownSample as exc:
        raise CommandFailed(Reason.INVALID_ARGUMENT, str(exc)) from None
    except (CustodyProblem, CameraProblem) as exc:
        raise CommandFailed(Reason.DEVICE_FAULT, str(exc)) from None
    except ValidationError as exc:  # an entry's body the format refuses: name the field
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise CommandFailed(Reason.INVALID_ARGUMENT, f"{where}: {first['msg']}") from None
    except ValueError as exc:
        raise CommandFailed(Reason.INVALID_ARGUMENT, str(exc).splitlines()[0]) from None
