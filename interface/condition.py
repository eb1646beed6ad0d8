"""Telemetry conditions: ``<channel> <op> <value> [and ...]``, checked against the dictionary.

Shared by sequence ``WAIT`` steps and by interlocks. The grammar is deliberately small::

    condition = clause { "and" clause }
    clause    = channel op value
    op        = "==" | "!=" | "<" | "<=" | ">" | ">="
    value     = number | "true" | "false" | enum-word | word | '""'

Conjunction only: there is no ``or``, no ``not`` and no parentheses. Ordering operators
apply to ``float`` and ``int`` channels only; ``bool``, ``enum`` and ``str`` channels take
``==`` and ``!=``. A ``str`` value is one word without spaces, or ``""`` for the empty string.
"""

from __future__ import annotations

import difflib
import enum
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from interface.dictionary import ChannelDef, Dictionary

__all__ = ["OPERATORS", "Clause", "Condition", "ConditionError", "parse_condition"]

OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ORDERED_TYPES = ("float", "int")
_TOKEN = re.compile(r"==|!=|<=|>=|<|>|=|[^\s=!<>]+|\S")
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
Value = float | int | bool | str


class ConditionError(ValueError):
    """A condition that does not parse or does not fit the dictionary."""

    def __init__(self, text: str, detail: str) -> None:
        super().__init__(f"{detail} (in condition {text!r})")
        self.text = text
        self.detail = detail


@dataclass(frozen=True)
class Clause:
    """One comparison of a channel's latest value with a constant."""

    channel: str
    op: str
    value: Value

    def evaluate(self, values: Mapping[str, object]) -> bool:
        """Whether the channel's value satisfies the comparison; missing or ill-typed: False."""
        actual = values.get(self.channel)
        if isinstance(actual, enum.Enum):
            actual = actual.name
        expected = self.value
        if isinstance(expected, bool):
            if not isinstance(actual, int | float) or actual not in (0, 1):
                return False
            actual = bool(actual)
        elif isinstance(expected, int | float):
            if isinstance(actual, bool) or not isinstance(actual, int | float):
                return False
            if math.isnan(actual):
                return False
        elif not isinstance(actual, str):
            return False
        return bool(OPERATORS[self.op](actual, expected))

    def __str__(self) -> str:
        return f"{self.channel} {self.op} {format_value(self.value)}"


@dataclass(frozen=True)
class Condition:
    """A conjunction of clauses: true when every clause is true."""

    clauses: tuple[Clause, ...]

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels this condition reads, in order of first use, each once."""
        return tuple(dict.fromkeys(c.channel for c in self.clauses))

    def evaluate(self, values: Mapping[str, object]) -> bool:
        """Whether every clause holds for these latest channel values."""
        return all(clause.evaluate(values) for clause in self.clauses)

    def __str__(self) -> str:
        return " and ".join(str(c) for c in self.clauses)


def format_value(value: Value) -> str:
    """The canonical text of a condition or argument value (it parses back to the same value)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    if value == "":
        return '""'
    return str(value)


def parse_condition(text: str, dictionary: Dictionary) -> Condition:
    """Parse ``text`` and check it against ``dictionary``; raise :class:`ConditionError`."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not isinstance(dictionary, Dictionary):
        raise TypeError(f"dictionary must be a Dictionary, got {type(dictionary).__name__}")
    tokens = _TOKEN.findall(text)
    if not tokens:
        raise ConditionError(text, "empty condition")
    if "or" in tokens or "not" in tokens:
        raise ConditionError(text, "only 'and' is supported (no 'or', no 'not')")
    groups: list[list[str]] = [[]]
    for token in tokens:
        if token == "and":
            groups.append([])
        else:
            groups[-1].append(token)
    return Condition(tuple(_clause(text, group, dictionary) for group in groups))


def _clause(text: str, tokens: list[str], dictionary: Dictionary) -> Clause:
    if len(tokens) != 3:
        got = " ".join(tokens) or "nothing"
        raise ConditionError(text, f"expected '<channel> <op> <value>', got {got!r}")
    name, op, raw = tokens
    channel = dictionary.channel_index.get(name)
    if channel is None:
        hint = difflib.get_close_matches(name, dictionary.channel_index, n=1)
        maybe = f" (did you mean '{hint[0]}'?)" if hint else ""
        raise ConditionError(text, f"unknown channel {name!r}{maybe}")
    if op not in OPERATORS:
        raise ConditionError(text, f"unknown operator {op!r} (use {' '.join(OPERATORS)})")
    if op not in ("==", "!=") and channel.type not in _ORDERED_TYPES:
        raise ConditionError(text, f"{op} does not apply to {channel.type} channel {name}")
    return Clause(name, op, _value(text, channel, raw))


def _value(text: str, channel: ChannelDef, raw: str) -> Value:
    name = channel.name
    if channel.type in _ORDERED_TYPES:
        if not NUMBER.fullmatch(raw):
            raise ConditionError(text, f"{raw} is not a number ({name} is {channel.type})")
        number = float(raw)
        if not math.isfinite(number):
            raise ConditionError(text, f"{raw} is out of range for {name}")
        if channel.type == "float":
            return number
        if not number.is_integer():
            raise ConditionError(text, f"{raw} is not a whole number ({name} is int)")
        return int(number)
    if channel.type == "bool":
        if raw not in ("true", "false"):
            raise ConditionError(text, f"{raw} is not true or false ({name} is bool)")
        return raw == "true"
    if channel.type == "enum":
        if raw not in channel.choices:
            choices = ", ".join(channel.choices)
            raise ConditionError(text, f"{raw} is not one of {name}'s values: {choices}")
        return raw
    return "" if raw == '""' else raw
