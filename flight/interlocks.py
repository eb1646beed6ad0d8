"""Interlocks: the dictionary's rules that refuse a command unless telemetry allows it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from interface.condition import Condition, parse_condition
from interface.dictionary import Dictionary, InterlockDef


class Interlocks:
    """Parses every interlock of the dictionary once; answers which one refuses a command.

    A channel with no value yet (its board never heard from) does not satisfy a condition,
    so a command guarded by it is refused until telemetry arrives.
    """

    def __init__(self, *, dictionary: Dictionary) -> None:
        self._rules: dict[str, list[tuple[InterlockDef, Condition]]] = {}
        for interlock in dictionary.interlocks:
            condition = parse_condition(interlock.require, dictionary)
            for name in interlock.commands:
                self._rules.setdefault(name, []).append((interlock, condition))

    def refusal(
        self, command: str, values: Mapping[str, object], args: Mapping[str, Any] | None = None
    ) -> InterlockDef | None:
        """The first interlock of ``command`` with these (validated) ``args`` whose condition
        does not hold, or None. An interlock with a ``when`` guards only the arguments it
        names (``SCOOP.DUMP`` with ``target=OVEN``)."""
        for interlock, condition in self._rules.get(command, ()):
            if interlock.applies(args or {}) and not condition.evaluate(values):
                return interlock
        return None
