"""The sequence file format: parse a sequence and check it against the dictionary.

See docs/sequences.md for the grammar and the semantics. :func:`parse_sequence` never raises
anything but :class:`SequenceError` on any text; the error lists every problem, by line.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

from interface.condition import NUMBER, ConditionError, parse_condition
from interface.dictionary import ArgumentError, CommandDef, Dictionary
from interface.sequence_steps import (
    AbsoluteTag,
    CommandStep,
    Problem,
    RelativeTag,
    Sequence,
    SequenceError,
    Step,
    WaitStep,
    format_duration,
    format_problems,
    format_sequence,
)

__all__ = [
    "MAX_BYTES",
    "MAX_LINES",
    "MAX_LINE_CHARS",
    "AbsoluteTag",
    "CommandStep",
    "Problem",
    "RelativeTag",
    "Sequence",
    "SequenceError",
    "Step",
    "WaitStep",
    "format_duration",
    "format_problems",
    "format_sequence",
    "parse_sequence",
    "read_value",
]

MAX_BYTES = 1_000_000
MAX_LINES = 10_000
MAX_LINE_CHARS = 500
ARM = "CORE.ARM"
_DURATION = re.compile(r"([0-9]{2}):([0-5][0-9]):([0-5][0-9])(?:\.([0-9]{1,3}))?", re.ASCII)
_ABSOLUTE = re.compile(
    r"A([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?)(?:Z|\+00:00)",
    re.ASCII,
)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*", re.ASCII)
_ARG_NAME = re.compile(r"[a-z][a-z0-9_]*", re.ASCII)
_TAG_LIKE = re.compile(r"[A-Za-z]?\d")  # \d: a non-ASCII digit gets "bad time tag"


class _Bad(Exception):
    """One problem of the line being parsed."""


def parse_sequence(text: str, *, name: str, dictionary: Dictionary) -> Sequence:
    """Parse and check ``text``; raise :class:`SequenceError` listing every problem."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty str, got {name!r}")
    if not isinstance(dictionary, Dictionary):
        raise TypeError(f"dictionary must be a Dictionary, got {type(dictionary).__name__}")
    text = text.removeprefix("\ufeff")  # a byte-order mark some editors write
    size = len(text.encode("utf-8", "surrogatepass"))
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    if size > MAX_BYTES or len(lines) > MAX_LINES:
        message = f"file is {size} bytes and {len(lines)} lines; the limits are "
        raise SequenceError(name, [Problem(0, message + f"{MAX_BYTES} bytes, {MAX_LINES} lines")])
    parser = _Parser(dictionary)
    for number, line in enumerate(lines, start=1):
        try:
            parser.line(number, line.removesuffix("\r"))
        except _Bad as exc:
            parser.problems.append(Problem(number, str(exc)))
    if not parser.steps and not parser.problems:
        parser.problems.append(Problem(0, "no steps: the file has only comments and blank lines"))
    if parser.problems:
        raise SequenceError(name, parser.problems)
    return Sequence(name, tuple(parser.steps))


class _Parser:
    def __init__(self, dictionary: Dictionary) -> None:
        self.dictionary = dictionary
        self.steps: list[Step] = []
        self.problems: list[Problem] = []
        self.last_absolute: tuple[int, datetime] | None = None
        self.previous: Step | None = None  # None after a bad line too, so ARM must be valid

    def line(self, number: int, line: str) -> None:
        self.previous, previous = None, self.previous
        if len(line) > MAX_LINE_CHARS:
            raise _Bad(f"line is {len(line)} characters long; the limit is {MAX_LINE_CHARS}")
        bad = [c for c in line if c != "\t" and unicodedata.category(c) in ("Cc", "Cf", "Cs")]
        if bad:
            raise _Bad(f"control or invisible character U+{ord(bad[0]):04X} in the line")
        code = line.split("#", 1)[0].strip()
        if not code:
            self.previous = previous
            return
        tokens = code.split()
        if tokens[0] == "WAIT":
            step: Step = self.wait(number, code, tokens)
        else:
            step = self.command(number, code, tokens, previous)
        self.steps.append(step)
        self.previous = step

    def wait(self, number: int, code: str, tokens: list[str]) -> WaitStep:
        if "TIMEOUT" not in tokens:
            raise _Bad("WAIT needs 'TIMEOUT hh:mm:ss' after its condition")
        at = len(tokens) - 1 - tokens[::-1].index("TIMEOUT")
        if len(tokens) - at != 2:
            raise _Bad("TIMEOUT takes one duration, hh:mm:ss[.fff]")
        timeout = _duration(tokens[at + 1], tokens[at + 1], "TIMEOUT")
        if timeout <= 0:
            raise _Bad("TIMEOUT must be longer than 00:00:00")
        try:
            condition = parse_condition(" ".join(tokens[1:at]), self.dictionary)
        except ConditionError as exc:
            raise _Bad(f"WAIT: {exc.detail}") from None
        return WaitStep(number, code, condition, timeout)

    def command(self, number: int, code: str, tokens: list[str], previous: Step | None) -> Step:
        tag: RelativeTag | AbsoluteTag = RelativeTag(0.0)
        if tokens[0] not in self.dictionary.command_index and _TAG_LIKE.match(tokens[0]):
            tag, tokens = self.tag(number, tokens[0]), tokens[1:]
        if not tokens:
            raise _Bad("a time tag needs a command after it")
        if tokens[0] == "WAIT":
            raise _Bad("WAIT takes no time tag")
        command = self.dictionary.command_index.get(tokens[0])
        if command is None:
            hint = difflib.get_close_matches(tokens[0], self.dictionary.command_index, n=1)
            maybe = f" (did you mean {hint[0]}?)" if hint else ""
            raise _Bad(f"unknown command {tokens[0]!r}{maybe}")
        if not command.in_sequences:
            raise _Bad(f"{command.name} cannot be run from a sequence")
        args = _arguments(command, tokens[1:])
        try:
            args = command.validate_args(args)
        except ArgumentError as exc:
            raise _Bad(str(exc)) from None
        if command.is_hazardous(args) and not (
            isinstance(previous, CommandStep)
            and previous.name == ARM
            and previous.args.get("command") == command.name
        ):
            why = "" if command.hazardous else " with " + " ".join(tokens[1:])
            raise _Bad(
                f"{command.name} is hazardous{why}: the step before it must be "
                f"'{ARM} command={command.name}'"
            )
        return CommandStep(number, code, tag, command.name, args)

    def tag(self, number: int, token: str) -> RelativeTag | AbsoluteTag:
        if token.startswith("R"):
            return RelativeTag(_duration(token[1:], token, "time tag"))
        match = _ABSOLUTE.fullmatch(token)
        if match is None:
            raise _Bad(
                f"bad time tag {token!r}: use Rhh:mm:ss[.fff] or AYYYY-MM-DDThh:mm:ss[.ffffff]Z"
            )
        try:
            when = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
        except ValueError as exc:
            raise _Bad(f"bad time tag {token!r}: {exc}") from None
        if self.last_absolute is not None and when < self.last_absolute[1]:
            line, before = self.last_absolute
            raise _Bad(f"{token} goes back in time: line {line} is {AbsoluteTag(before)}")
        self.last_absolute = (number, when)
        return AbsoluteTag(when)


def _duration(text: str, shown: str, what: str) -> float:
    match = _DURATION.fullmatch(text)
    if match is None:
        hint = "Rhh:mm:ss[.fff]" if what == "time tag" else "hh:mm:ss[.fff]"
        raise _Bad(f"bad {what} {shown!r}: use {hint} (hours 00-99)")
    hours, minutes, seconds, fraction = match.groups()
    millis = int((fraction or "").ljust(3, "0"))
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds) + millis / 1000


def read_value(raw: str) -> bool | int | float | str:
    """One written argument value: ``true``/``false``, a number (an int unless written with
    ``.`` or an exponent) or a bare word. ValueError says what is wrong with it."""
    if raw in ("true", "false"):
        return raw == "true"
    if NUMBER.fullmatch(raw):
        value = float(raw) if any(c in raw for c in ".eE") else int(raw)
        if not math.isfinite(value) or abs(value) > 1e300:
            raise ValueError(f"{raw} is out of range")
        return value
    if _WORD.fullmatch(raw):
        return raw
    raise ValueError(f"{raw!r} is not a number, true/false or a word")


def _arguments(command: CommandDef, tokens: list[str]) -> dict[str, Any]:
    """``name=value`` words as typed values; the dictionary's types decide which fit."""
    types = {a.name: a.type for a in command.args}
    args: dict[str, Any] = {}
    for token in tokens:
        key, eq, raw = token.partition("=")
        if not eq or not _ARG_NAME.fullmatch(key):
            raise _Bad(f"{command.name}: expected name=value, got {token!r}")
        if key in args:
            raise _Bad(f"{command.name}: {key}: given twice")
        kind = types.get(key)
        try:
            value = read_value(raw)
        except ValueError as exc:
            raise _Bad(f"{command.name}: {key}: {exc}") from None
        wanted = {
            "int": (int,),
            "float": (int, float),
            "bool": (bool,),
            "enum": (str,),
            "str": (str,),
        }
        if kind is not None and (
            not isinstance(value, wanted[kind]) or (kind != "bool" and isinstance(value, bool))
        ):
            raise _Bad(f"{command.name}: {key}: expected {kind}, got {raw!r}")
        args[key] = value
    return args
