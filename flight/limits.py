"""The limit monitor: yellow and red limits with persistence, and the safing they trigger."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from math import isfinite
from typing import Any

from flight.events import EventLog
from interface.dictionary import Dictionary, Limits, SafingResponse


class Level(enum.IntEnum):
    GREEN = 0
    YELLOW = 1
    RED = 2


def classify(limits: Limits, value: float) -> tuple[Level, float | None]:
    """The level of ``value`` against ``limits`` and the limit it crossed (None when green).

    A reading that is not a number (NaN, infinite) is red: a sensor that reports nothing
    usable must not look healthy.
    """
    if not math.isfinite(value):
        return Level.RED, None
    if limits.red_high is not None and value > limits.red_high:
        return Level.RED, limits.red_high
    if limits.red_low is not None and value < limits.red_low:
        return Level.RED, limits.red_low
    if limits.yellow_high is not None and value > limits.yellow_high:
        return Level.YELLOW, limits.yellow_high
    if limits.yellow_low is not None and value < limits.yellow_low:
        return Level.YELLOW, limits.yellow_low
    return Level.GREEN, None


def _green_band(limits: Limits) -> tuple[float, float]:
    """The lowest and highest values :func:`classify` calls green (when they are finite)."""
    lows = [x for x in (limits.red_low, limits.yellow_low) if x is not None]
    highs = [x for x in (limits.red_high, limits.yellow_high) if x is not None]
    return max(lows, default=-math.inf), min(highs, default=math.inf)


@dataclass(slots=True)
class _Track:
    """Per-channel persistence: the level reported and the current runs of samples."""

    reported: Level = Level.GREEN
    red_run: int = 0  # consecutive red samples
    alert_run: int = 0  # consecutive samples at yellow or worse
    below_red_run: int = 0  # consecutive samples that are not red
    green_run: int = 0  # consecutive green samples

    def sample(self, level: Level) -> None:
        self.red_run = self.red_run + 1 if level is Level.RED else 0
        self.alert_run = self.alert_run + 1 if level is not Level.GREEN else 0
        self.below_red_run = self.below_red_run + 1 if level is not Level.RED else 0
        self.green_run = self.green_run + 1 if level is Level.GREEN else 0

    def change(self, persistence: int) -> Level | None:
        """The level to report now, if the runs say the reported one no longer holds."""
        reported = self.reported
        if reported is not Level.RED and self.red_run >= persistence:
            return Level.RED
        if reported is Level.GREEN and self.alert_run >= persistence:
            return Level.YELLOW
        if reported is Level.RED and self.below_red_run >= persistence:
            return Level.GREEN if self.green_run >= persistence else Level.YELLOW
        if reported is Level.YELLOW and self.green_run >= persistence:
            return Level.GREEN
        return None


#: Packet layouts whose limited channels are remembered (a board has one or two).
MAX_LAYOUTS = 64

SafingCallback = Callable[[str, SafingResponse, str], None]


class LimitMonitor:
    """Checks every sample of a limited channel against its limits, with persistence.

    Red is reported after ``persistence`` consecutive red samples: LIMIT_RED, and ``on_red``
    with the channel's safing response. Yellow after as many consecutive samples at yellow
    or worse (so a value flickering between yellow and red still warns). A reported level
    steps down after as many consecutive samples below it: LIMIT_CLEARED when all were green.
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
        #: Per channel, the values that are green: from the highest low to the lowest high.
        self._green = {name: _green_band(lim) for name, lim in limits.items()}
        #: Per packet layout (its channel names in order): its limited channels and bands.
        self._limited: dict[tuple[str, ...], tuple[tuple[str, float, float], ...]] = {}
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
        keys = tuple(values)
        limited = self._limited.get(keys)
        if limited is None:
            limited = self._limited_in(keys)
        tracks, disabled, green_level = self._tracks, self.disabled, Level.GREEN
        for name, low, high in limited:
            value = values[name]
            if value is None or name in disabled:
                continue
            number = float(value)
            track = tracks[name]
            if track.reported is green_level and low <= number <= high and isfinite(number):
                # green and staying green, the common case: _Track.sample(GREEN) inlined
                track.red_run = track.alert_run = 0
                track.below_red_run += 1
                track.green_run += 1
                continue
            self._sample(name, self.limits[name], number)

    def _limited_in(self, keys: tuple[str, ...]) -> tuple[tuple[str, float, float], ...]:
        """The limited channels among a packet's ``keys``, in its order, with their green
        band: worked out once per packet layout (a board's packets all share one)."""
        if len(self._limited) >= MAX_LAYOUTS:
            self._limited.clear()
        green = self._green
        limited = tuple((name, *green[name]) for name in keys if name in green)
        self._limited[keys] = limited
        return limited

    def _sample(self, name: str, limits: Limits, value: float) -> None:
        track = self._tracks[name]
        level, limit = classify(limits, value)
        track.sample(level)
        new = track.change(limits.persistence)
        if new is None:
            return
        track.reported = new
        shown = round(value, 3) if math.isfinite(value) else str(value)
        unit = self._units[name]
        if new is Level.GREEN:
            self._events.emit("LIMIT_CLEARED", channel=name, value=shown, unit=unit)
        elif new is Level.YELLOW:
            crossed = limit if level is not Level.GREEN else "-"
            self._events.emit("LIMIT_YELLOW", channel=name, value=shown, unit=unit, limit=crossed)
        else:
            response = limits.response
            crossed = limit if limit is not None else "(not a number)"
            self._events.emit(
                "LIMIT_RED", channel=name, value=shown, unit=unit, limit=crossed, response=response
            )
            self._on_red(name, response, f"{name} = {shown} {unit} beyond red limit {crossed}")
