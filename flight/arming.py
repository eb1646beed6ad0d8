"""ARM then FIRE: which hazardous command is armed, until when, and what cancels it."""

from __future__ import annotations

from flight.clock import Clock
from flight.events import EventLog

ARM_COMMAND = "CORE.ARM"


class Arming:
    """Holds at most one armed command. FIRE is sending that command within the window;
    any other command in between, or the window running out, cancels the arm.

    The window is ``window_s`` of mission time and never less than ``window_s`` of real
    time: FIRE comes from the ground, through a broker, at the speed of real processes,
    which a SIL time scale does not speed up (at scale 10, 10 mission seconds would be one
    real second, and a busy machine would let the arm expire before the FIRE arrived)."""

    def __init__(self, *, clock: Clock, events: EventLog, window_s: float) -> None:
        if window_s <= 0:
            raise ValueError(f"window_s: must be positive, got {window_s}")
        self._clock = clock
        self._events = events
        self.window_s = window_s
        self._armed: str | None = None
        self._deadline = 0.0

    @property
    def armed(self) -> str | None:
        """The armed command, or None (an expired arm is cancelled on the way)."""
        if self._armed is not None and self._clock.monotonic() > self._deadline:
            self._cancel("window expired")
        return self._armed

    def arm(self, command: str) -> None:
        if self.armed is not None:
            self._cancel(f"replaced by arming {command}")
        self._armed = command
        self._deadline = self._clock.monotonic() + self.window_s * max(1.0, self._clock.scale)
        self._events.emit("ARMED", command=command, window_s=self.window_s)

    def disarm(self, reason: str) -> None:
        if self._armed is not None:
            self._cancel(reason)

    def going_safe(self, reason: str, *, keep_sequence: bool) -> None:
        """The payload goes SAFE: nothing stays armed."""
        self.disarm("going SAFE")

    def fire(self, command: str) -> bool:
        """Whether ``command`` is armed now; if so the arm is used up."""
        if self.armed != command:
            return False
        self._armed = None
        return True

    def observe(self, command: str) -> None:
        """Note that ``command`` (not a FIRE) is being sent: it cancels any arm."""
        if command != ARM_COMMAND and self.armed is not None:
            self._cancel(f"{command} was sent in between")

    def _cancel(self, reason: str) -> None:
        command, self._armed = self._armed, None
        self._events.emit("ARM_CANCELLED", command=command, reason=reason)
