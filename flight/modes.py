"""The payload mode: SAFE at boot, IDLE when commandable, OPERATING while a device works."""

from __future__ import annotations

from collections.abc import Callable

from flight.events import EventLog
from interface.dictionary import Mode


class ModeKeeper:
    """Holds the mode and announces each change as a MODE_CHANGED event.

    SAFE is left only by command (MODE.IDLE). Outside SAFE the mode follows the devices:
    OPERATING while any of them is busy, IDLE otherwise.
    """

    def __init__(self, *, events: EventLog) -> None:
        self._events = events
        self.mode = Mode.SAFE
        self._listeners: list[Callable[[Mode], None]] = []

    def listen(self, listener: Callable[[Mode], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def set(self, mode: Mode, *, reason: str) -> None:
        if mode is self.mode:
            return
        old, self.mode = self.mode, mode
        self._events.emit("MODE_CHANGED", old=old.value, new=mode.value, reason=reason)
        for listener in tuple(self._listeners):
            listener(mode)

    def follow_activity(self, *, busy: bool) -> None:
        """Outside SAFE, track whether a device is busy."""
        if self.mode is Mode.SAFE:
            return
        if busy and self.mode is Mode.IDLE:
            self.set(Mode.OPERATING, reason="a device is active")
        elif not busy and self.mode is Mode.OPERATING:
            self.set(Mode.IDLE, reason="every device is at rest")
