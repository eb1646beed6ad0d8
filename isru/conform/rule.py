"""What one ICD rule is: its id, the section that states it, its boards and its requirement."""

from __future__ import annotations

from dataclasses import dataclass

BOARDS = ("scoop", "elec", "oven")
ALL = frozenset(BOARDS)
SCOOP = frozenset({"scoop"})
ELEC = frozenset({"elec"})
OVEN = frozenset({"oven"})


@dataclass(frozen=True, slots=True)
class Rule:
    """One ICD rule the kit checks from the host side."""

    id: str
    section: str
    boards: frozenset[str]
    text: str
