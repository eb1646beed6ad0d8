"""Sequence progress from the vehicle's ``seq/status``: name, line, step/steps, state."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

_OUTCOME_STYLES = {"COMPLETED": "bold green", "ABORTED": "bold red"}


class SequencePanel(Widget):
    """Two lines: ``seq demo line 12 step 3/7`` and a bar with the state or outcome."""

    DEFAULT_CSS = """
    SequencePanel {
        height: 2;
    }
    """

    status: reactive[dict[str, Any]] = reactive(dict, always_update=True)

    def render(self) -> Text:
        return self.text()

    def text(self) -> Text:
        """What the panel shows, as styled text."""
        status = self.status
        if not status.get("name"):
            return Text("seq: none run yet", style="dim")
        step, steps = int(status.get("step", 0)), int(status.get("steps", 0))
        line = Text("seq ", style="bold")
        line.append(str(status["name"]), "bold")
        line.append(f" line {status.get('line', 0)} step {step}/{steps}\n")
        width = 12
        filled = round(width * step / steps) if steps else 0
        line.append("█" * filled + "░" * (width - filled), "cyan")
        outcome = status.get("outcome")
        if status.get("state") == "RUNNING":
            line.append(" RUNNING", "bold cyan")
        elif outcome:
            line.append(f" {outcome}", _OUTCOME_STYLES.get(str(outcome), "bold"))
            if status.get("reason"):
                line.append(f" {status['reason']}", "red")
        else:
            line.append(f" {status.get('state', '?')}")
        return line
