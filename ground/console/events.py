"""The event log: newest at the bottom, coloured by severity, bounded."""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.widgets import RichLog

from ground.console.levels import SEVERITY_STYLES
from ground.console.tables import LINES
from ground.messages import Event

MAX_EVENTS = 500


class EventLog(RichLog):
    """The last :data:`MAX_EVENTS` events, one (wrapped) entry each."""

    DEFAULT_CSS = """
    EventLog {
        height: 5;
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

    def add(self, event: Event) -> None:
        """Append one event at the bottom."""
        self.entries.append(event)
        self.write(line_of(event))

    def texts(self) -> list[str]:
        """The entries as plain text lines, oldest first."""
        return [line_of(e).plain for e in self.entries]


def line_of(event: Event) -> Text:
    """``12:00:01 ERROR   LIMIT_RED elec.h2_pressure_kpa = ...``, styled by severity."""
    clock = event.time[11:19] if len(event.time) >= 19 else event.time
    style = SEVERITY_STYLES.get(event.severity, "")
    line = Text(f"{clock} ", style="dim")
    line.append(f"{event.severity[:4]:<4} ", style)
    line.append(f"{event.id} ", style or "bold")
    line.append(event.text)
    if event.replayed:
        line.append(" (replayed)", "dim italic")
    return line
