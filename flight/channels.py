"""The current value of every telemetry channel, fed by packets, watched by conditions."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import operator
import typing
from collections.abc import Callable, Mapping
from typing import Any

from flight.clock import Clock, within

Values = Mapping[str, Any]
PacketListener = Callable[[str, dict[str, Any]], None]


#: How a snapshot class's fields become channels, per (board, class), worked out once: runs
#: of fields of plain types (taken as they are, by one getter) and single fields typed as
#: an enum (a flag word becomes a bool per flag, an enum its member's name).
_Step = tuple[Callable[[Any], tuple[Any, ...]], tuple[str, ...]] | tuple[str, str]
_plans: dict[tuple[str, type], tuple[_Step, ...]] = {}
#: Per (board, flag word class): each flag's channel and bit, worked out once.
_flags: dict[tuple[str, type], tuple[tuple[str, int], ...]] = {}


def snapshot_values(board: str, snapshot: object) -> dict[str, Any]:
    """A board telemetry snapshot as channel values: enums by name, flag words as bools."""
    cls = type(snapshot)
    plan = _plans.get((board, cls)) or _plan(board, cls)
    values: dict[str, Any] = {}
    for first, second in plan:
        if isinstance(first, str):  # a field typed as an enum: (name, channel)
            value, channel = getattr(snapshot, first), typing.cast(str, second)
            if isinstance(value, enum.IntFlag):
                bits = value._value_
                for flag, bit in _flags.get((board, type(value))) or _flag_plan(board, value):
                    values[flag] = bits & bit == bit
            elif isinstance(value, enum.Enum):
                values[channel] = value._name_
            else:  # a value that is not one of the enum's: as it is
                values[channel] = value
        else:  # fields of plain types: (their getter, their channels)
            values.update(zip(second, first(snapshot), strict=True))
    return values


def _plan(board: str, cls: type) -> tuple[_Step, ...]:
    fields = dataclasses.fields(cls)
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # types that cannot be resolved: every field is looked at
        hints = {}
    plan: list[_Step] = []
    run: list[str] = []
    for field in fields:
        hint = hints.get(field.name)
        if isinstance(hint, type) and not issubclass(hint, enum.Enum):
            run.append(field.name)
            continue
        if run:
            plan.append(_run(board, run))
            run = []
        plan.append((field.name, f"{board}.{field.name}"))
    if run:
        plan.append(_run(board, run))
    _plans[board, cls] = result = tuple(plan)
    return result


def _run(board: str, names: list[str]) -> _Step:
    getter = operator.attrgetter(*names)
    get = getter if len(names) > 1 else lambda obj: (getter(obj),)
    return get, tuple(f"{board}.{name}" for name in names)


def _flag_plan(board: str, value: enum.IntFlag) -> tuple[tuple[str, int], ...]:
    plan = _flags[board, type(value)] = tuple(
        (f"{board}.{str(flag.name).lower()}", flag.value) for flag in type(value)
    )
    return plan


class ChannelStore:
    """Latest value and time of each channel; tells listeners of each packet as it lands."""

    def __init__(self, *, clock: Clock) -> None:
        self._clock = clock
        self.values: dict[str, Any] = {}
        self.updated_at: dict[str, float] = {}
        self._listeners: list[PacketListener] = []
        self._watchers: list[tuple[Callable[[Values], bool], asyncio.Future[None]]] = []

    def update(self, packet: str, values: dict[str, Any]) -> None:
        """Take in one packet's values and tell every listener and watcher."""
        now = self._clock.monotonic()
        self.values.update(values)
        self.updated_at.update(dict.fromkeys(values, now))
        for listener in tuple(self._listeners):
            listener(packet, values)
        for predicate, future in tuple(self._watchers):
            if not future.done() and predicate(self.values):
                future.set_result(None)

    def listen(self, listener: PacketListener) -> Callable[[], None]:
        """Call ``listener(packet, values)`` for every packet; returns its remover."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def wait_until(self, predicate: Callable[[Values], bool], *, timeout_s: float) -> None:
        """Return once ``predicate(values)`` holds (now or after a later packet).

        ``timeout_s`` counts mission-clock time; raises TimeoutError when it runs out.
        """
        if predicate(self.values):
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        watcher = (predicate, future)
        self._watchers.append(watcher)
        try:
            await within(self._clock, timeout_s, future)
        finally:
            self._watchers.remove(watcher)
