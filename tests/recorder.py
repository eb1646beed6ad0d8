"""An event log on a manual clock that keeps what it emits, for the flight unit tests."""

from __future__ import annotations

from flight.clock import ManualClock
from flight.events import Event, EventLog
from interface.catalog import DICTIONARY

WINDOW_S = 10.0
"""The ARM window the unit tests give ``Arming``."""


class Recorder:
    """An event log on a manual clock, with every event it emits kept in order."""

    def __init__(self, clock: ManualClock | None = None) -> None:
        self.clock = clock or ManualClock()
        self.log = EventLog(dictionary=DICTIONARY, clock=self.clock)
        self.events: list[Event] = []
        self.log.subscribe(self.events.append)

    def of(self, event_id: str) -> list[Event]:
        return [e for e in self.events if e.id == event_id]

    def ids(self) -> list[str]:
        return [e.id for e in self.events]
