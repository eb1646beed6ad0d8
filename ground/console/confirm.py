"""The visible confirmation of a hazardous command: ARM and FIRE, y or n."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label


class ConfirmScreen(ModalScreen[bool]):
    """``ARM and FIRE SCOOP.DUMP? y/n``: dismissed with True on y, False on n or escape."""

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
    ConfirmScreen #question {
        text-style: bold;
        color: $error;
    }
    """

    def __init__(self, question: str, detail: str = "") -> None:
        super().__init__()
        self.question = question
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, id="question")
            if self.detail:
                yield Label(self.detail, id="detail")
            yield Label("y: arm and fire    n / escape: cancel", id="keys")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
