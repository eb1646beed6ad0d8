"""The link and vehicle status line: online/offline, mode, dictionary hash, last heard."""

from __future__ import annotations

import time

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ground import GroundClient

#: Seconds of silence after which "last heard" turns yellow, then red.
STALE_S = 3.0
LOST_S = 10.0
_MODE_STYLES = {"SAFE": "bold cyan", "IDLE": "bold green", "OPERATING": "bold white on green"}


class StatusBar(Widget):
    """One line: ``sil ● ONLINE  SAFE  ARMED SCOOP.DUMP  dict ok  heard 0.2 s ago`` and the
    broker's URL at the right (after a space on a line too narrow for it)."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $panel;
    }
    """

    vehicle: reactive[str] = reactive("")
    broker: reactive[str] = reactive("")
    state: reactive[str] = reactive("unknown")
    mode: reactive[str] = reactive("?")
    dict_state: reactive[str] = reactive("?")
    heard_s: reactive[float | None] = reactive(None)
    armed: reactive[str] = reactive("")

    def render(self) -> Text:
        return self.text()

    def follow(self, client: GroundClient) -> None:
        """Take the client's latest state (reactives: the bar redraws only on a change)."""
        values = client.values
        self.vehicle = client.vehicle
        self.broker = client.broker
        self.state = str(client.status.get("state", "unknown"))
        self.mode = str(client.status.get("mode") or values.get("core.mode") or "?")
        self.dict_state = dictionary_state(client)
        heard = client.last_heard
        self.heard_s = None if heard is None else round(time.monotonic() - heard, 1)
        self.armed = str(values.get("core.armed") or "")

    def text(self) -> Text:
        """What the bar shows, as styled text."""
        online = self.state == "online"
        line = Text(f" {self.vehicle} ", style="bold")
        line.append("● ONLINE" if online else f"● {self.state.upper()}", _state_style(self.state))
        line.append("  ")
        line.append(f" {self.mode} ", _MODE_STYLES.get(self.mode, "bold"))
        if self.armed:
            line.append("  ")
            line.append(f" ARMED {self.armed} ", "bold black on yellow")
        line.append("  dict ")
        if self.dict_state == "ok":
            line.append("ok", "green")
        elif self.dict_state == "mismatch":
            line.append(" MISMATCH ", "bold white on red")
        else:
            line.append("?", "yellow")
        line.append("  heard ")
        if self.heard_s is None:
            line.append("never", "bold red")
        else:
            style = "red" if self.heard_s > LOST_S else "yellow" if self.heard_s > STALE_S else ""
            line.append(f"{self.heard_s:.1f} s ago", style)
        if self.broker:
            gap = self.size.width - line.cell_len - len(self.broker) - 1
            line.append(" " * max(2, gap))
            line.append(self.broker, "dim")
        return line


def dictionary_state(client: GroundClient) -> str:
    """``ok`` when the vehicle's dictionary hash (in its status) is the one this console was
    built with, ``mismatch``, or ``?`` before a status with a hash."""
    found = client.status.get("dict_hash")
    if not found:
        return "?"
    return "ok" if found == client.expected.hash else "mismatch"


def _state_style(state: str) -> str:
    return {"online": "bold green", "offline": "bold white on red"}.get(state, "bold yellow")
