"""The help screen: the keys, the command syntax and the local verbs."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ground.console.parse import LOCAL_VERBS

KEYS = (
    ("F1  ?", "this help"),
    ("F2 F3 F4  1 2 3", "telemetry tabs (scoop, elec, core)"),
    ("F5  p", "plot / unplot the highlighted channel"),
    ("/  :", "go to the command line (':' starts a local verb)"),
    ("escape", "leave the command line for the telemetry table"),
    ("tab  →", "accept the completion in the command line"),
    ("↑ ↓", "recall earlier command lines"),
    ("ctrl+q  q", "quit (q outside the command line)"),
)


def help_text() -> str:
    lines = ["[b]Keys[/b]"]
    lines += [f"  [b]{key:<16}[/b] {escape(what)}" for key, what in KEYS]
    lines += [
        "",
        "[b]Commands[/b]  NAME arg=value ...   e.g. SCOOP.DIG depth_mm=30",
        "  arguments are checked against the dictionary before sending;",
        "  hazardous ones ask y/n, then send CORE.ARM command=NAME and the command.",
        "",
        "[b]Local verbs[/b]",
    ]
    lines += [f"  [b]:{verb:<7}[/b] {escape(what)}" for verb, what in LOCAL_VERBS.items()]
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    """Shown over the console; any of escape, q, F1 or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,f1,question_mark", "close", "Close"),
    ]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 78;
        max-height: 22;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(help_text())

    def action_close(self) -> None:
        self.dismiss(None)
