"""A board counter that counts since the board's boot, summed over a run across reboots."""

from __future__ import annotations

__all__ = ["BootCounter"]


class BootCounter:
    """The change of a since-boot counter over the run, across board reboots."""

    def __init__(self) -> None:
        self.total = 0.0
        self._last: tuple[float, float] | None = None  # (boot count, value)

    def take(self, boot: float, value: float) -> None:
        if self._last is not None:
            last_boot, last = self._last
            self.total += value - last if boot == last_boot else value
        self._last = (boot, value)
