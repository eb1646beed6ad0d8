"""The current value of every telemetry channel, fed by packets, watched by conditions."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
from collections.abc import Callable, Mapping
from typing import Any

from flight.clock import Clock, within

Values = Mapping[str, Any]
PacketListener = Callable[[str, dict[str, Any]], None]


#: Per (board, snapshot class): each field's name and channel, worked out once.
_fields: dict[tuple[str, type], tuple[tuple[str, str], ...]] = {}
#: Per (board, flag word class): each flag's channel and bit, worked out once.
_flags: dict[tuple[str, type], tuple[tuple[str, int], ...]] = {}


def snapshot_values(board: str, snapshot: object) -> dict[str, Any]:
    """A board telemetry snapshot as channel values: enums by name, flag words as bools."""
    cls = type(snapshot)
    fields = _fields.get((board, cls))
    if fields is None:
        fields = _fields[board, cls] = tuple(
            (f.name, f"{board}.{f.name}")
            for f in dataclasses.fields(snapshot)  # type: ignore[arg-type]
        )
    values: dict[str, Any] = {}
    for name, channel in fields:
        value = getattr(snapshot, name)
        if isinstance(value, enum.IntFlag):
            bits = value._value_
            for flag_channel, bit in _flags.get((board, type(value))) or _flag_plan(board, value):
                values[flag_channel] = bits & bit == bit
        elif isinstance(value, enum.Enum):
            values[channel] = value._name_
        else:
            values[channel] = value
    return values


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
