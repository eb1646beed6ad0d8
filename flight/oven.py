"""The oven's channels that the flight software derives from each of its packets.

``oven.lid``: the lid as one word, from its three flags. ``oven.heater_stall_s``: how long
the heater has been drawing power for a sample that neither warms nor gives off water (a
heater that heats nothing, a thermocouple off its sample), timed on the board's own clock;
its limit in the dictionary makes the payload SAFE.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from interface.catalog.oven import (
    STALL_COLLECT_G,
    STALL_MARGIN_C,
    STALL_POWER_W,
    STALL_RISE_C,
)

_UPTIME_WRAP = 1 << 32


def lid_state(values: Mapping[str, Any]) -> str:
    """``MOVING``, ``SEALED``, ``OPEN``, or ``UNKNOWN`` when the packet sets none of them."""
    if values.get("oven.lid_moving"):
        return "MOVING"
    if values.get("oven.lid_sealed"):
        return "SEALED"
    if values.get("oven.lid_open"):
        return "OPEN"
    return "UNKNOWN"


class HeaterStall:
    """Times a heater that draws power without warming its sample.

    The heater is *demanding* while it is on, draws at least ``STALL_POWER_W`` and the sample
    is more than ``STALL_MARGIN_C`` below the heater's target. From the first such packet the
    stall counts the board's time; it starts again whenever the sample is ``STALL_RISE_C``
    warmer, or the trap has caught ``STALL_COLLECT_G`` more water, than at its start (a sample
    that holds at its ice's sublimation point while the heat goes into the ice is not
    stalled). A packet that is not demanding (heater off, holding at the setpoint, within the
    margin) ends it: 0 s. A board that rebooted (its uptime went back) starts afresh.
    """

    def __init__(self) -> None:
        self._since_ms: int | None = None
        self._from_c = 0.0
        self._from_g = 0.0
        self._last_ms: int | None = None

    def update(self, values: Mapping[str, Any]) -> float:
        """The stall in seconds after this packet's values."""
        now = int(values["oven.uptime_ms"])
        sample = float(values["oven.sample_temp_c"])
        collected = float(values.get("oven.water_collected_g", 0.0))
        went_back = self._last_ms is not None and (now - self._last_ms) % _UPTIME_WRAP >= (
            _UPTIME_WRAP // 2
        )
        self._last_ms = now
        demanding = (
            bool(values.get("oven.heater_on"))
            and float(values["oven.heater_power_w"]) >= STALL_POWER_W
            and float(values["oven.heater_setpoint_c"]) - sample > STALL_MARGIN_C
        )
        if not demanding or went_back:
            self._since_ms = None
        if not demanding:
            return 0.0
        if (
            self._since_ms is None
            or sample >= self._from_c + STALL_RISE_C
            or collected >= self._from_g + STALL_COLLECT_G
        ):
            self._since_ms, self._from_c, self._from_g = now, sample, collected
        return ((now - self._since_ms) % _UPTIME_WRAP) / 1000.0


class OvenChannels:
    """Adds the derived channels to each oven packet's values."""

    def __init__(self) -> None:
        self._stall = HeaterStall()

    def __call__(self, values: dict[str, Any]) -> dict[str, Any]:
        values["oven.lid"] = lid_state(values)
        values["oven.heater_stall_s"] = round(self._stall.update(values), 3)
        return values
