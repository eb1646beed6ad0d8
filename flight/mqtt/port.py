"""What the MQTT side sees of the vehicle: exactly the parts it uses, and nothing else.

The vehicle (``flight.vehicle``) satisfies :class:`VehiclePort` structurally; the MQTT
package never imports it, so either side can change behind this line.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from enum import Enum
from typing import Any, Protocol

from flight.dispatcher import Ack, AckSink, Command
from flight.events import Event
from interface.dictionary import Dictionary, Mode

Remover = Callable[[], None]


class Channels(Protocol):
    def listen(self, listener: Callable[[str, dict[str, Any]], None]) -> Remover:
        """Call ``listener(packet, values)`` for every packet."""
        ...


class Events(Protocol):
    def subscribe(self, subscriber: Callable[[Event], None]) -> Remover: ...

    def emit(self, event_id: str, **args: Any) -> Event: ...


class Modes(Protocol):
    @property
    def mode(self) -> Mode: ...

    def listen(self, listener: Callable[[Mode], None]) -> Remover: ...


class SequenceState(Protocol):
    """The fields of the sequencer's status that ``seq/status`` carries."""

    @property
    def state(self) -> Enum: ...
    @property
    def name(self) -> str: ...
    @property
    def line(self) -> int: ...
    @property
    def step(self) -> int: ...
    @property
    def steps(self) -> int: ...
    @property
    def elapsed_s(self) -> float: ...
    @property
    def next_step(self) -> str: ...
    @property
    def outcome(self) -> Enum | None: ...
    @property
    def reason(self) -> str: ...


class Sequencer(Protocol):
    @property
    def status(self) -> SequenceState: ...


class Clock(Protocol):
    def utc(self) -> datetime: ...


class VehiclePort(Protocol):
    """The vehicle as the MQTT side uses it: packets, events and the mode to publish; the
    dictionary and sequencer status to describe it; commands to run."""

    @property
    def channels(self) -> Channels: ...
    @property
    def events(self) -> Events: ...
    @property
    def modes(self) -> Modes: ...
    @property
    def sequencer(self) -> Sequencer: ...
    @property
    def dictionary(self) -> Dictionary: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def uploaded(self) -> Collection[str]:
        """Names of the sequences uploaded and ready to start."""
        ...

    async def execute(self, command: Command, sink: AckSink | None = None) -> Ack:
        """Run one command to its end; each verification stage goes to ``sink``."""
        ...

    def execute_now(self, command: Command, sink: AckSink) -> Ack | None:
        """Run a command that waits for nothing to its end at once; None for any other."""
        ...
