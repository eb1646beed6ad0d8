"""What arrived from the vehicle since the console's last refresh.

The client's listener fills it for every message (cheap: a flag, two bounded queues); the
console's timer drains it. So a 50 Hz stream costs the screen nothing per message, and
memory stays flat however long the stream.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from ground import Ack, Event, GroundClient
from ground.console.samples_model import ENTRY, HEAD, IMAGES

MAX_PENDING_EVENTS = 500
MAX_PENDING_ACKS = 1000
#: Custody entries (and the head) waiting; image chunks (about 64 kB each: over one 8 MiB
#: image), kept only for a console that keeps images.
MAX_PENDING_SAMPLES = 2000
MAX_PENDING_CHUNKS = 256


class Feed:
    """A listener of one client, attached with :meth:`attach` until :meth:`detach`."""

    def __init__(self, client: GroundClient, *, images: bool = False) -> None:
        self.client = client
        self.events: deque[Event] = deque(maxlen=MAX_PENDING_EVENTS)
        self.acks: deque[Ack] = deque(maxlen=MAX_PENDING_ACKS)
        self.samples: deque[tuple[str, dict[str, Any]]] = deque(maxlen=MAX_PENDING_SAMPLES)
        self.chunks: deque[tuple[str, dict[str, Any]]] = deque(maxlen=MAX_PENDING_CHUNKS)
        self.images = images
        self.telemetry = True  # show whatever values the client has at the first refresh
        self._remove: Callable[[], None] | None = None

    def attach(self) -> None:
        if self._remove is None:
            self._remove = self.client.listen(self)

    def detach(self) -> None:
        if self._remove is not None:
            self._remove()
            self._remove = None

    def __call__(self, suffix: str, document: dict[str, Any]) -> None:
        if suffix.startswith("tm/"):
            self.telemetry = True
        elif suffix == "evr":
            self.events.append(Event.from_message(document))
        elif suffix == "cmd/ack":
            self.acks.append(Ack.from_message(document))
        elif suffix in (ENTRY, HEAD):
            self.samples.append((suffix, document))
        elif suffix.startswith(IMAGES) and self.images:
            self.chunks.append((suffix, document))

    def take_telemetry(self) -> bool:
        """Whether telemetry arrived since the last call."""
        arrived, self.telemetry = self.telemetry, False
        return arrived
