"""The command line: completion from the dictionary, recall, and inline errors."""

from __future__ import annotations

from collections import deque
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import Input, Static

from ground.console.parse import CommandLineError, Parsed, complete, parse_command, split
from interface.dictionary import Dictionary

RECALL = 100


class CommandSuggester(Suggester):
    """Completes command names, argument names, choices and local verbs."""

    def __init__(self, dictionary: Dictionary) -> None:
        super().__init__(use_cache=True, case_sensitive=True)
        self.dictionary = dictionary

    async def get_suggestion(self, value: str) -> str | None:
        return complete(value, self.dictionary)


class CommandLine(Input):
    """An Input with tab completion and ↑/↓ recall of earlier lines."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "complete", "Complete", show=False),
        Binding("up", "recall(-1)", "Earlier", show=False),
        Binding("down", "recall(1)", "Later", show=False),
        Binding("escape", "app.focus_telemetry", "Leave", show=False),
    ]

    DEFAULT_CSS = """
    CommandLine {
        border: none;
        height: 1;
        padding: 0 1;
    }
    CommandLine:focus {
        border: none;
        background: $boost;
    }
    """

    def __init__(self, dictionary: Dictionary, *, id: str | None = None) -> None:
        super().__init__(
            placeholder="command (F1 help), e.g. CORE.NOOP",
            suggester=CommandSuggester(dictionary),
            id=id,
        )
        self.recalled: deque[str] = deque(maxlen=RECALL)
        self._recall_at = 0

    def remember(self, line: str) -> None:
        if line and (not self.recalled or self.recalled[-1] != line):
            self.recalled.append(line)
        self._recall_at = len(self.recalled)

    def action_complete(self) -> None:
        self.action_cursor_right()
        self.cursor_position = len(self.value)

    def action_recall(self, step: int) -> None:
        if not self.recalled:
            return
        self._recall_at = max(0, min(len(self.recalled), self._recall_at + step))
        self.value = "" if self._recall_at == len(self.recalled) else self.recalled[self._recall_at]
        self.cursor_position = len(self.value)


class CommandBar(Vertical):
    """The command line and, under it, one line of feedback (errors in red)."""

    DEFAULT_CSS = """
    CommandBar {
        height: 2;
    }
    CommandBar > #feedback {
        height: 1;
        padding: 0 1;
    }
    CommandBar > #feedback.error {
        color: $error;
        text-style: bold;
    }
    """

    class Entered(Message):
        """A checked command to send."""

        def __init__(self, parsed: Parsed) -> None:
            super().__init__()
            self.parsed = parsed

    class Local(Message):
        """A local verb: ``:plot elec.o2_pressure_kpa`` as ``["plot", "elec.o2..."]``."""

        def __init__(self, words: list[str]) -> None:
            super().__init__()
            self.words = words

    def __init__(self, dictionary: Dictionary, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.dictionary = dictionary
        self.line = CommandLine(dictionary, id="command-line")
        self.feedback = Static("", id="feedback")
        #: The last message shown under the line, and whether it is an error.
        self.feedback_text = ""
        self.is_error = False

    def compose(self) -> ComposeResult:
        yield self.line
        yield self.feedback

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            return
        self.line.remember(text)
        try:
            if text.startswith(":"):
                message: Message = self.Local(split(text[1:]))
            else:
                message = self.Entered(parse_command(text, self.dictionary))
        except CommandLineError as exc:
            self.show(str(exc), error=True)
            return  # the line stays for the operator to fix
        self.line.value = ""
        self.show("")
        self.post_message(message)

    def show(self, text: str, *, error: bool = False) -> None:
        """One line under the command line; errors in red."""
        self.feedback_text, self.is_error = text, error
        self.feedback.set_class(error, "error")
        self.feedback.update(Text(text))
