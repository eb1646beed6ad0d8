"""The event log: newest at the bottom, coloured by severity, bounded."""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.widgets import RichLog

from ground import Event
from ground.console.levels import SEVERITY_STYLES
from ground.console.tables import LINES

MAX_EVENTS = 500


class StartupBacklog:
    """Tells a vehicle's start-up backlog from a replay after an outage, from the events alone.

    ``isru flight`` makes its first events (``BOOT``...) before it has connected to the broker,
    so they reach the ground from its outbox, marked ``replayed``, right after the run's first
    ``BROKER_CONNECTED``: nothing was lost, and the console does not call them replayed. An
    event is shown as replayed unless its ``seq`` is below the ``seq`` of the run's first
    ``BROKER_CONNECTED`` and no ``BROKER_LOST`` of the run has been seen (the vehicle could not
    connect at first: then its backlog is a real outage). A ``BROKER_CONNECTED`` is the run's
    first when the console has heard nothing live of that run before it; a live ``seq`` below
    the highest one heard starts a new run (the vehicle restarted).
    """

    def __init__(self) -> None:
        self.last_live = 0  #: the highest live seq heard in this run
        self.startup: int | None = None  #: seq of the run's first BROKER_CONNECTED
        self.lost = False  #: a BROKER_LOST of this run was seen

    def shows_replayed(self, event: Event) -> bool:
        """Whether the console marks ``event`` as replayed (it takes note of it, too)."""
        if not event.replayed:
            if event.seq < self.last_live:  # the numbering started again: a new run
                self.last_live, self.startup, self.lost = 0, None, False
            if event.id == "BROKER_CONNECTED" and self.last_live == 0:
                self.startup = event.seq
            self.last_live = max(self.last_live, event.seq)
            return False
        if event.id == "BROKER_LOST":
            self.lost = True
        backlog = self.startup is not None and event.seq < self.startup and not self.lost
        return not backlog


class EventLog(RichLog):
    """The last :data:`MAX_EVENTS` events, one (wrapped) entry each."""

    DEFAULT_CSS = """
    EventLog {
        height: 1fr;
        min-height: 3;
        border-top: solid $primary-darken-2;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(max_lines=MAX_EVENTS * 2, wrap=True, min_width=40, id=id)
        # Keyed on the scroll position, which moves with every line written: a big cache
        # only holds renders of lines long scrolled away (see ground.console.tables).
        self._line_cache.maxsize = LINES
        #: The events shown, oldest first (as many as the log keeps).
        self.entries: deque[Event] = deque(maxlen=MAX_EVENTS)
        self.shown: deque[Text] = deque(maxlen=MAX_EVENTS)
        self.backlog = StartupBacklog()
        self.border_title = "events"

    def add(self, event: Event) -> None:
        """Append one event at the bottom."""
        line = line_of(event, replayed=self.backlog.shows_replayed(event))
        self.entries.append(event)
        self.shown.append(line)
        self.write(line)

    def texts(self) -> list[str]:
        """The entries as plain text lines, oldest first."""
        return [line.plain for line in self.shown]


def line_of(event: Event, *, replayed: bool | None = None) -> Text:
    """``12:00:01 ERROR   LIMIT_RED elec.h2_pressure_kpa = ...``, styled by severity;
    `` (replayed)`` when ``replayed`` (default: the event's own flag)."""
    clock = event.time[11:19] if len(event.time) >= 19 else event.time
    style = SEVERITY_STYLES.get(event.severity, "")
    line = Text(f"{clock} ", style="dim")
    line.append(f"{event.severity[:4]:<4} ", style)
    line.append(f"{event.id} ", style or "bold")
    line.append(event.text)
    if event.replayed if replayed is None else replayed:
        line.append(" (replayed)", "dim italic")
    return line
