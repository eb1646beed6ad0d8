"""The ground's client of one vehicle: learn its dictionary, command it, watch it.

:class:`GroundClient` is built in layers, one module each: the connection and the vehicle's
latest state (:mod:`ground.session`), commanding (:mod:`ground.commanding`), and here the
waits on telemetry and events, and sequences.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ground.commanding import Commanding
from ground.messages import Event
from interface.condition import parse_condition


class GroundClient(Commanding):
    """One vehicle over one broker. An async context manager; every wait has a timeout.

    On entry it reads the vehicle's retained ``dict`` and ``status``; with
    ``check_dictionary`` (the default) a vehicle whose dictionary hash differs from this
    build's is refused with :class:`DictionaryMismatch`. ``username`` and ``password`` log in
    to the broker (a refused login raises :class:`LoginRefused`); an ``mqtts://`` broker is
    reached over TLS and verified against ``ca_file`` (default: the system's CAs).
    """

    # --- watching --------------------------------------------------------------------

    async def wait_telemetry(self, condition: str, *, timeout_s: float) -> dict[str, Any]:
        """Return the latest values once ``condition`` (e.g. ``elec.h2_pressure_kpa >= 150``)
        holds; ValueError for a condition the dictionary does not allow."""
        parsed = parse_condition(condition, self.dictionary or self.expected)
        await self._until(lambda: parsed.evaluate(self.values), timeout_s)
        return dict(self.values)

    async def await_event(
        self,
        event_id: str,
        *,
        timeout_s: float,
        where: Callable[[Event], bool] = lambda _: True,
        since: int = 0,
    ) -> Event:
        """The first event ``event_id`` (with event seq above ``since``) matching ``where``."""

        def found() -> Event | None:
            return next(
                (e for e in self.events if e.id == event_id and e.seq > since and where(e)), None
            )

        await self._until(lambda: found() is not None, timeout_s)
        event = found()
        assert event is not None
        return event

    # --- sequences -------------------------------------------------------------------

    async def upload_sequence(
        self, name: str, text: str, *, timeout_s: float | None = None
    ) -> None:
        await self.send(
            "SEQ.UPLOAD",
            {"name": name, "text": text},
            topic=self.topics.seq_upload,
            timeout_s=timeout_s,
        )

    async def start_sequence(self, name: str, *, timeout_s: float | None = None) -> int:
        """Start an uploaded sequence; returns the event mark for :meth:`wait_sequence_end`."""
        mark = max((e.seq for e in self.events), default=0)
        await self.send(
            "SEQ.START", {"name": name}, topic=self.topics.seq_start, timeout_s=timeout_s
        )
        return mark

    async def abort_sequence(self, *, timeout_s: float | None = None) -> None:
        await self.send("SEQ.ABORT", topic=self.topics.seq_abort, timeout_s=timeout_s)

    async def wait_sequence_end(
        self, name: str, *, since: int, timeout_s: float
    ) -> tuple[Event, dict[str, Any]]:
        """The SEQ_COMPLETED or SEQ_ABORTED event of ``name`` after event ``since``, and the
        sequence status as it then stands."""

        def ended() -> Event | None:
            return next(
                (
                    e
                    for e in self.events
                    if e.id in ("SEQ_COMPLETED", "SEQ_ABORTED")
                    and e.seq > since
                    and e.args.get("name") == name
                ),
                None,
            )

        await self._until(lambda: ended() is not None, timeout_s)
        event = ended()
        assert event is not None
        return event, dict(self.sequence_status)
