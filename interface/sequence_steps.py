"""A parsed sequence: its steps, the problems of a file, and its canonical text.

:mod:`interface.sequence` parses the text into these (and re-exports them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from interface.condition import Condition, format_value


@dataclass(frozen=True)
class RelativeTag:
    """Run this long after the previous step finished."""

    delay_s: float

    def __str__(self) -> str:
        return "R" + format_duration(self.delay_s)


@dataclass(frozen=True)
class AbsoluteTag:
    """Run at this UTC time (at once if it has passed)."""

    time: datetime

    def __str__(self) -> str:
        return "A" + self.time.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class CommandStep:
    line: int
    text: str
    tag: RelativeTag | AbsoluteTag
    name: str
    args: dict[str, Any] = field(hash=False)


@dataclass(frozen=True)
class WaitStep:
    line: int
    text: str
    condition: Condition
    timeout_s: float


Step = CommandStep | WaitStep


@dataclass(frozen=True)
class Sequence:
    name: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Problem:
    """One problem of a sequence file; line 0 is the file as a whole."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class SequenceError(ValueError):
    """A sequence file with problems: ``problems`` lists every one of them."""

    def __init__(self, name: str, problems: list[Problem]) -> None:
        super().__init__(f"sequence {name}:\n{format_problems(problems)}")
        self.name = name
        self.problems = problems


def format_problems(problems: Iterable[Problem]) -> str:
    """One problem a line, ``line N: message``."""
    return "\n".join(str(p) for p in problems)


def format_duration(seconds: float) -> str:
    """``hh:mm:ss`` with ``.fff`` when there are milliseconds."""
    ms = round(seconds * 1000)
    text = f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}"
    return text + (f".{ms % 1000:03d}" if ms % 1000 else "")


def format_sequence(sequence: Sequence) -> str:
    """The canonical text of a sequence; it parses back to the same steps."""
    lines = []
    for step in sequence.steps:
        if isinstance(step, WaitStep):
            lines.append(f"WAIT {step.condition} TIMEOUT {format_duration(step.timeout_s)}")
        else:
            args = "".join(f" {k}={format_value(v)}" for k, v in step.args.items())
            lines.append(f"{step.tag} {step.name}{args}")
    return "\n".join(lines) + "\n"
