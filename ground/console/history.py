"""The command history: each command's verification stages as they arrive, and the whole
reason of a refusal on a line of its own."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from ground import Ack

MAX_COMMANDS = 200
#: Columns of a row: the time, the command (what is left of the width), the stages (as wide as
#: they are, at the right edge).
TIME_WIDTH = 8
_STAGE_STYLES = {"COMPLETED": "bold green", "FAILED": "bold white on red", "SENT": "dim"}


@dataclass(slots=True)
class Entry:
    """One command: what was sent, the stages heard so far, the reason if it failed."""

    id: str
    text: str
    time: str = ""
    stages: list[str] = field(default_factory=list)
    reason: str = ""

    @property
    def final(self) -> str:
        return self.stages[-1] if self.stages else "SENT"


class EntryView(Static):
    """One command's row: ``time  command  stages``, the command wrapped in its column, and
    under it, for FAILED, ``REASON: detail`` in red, wrapped over the whole width."""

    DEFAULT_CSS = """
    EntryView {
        height: auto;
        padding: 0 1 0 0;
    }
    """

    def __init__(self, entry: Entry) -> None:
        super().__init__(render_entry(entry))
        self.entry = entry

    def on_resize(self) -> None:
        # The newest row grew (its reason came): the end of the history moved. Scrolling there
        # when the update was made is not enough: on a loaded machine the layout that grows the
        # row can come after that scroll.
        history = self.parent
        if isinstance(history, CommandHistory) and history.children[-1:] == [self]:
            history.scroll_end(animate=False, immediate=True)

    def show(self) -> None:
        # Textual (8.2) counts a layout request only when none is pending, and keys a row's
        # cached height on that count: had the screen laid the history out while a request
        # was pending (a loaded machine, a row just mounted), this one would not count and
        # the row would keep its old height for good (a FAILED row one line high, its reason
        # unseen). Withdrawing the pending request makes this one count; it serves both.
        self._layout_required = False
        self.update(render_entry(self.entry))

    def lines(self) -> list[str]:
        """What the row shows now, as plain text lines (trailing blanks removed)."""
        width, height = self.size
        if not width:
            return []
        return [s.text.rstrip() for s in self.render_lines(self.region.reset_offset)][:height]


def render_entry(entry: Entry) -> RenderableType:
    """The renderable of one entry (see :class:`EntryView`)."""
    stages = stages_text(entry.stages)
    row = Table.grid(padding=(0, 1), expand=True)
    row.add_column(width=TIME_WIDTH, no_wrap=True)
    row.add_column(ratio=1, overflow="fold")
    row.add_column(width=stages.cell_len, no_wrap=True)
    row.add_row(Text(entry.time, style="dim"), Text(entry.text), stages)
    if not entry.reason:
        return row
    reason = Text(entry.reason, style="red", overflow="fold")
    return Group(row, Padding(reason, (0, 0, 0, TIME_WIDTH + 1)))


def stages_text(stages: list[str]) -> Text:
    text = Text()
    for i, stage in enumerate(stages or ["SENT"]):
        if i:
            text.append("→", "dim")
        text.append(stage, _STAGE_STYLES.get(stage, ""))
    return text


class CommandHistory(VerticalScroll):
    """A row per command, newest at the bottom, the last :data:`MAX_COMMANDS` kept.

    A row is redrawn only when its command changes; a new row scrolls the history to the end.
    """

    DEFAULT_CSS = """
    CommandHistory {
        height: 1fr;
        min-height: 3;
        border-top: solid $primary-darken-2;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entries: OrderedDict[str, Entry] = OrderedDict()
        self._views: dict[str, EntryView] = {}
        self.border_title = "commands"

    def sent(self, command_id: str, text: str, time: str = "") -> None:
        """A command this console sent (its acks may already be here)."""
        entry = self._entry(command_id, text)
        entry.text = text
        entry.time = entry.time or time
        self._show(entry)

    def ack(self, ack: Ack) -> None:
        """One verification stage of a command (of this console or another)."""
        entry = self._entry(ack.id, ack.name)
        if ack.stage not in entry.stages:
            entry.stages.append(ack.stage)
        if not entry.time:
            entry.time = ack.time[11:19]
        if ack.stage == "FAILED":
            entry.reason = f"{ack.reason}: {ack.detail}" if ack.detail else str(ack.reason)
        self._show(entry)

    def latest(self, name: str) -> Entry | None:
        """The newest entry whose command is ``name``."""
        return next(
            (e for e in reversed(self.entries.values()) if e.text.split(" ")[0] == name), None
        )

    def view(self, command_id: str) -> EntryView:
        return self._views[command_id]

    def _entry(self, command_id: str, text: str) -> Entry:
        entry = self.entries.get(command_id)
        if entry is None:
            entry = self.entries[command_id] = Entry(command_id, text)
            view = self._views[command_id] = EntryView(entry)
            self.mount(view)
            while len(self.entries) > MAX_COMMANDS:
                old, _ = self.entries.popitem(last=False)
                self._views.pop(old).remove()
        return entry

    def _show(self, entry: Entry) -> None:
        self._views[entry.id].show()
        if entry is next(reversed(self.entries.values())):
            # The newest row is new or grew (a reason): keep the end in sight.
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True)
