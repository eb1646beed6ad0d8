"""This payload's dictionary: the commands, telemetry channels and events of the build."""

from __future__ import annotations

from interface.catalog.channels import BOARD_LIMITS, CHANNELS
from interface.catalog.commands import COMMANDS, HAZARDOUS, JOINT_LIMITS_DEG
from interface.catalog.events import EVENTS, INTERLOCKS
from interface.dictionary import Dictionary

__all__ = [
    "BOARD_LIMITS",
    "CHANNELS",
    "COMMANDS",
    "DICTIONARY",
    "EVENTS",
    "HAZARDOUS",
    "INTERLOCKS",
    "JOINT_LIMITS_DEG",
    "VERSION",
    "build",
]

VERSION = "0.1.0"


def build() -> Dictionary:
    """The dictionary of this build."""
    return Dictionary(
        version=VERSION,
        commands=tuple(COMMANDS),
        channels=tuple(CHANNELS),
        events=tuple(EVENTS),
        interlocks=tuple(INTERLOCKS),
    )


DICTIONARY = build()
