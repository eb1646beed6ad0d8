"""Limit levels and the text of a channel value, from the dictionary: no widgets here."""

from __future__ import annotations

from typing import Any, Literal

from interface.dictionary import ChannelDef

Level = Literal["red", "yellow", "green", "none"]

#: The Rich style of each level: what the operator sees in the telemetry tables.
LEVEL_STYLES: dict[Level, str] = {
    "red": "bold white on red",
    "yellow": "bold black on yellow",
    "green": "green",
    "none": "",
}

#: The Rich style of each event severity in the event log.
SEVERITY_STYLES = {
    "DIAGNOSTIC": "dim",
    "INFO": "cyan",
    "WARNING": "bold yellow",
    "ERROR": "bold red",
    "FATAL": "bold white on red",
}


def level(channel: ChannelDef, value: Any) -> Level:
    """The limit level of ``value``: as flight classifies it (beyond a limit, not at it).

    Bools count as 0/1, so a ``red_high`` of 0.5 makes a bool red when true. A channel
    without limits, or a value that is not a number, has level ``none``.
    """
    limits = channel.limits
    number = as_number(value)
    if limits is None or number is None:
        return "none"
    if (limits.red_high is not None and number > limits.red_high) or (
        limits.red_low is not None and number < limits.red_low
    ):
        return "red"
    if (limits.yellow_high is not None and number > limits.yellow_high) or (
        limits.yellow_low is not None and number < limits.yellow_low
    ):
        return "yellow"
    return "green"


def as_number(value: Any) -> float | None:
    """``value`` as a float if it is a number or a bool (True is 1), else None: text, null, a
    list, or an integer beyond a float's range (any broker account may publish telemetry)."""
    if not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def format_value(channel: ChannelDef, value: Any) -> str:
    """A value as the console shows it: floats to 6 significant places, bools as words."""
    if value is None:
        return "-"
    if isinstance(value, bool) or channel.type == "bool":
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
