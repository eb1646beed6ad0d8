"""The limit monitor: yellow and red limits with persistence, and the safing they trigger."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flight.dictionary import Dictionary, Limits, SafingResponse
from flight.events import EventLog


class Level(enum.IntEnum):
    GREEN = 0
    YELLOW = 1
    RED = 2


def classify(limits: Limits, value: float) -> tuple[Level, float | None]:
    """The level of ``value`` against ``limits`` and the limit it crossed (None when green)."""
    if limits.red_high is not None and value > limits.red_high:
        return Level.RED, limits.red_high
    if limits.red_low is not None and value < limits.red_low:
        return Level.RED, limits.red_low
    if limits.yellow_high is not None and value > limits.yellow_high:
        return Level.YELLOW, limits.yellow_high
    if limits.yellow_low is not None and value < limits.yellow_low:
        return Level.YELLOW, limits.yellow_low
    return Level.GREEN, None


@dataclass(slots=True)
class _Track:
    """Per-channel persistence: the level reported, and the run of samples at a new level."""

    reported: Level = Level.GREEN
    candidate: Level = Level.GREEN
    run: int = 0


SafingCallback = Callable[[str, SafingResponse, str], None]


class LimitMonitor:
    """Checks every sample of a limited channel; a level counts after ``persistence`` samples.

    Yellow raises LIMIT_YELLOW; red raises LIMIT_RED and calls ``on_red`` with the channel's
    safing response; back within limits (for as many samples) raises LIMIT_CLEARED.
    """

    def __init__(
        self,
        *,
        limits: Mapping[str, Limits],
        dictionary: Dictionary,
        events: EventLog,
        on_red: SafingCallback,
    ) -> None:
        unknown = [name for name in limits if name not in dictionary.channel_index]
        if unknown:
            raise ValueError(f"limits: not channels of the dictionary: {', '.join(unknown)}")
        self.limits = dict(limits)
        self._units = {name: dictionary.channel_index[name].unit for name in limits}
        self._events = events
        self._on_red = on_red
        self._tracks = {name: _Track() for name in limits}
        self.disabled: set[str] = set()

    def level(self, channel: str) -> Level:
        """The level last reported for ``channel``."""
        return self._tracks[channel].reported

    def enable(self, channel: str) -> None:
        self._require(channel)
        self.disabled.discard(channel)
        self._tracks[channel] = _Track()
        self._events.emit("LIMIT_ENABLED", channel=channel)

    def disable(self, channel: str) -> None:
        self._require(channel)
        self.disabled.add(channel)
        self._events.emit("LIMIT_DISABLED", channel=channel)

    def _require(self, channel: str) -> None:
        if channel not in self.limits:
            raise ValueError(f"channel: {channel!r} has no limits")

    def check(self, values: Mapping[str, Any]) -> None:
        """Check one packet's values."""
        for name, value in values.items():
            limits = self.limits.get(name)
            if limits is None or name in self.disabled or value is None:
                continue
            self._sample(name, limits, float(value))

    def _sample(self, name: str, limits: Limits, value: float) -> None:
        track = self._tracks[name]
        level, limit = classify(limits, value)
        if level == track.reported:
            track.candidate, track.run = level, 0
            return
        if level != track.candidate:
            track.candidate, track.run = level, 0
        track.run += 1
        if track.run < limits.persistence:
            return
        track.reported, track.run = level, 0
        shown = round(value, 3)
        unit = self._units[name]
        if level is Level.GREEN:
            self._events.emit("LIMIT_CLEARED", channel=name, value=shown, unit=unit)
        elif level is Level.YELLOW:
            self._events.emit("LIMIT_YELLOW", channel=name, value=shown, unit=unit, limit=limit)
        else:
            response = limits.response
            self._events.emit(
                "LIMIT_RED", channel=name, value=shown, unit=unit, limit=limit, response=response
            )
            self._on_red(name, response, f"{name} = {shown} {unit} beyond red limit {limit}")
