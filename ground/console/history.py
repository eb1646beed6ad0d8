"""The command history: each command's verification stages as they arrive."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from rich.text import Text

from ground.console.tables import BoundedTable
from ground.messages import Ack

MAX_COMMANDS = 200
_COLUMNS = ("time", "command", "stages", "reason")
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


class CommandHistory(BoundedTable):
    """A row per command, newest at the bottom, the last :data:`MAX_COMMANDS` kept."""

    DEFAULT_CSS = """
    CommandHistory {
        height: 4;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(show_cursor=False, id=id)
        self.entries: OrderedDict[str, Entry] = OrderedDict()

    def on_mount(self) -> None:
        self.add_column("time", key="time", width=8)
        self.add_column("command", key="command", width=24)
        self.add_column("stages", key="stages", width=26)
        self.add_column("reason", key="reason")

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

    def row_texts(self, command_id: str) -> list[str]:
        """The cells of a command's row as plain text."""
        return [cell.plain for cell in self.get_row(command_id)]

    def _entry(self, command_id: str, text: str) -> Entry:
        entry = self.entries.get(command_id)
        if entry is None:
            entry = self.entries[command_id] = Entry(command_id, text)
            self.add_row(*self._cells(entry), key=command_id)
            while len(self.entries) > MAX_COMMANDS:
                old, _ = self.entries.popitem(last=False)
                self.remove_row(old)
            self.scroll_end(animate=False, immediate=False)
        return entry

    def _show(self, entry: Entry) -> None:
        for column, cell in zip(_COLUMNS, self._cells(entry), strict=True):
            self.update_cell(entry.id, column, cell)

    @staticmethod
    def _cells(entry: Entry) -> tuple[Text, Text, Text, Text]:
        stages = Text()
        for i, stage in enumerate(entry.stages or ["SENT"]):
            if i:
                stages.append("→", "dim")
            stages.append(stage, _STAGE_STYLES.get(stage, ""))
        return Text(entry.time), Text(entry.text), stages, Text(entry.reason, style="red")
