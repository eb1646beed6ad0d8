"""Sequence progress from the vehicle's ``seq/status``: name, line, step/steps, state; and a
sequence this console uploaded, from its upload until it runs."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

_OUTCOME_STYLES = {"COMPLETED": "bold green", "ABORTED": "bold red"}
BAR = 12


class SequencePanel(Widget):
    """Three lines: ``seq demo line 12 step 3/7``, a bar with the state or outcome, and the
    sequences uploaded onboard.

    A sequence this console uploaded is shown as ``READY`` (step 0 of its steps) until the
    vehicle's ``seq/status`` says it runs: the vehicle publishes ``seq/status`` only when a
    sequence starts, steps or ends, not on an upload.
    """

    DEFAULT_CSS = """
    SequencePanel {
        height: 3;
    }
    """

    status: reactive[dict[str, Any]] = reactive(dict, always_update=True)
    #: The latest sequence this console uploaded and saw COMPLETED: (name, steps), until the
    #: vehicle runs it (or another upload replaces it).
    ready: reactive[tuple[str, int] | None] = reactive(None)
    #: The last ``:seq predict`` of a file (``ground.console.predict.summary``), shown
    #: under the uploaded sequences.
    prediction: reactive[str] = reactive("")

    def render(self) -> Text:
        return self.text()

    def follow(self, status: dict[str, Any]) -> None:
        """A new ``seq/status``: once the ready sequence runs (or ran), it is no longer ready."""
        if self.ready is not None and status.get("name") == self.ready[0]:
            self.ready = None
        self.status = status

    def uploaded(self, name: str, steps: int) -> None:
        """This console's upload of ``name`` completed."""
        self.ready = (name, steps)

    def text(self) -> Text:
        """What the panel shows, as styled text."""
        status, ready = self.status, self.ready
        running = status.get("state") == "RUNNING"
        if ready is not None and not running:
            line = _head(ready[0], f" uploaded, {ready[1]} steps\n")
            line.append("░" * BAR, "cyan")
            line.append(" READY", "bold yellow")
        elif not status.get("name"):
            line = Text("seq: none run yet\n", style="dim")
        else:
            line = _progress(status)
        names = sorted({*(status.get("uploaded") or ()), *([ready[0]] if ready else [])})
        line.append("\n")
        line.append(f"uploaded: {', '.join(names)}" if names else "uploaded: none", "dim")
        if self.prediction:
            line.append(f"\n{self.prediction}", "italic")
        return line

    def watch_prediction(self, prediction: str) -> None:
        """A prediction takes the lines it needs under the three."""
        self.styles.height = "auto" if prediction else 3


def _head(name: str, rest: str) -> Text:
    line = Text("seq ", style="bold")
    line.append(name, "bold")
    line.append(rest)
    return line


def _progress(status: dict[str, Any]) -> Text:
    step, steps = int(status.get("step", 0)), int(status.get("steps", 0))
    line = _head(str(status["name"]), f" line {status.get('line', 0)} step {step}/{steps}\n")
    filled = round(BAR * step / steps) if steps else 0
    line.append("█" * filled + "░" * (BAR - filled), "cyan")
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
