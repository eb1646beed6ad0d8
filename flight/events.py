"""The event log: formatted, numbered events with a severity, fanned out to subscribers."""

from __future__ import annotations

import asyncio
import string
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flight.clock import Clock, within
from interface.dictionary import Dictionary, Severity


@dataclass(frozen=True, slots=True)
class Event:
    time: datetime
    seq: int
    severity: Severity
    id: str
    text: str
    args: dict[str, Any] = field(default_factory=dict)


class _Lenient(string.Formatter):
    def get_value(self, key: int | str, args: Any, kwargs: Any) -> Any:
        return kwargs.get(key, "?") if isinstance(key, str) else "?"


_formatter = _Lenient()


class EventLog:
    """Emits the dictionary's events; keeps the recent ones; tells every subscriber."""

    def __init__(self, *, dictionary: Dictionary, clock: Clock, history: int = 1000) -> None:
        if history < 1:
            raise ValueError(f"history: must be at least 1, got {history}")
        self._dictionary = dictionary
        self._clock = clock
        self._seq = 0
        self.recent: deque[Event] = deque(maxlen=history)
        self._subscribers: list[Callable[[Event], None]] = []

    def emit(self, event_id: str, **args: Any) -> Event:
        """Emit the event ``event_id`` with its template's fields."""
        definition = self._dictionary.event_index.get(event_id)
        if definition is None:
            raise ValueError(f"event_id: {event_id!r} is not in the dictionary")
        self._seq += 1
        text = _formatter.format(definition.template, **args)
        event = Event(self._clock.utc(), self._seq, definition.severity, event_id, text, args)
        self.recent.append(event)
        for subscriber in tuple(self._subscribers):
            subscriber(event)
        return event

    def subscribe(self, subscriber: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``subscriber`` with every event from now on; returns its remover."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    async def wait_for(
        self,
        event_id: str,
        *,
        timeout_s: float,
        where: Callable[[Event], bool] = lambda _: True,
    ) -> Event:
        """The next ``event_id`` event for which ``where`` holds.

        ``timeout_s`` counts mission-clock time, like every other wait onboard.
        """
        if event_id not in self._dictionary.event_index:
            raise ValueError(f"event_id: {event_id!r} is not in the dictionary")
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()

        def check(event: Event) -> None:
            if event.id == event_id and where(event) and not future.done():
                future.set_result(event)

        remove = self.subscribe(check)
        try:
            return await within(self._clock, timeout_s, future)
        finally:
            remove()
