"""A visible y/n question: ARM and FIRE a hazardous command, or quit while it matters."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label


class ConfirmScreen(ModalScreen[bool]):
    """``ARM and FIRE SCOOP.DUMP? y/n``: dismissed with True on y, False on n or escape.

    ``keys`` is the last line, what y and n do."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Arm and fire"),
        Binding("n,escape", "answer(False)", "Cancel"),
    ]

    DEFAULT_CSS = """
    ConfirmScreen {
        align: center middle;
    }
    ConfirmScreen > Vertical {
        width: 60;
        height: auto;
        border: thick $error;
        background: $surface;
        padding: 1 2;
    }
    ConfirmScreen Label {
        width: 1fr;
    }
    ConfirmScreen #question {
        text-style: bold;
        color: $error;
    }
    """

    def __init__(
        self,
        question: str,
        detail: str = "",
        *,
        keys: str = "y: arm and fire    n / escape: cancel",
    ) -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, id="question")
            if self.detail:
                yield Label(self.detail, id="detail")
            yield Label(self.keys, id="keys")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


def quit_question(status: dict[str, Any], *, owns_stack: bool) -> tuple[str, str] | None:
    """The question and its detail to ask before quitting, or None to quit at once:
    ``status`` is the vehicle's sequence status; ``owns_stack``: quitting stops the SIL stack."""
    running = status.get("name") if status.get("state") == "RUNNING" else None
    if owns_stack:
        detail = "Quitting stops the flight software, the simulator and the broker"
        if running:
            detail += f", and sequence {running}, which is running"
        return "Quit and stop the SIL stack? y/n", detail + "."
    if running:
        return (
            f"Quit while sequence {running} runs? y/n",
            "It goes on onboard; this console will not show it.",
        )
    return None
