"""Everything the vehicle sends: status, telemetry, events, acks and sequence status, live
while a session is up, into the outbox while it is not, and the outbox's replay after it.

Every message that must not be lost is QoS 1. While the broker is unreachable, or a publish
fails, the message goes to the outbox; after reconnecting the outbox is replayed in order
(marked ``replayed``) while live messages keep flowing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable
from typing import Any

import aiomqtt
from pydantic import BaseModel

from flight.dispatcher import Ack, Stage
from flight.events import Event
from flight.mqtt import compose
from flight.mqtt.auth import Authenticator
from flight.mqtt.compose import to_json
from flight.mqtt.outbox import Outbox, Priority
from flight.mqtt.port import Remover, VehiclePort
from flight.mqtt.publisher import Publisher
from flight.mqtt.replay import replay
from flight.mqtt.support import Tasks, describe, log
from interface.messages import AckMessage, TelemetryMessage
from interface.topics import Topics

#: A command's last ack has one of these stages: it leaves at once, with those before it.
FINAL_STAGES = frozenset({Stage.COMPLETED, Stage.FAILED})
#: The start-up backlog (messages made before the run's first session) is sent live, not
#: marked ``replayed``, up to this many messages; a longer one is replayed from the outbox.
STARTUP_BACKLOG_MAX = 10_000
#: The longest a telemetry message may be held to leave with others (``telemetry.gather_s``).
MAX_GATHER_S = 0.25


class Downlink:
    """The vehicle's messages to the ground, through the session's client when there is one."""

    def __init__(
        self,
        *,
        vehicle: VehiclePort,
        topics: Topics,
        outbox: Outbox,
        authenticator: Authenticator | None,
        tasks: Tasks,
        telemetry_gather_s: float = 0.0,
    ) -> None:
        if not 0 <= telemetry_gather_s <= MAX_GATHER_S:
            raise ValueError(f"telemetry_gather_s: need 0 to {MAX_GATHER_S} s")
        self.vehicle = vehicle
        self.topics = topics
        self.outbox = outbox
        self.authenticator = authenticator
        self._tasks = tasks
        #: How long a telemetry message may wait to leave with others (one write, one PUBACK
        #: wake for them all).
        self.telemetry_gather_s = telemetry_gather_s
        #: Messages replayed from the outbox and confirmed, in all sessions.
        self.replayed = 0
        self._tm_seq: dict[str, int] = {}
        self._client: aiomqtt.Client | None = None
        #: The session's fast publisher (telemetry, events, acks, replay) once it is live.
        self._publisher: Publisher | None = None
        #: Live publishes not yet confirmed by the broker, by message id, with what they carry.
        self._publishing: dict[int, tuple[str, BaseModel | bytes, Priority, bool]] = {}
        self._replayer: asyncio.Task[None] | None = None
        #: Rows were put into the outbox while the replay ran: it goes round once more.
        self._again = False
        #: The start-up backlog: what was made before the run's first session (outbox row id,
        #: topic, payload without ``replayed``, retain). None once that session has ended or
        #: sent it: from then on, what waits in the outbox waited for a broker.
        self._backlog: list[tuple[int, str, bytes, bool]] | None = []

    def attach(self) -> list[Remover]:
        """Listen to the vehicle's packets, events and mode; returns the removers."""
        return [
            self.vehicle.channels.listen(self._on_packet),
            self.vehicle.events.subscribe(self._on_event),
            self.vehicle.modes.listen(lambda _: self.publish_status()),
        ]

    # --- the session ---------------------------------------------------------------

    def go_live(self, client: aiomqtt.Client, publisher: Publisher) -> None:
        """The session is up: publish through it."""
        self._client = client
        self._publisher = publisher

    def start_replay(self, publisher: Publisher) -> None:
        """Replay the outbox while live messages keep flowing."""
        self._replayer = self._tasks.spawn(self._replay(publisher))

    def kick_replay(self) -> None:
        """Rows were put into the outbox while live (image chunks): send them. A replay that
        runs goes round once more; without a session the next session's replay sends them."""
        publisher = self._publisher
        if publisher is None:
            return
        if self._replayer is not None and not self._replayer.done():
            self._again = True
        else:
            self.start_replay(publisher)

    async def _replay(self, publisher: Publisher) -> None:
        total = 0
        while True:
            self._again = False
            count = await replay(self.outbox, publisher)
            if count is None:
                return
            total += count
            self.replayed += count
            if not self._again:
                break
        if total:
            self.vehicle.events.emit("REPLAY_DONE", count=total)

    def end_session(self) -> None:
        """The broker is gone: whatever it did not confirm goes to the outbox, in order."""
        self._backlog = None  # start-up is over: what is left of the backlog is replayed
        self._client = None
        self._publisher = None
        if self._replayer is not None:
            self._replayer.cancel()  # what it did not remove stays in the outbox
            self._replayer = None
        publishing, self._publishing = self._publishing, {}
        for topic, message, priority, retain in publishing.values():
            self._store(topic, message, priority, retain)

    def status(self, state: str) -> bytes:
        return compose.status_json(self.vehicle, state, self._highest_counter())

    def _highest_counter(self) -> int | None:
        if self.authenticator is None:
            return None
        try:
            return self.authenticator.highest_counter
        except Exception as exc:  # the status goes out without it
            log.error("reading the command counter failed: %s", describe(exc))
            return None

    def publish_status(self) -> None:
        if self._client is not None:
            self.publish_retained(self.topics.status, self.status("online"))

    def publish_retained(self, topic: str, payload: bytes) -> None:
        """Publish a retained message (QoS 1) if a session is up; otherwise nothing: whoever
        owns it publishes it again when the next session starts."""
        client = self._client
        if client is not None:
            self._tasks.spawn(_quietly(client.publish(topic, payload, qos=1, retain=True)))

    async def announce(self, client: aiomqtt.Client) -> None:
        """Say online and publish the dictionary (both retained)."""
        await client.publish(self.topics.status, self.status("online"), qos=1, retain=True)
        dictionary = json.dumps(self.vehicle.dictionary.export())
        await client.publish(self.topics.dict, dictionary, qos=1, retain=True)

    # --- sending -------------------------------------------------------------------

    def send(
        self,
        topic: str,
        message: BaseModel | bytes,
        *,
        priority: Priority,
        retain: bool = False,
        last: bool = False,
        gather_s: float = 0.0,
    ) -> None:
        """Publish now if connected, else store; a failed publish is stored too. What is
        published leaves once the event loop is idle, or at once if it is the ``last`` of a
        series (a command's final ack: the stages before it go with it), or with ``gather_s``
        up to that much later, with whatever else is made meanwhile. A message given as
        bytes (a ledger line) is sent and replayed as it is, without ``replayed``."""
        publisher = self._publisher
        if publisher is None:
            self._store(topic, message, priority, retain)
            return
        # No timeout and no task per publish: a broker that stops answering ends the
        # session, and end_session stores what it did not confirm.
        try:
            payload = message if isinstance(message, bytes) else to_json(message)
            mid = publisher.publish(
                topic,
                payload,
                retain=retain,
                confirmed=self._published,
                now=last,
                gather_s=gather_s,
            )
        except aiomqtt.MqttError:
            self._store(topic, message, priority, retain)  # not sent: kept for the replay
            return
        self._publishing[mid] = (topic, message, priority, retain)

    def _published(self, mid: int) -> None:
        self._publishing.pop(mid, None)  # the broker has it

    def _store(
        self, topic: str, message: BaseModel | bytes, priority: Priority, retain: bool
    ) -> None:
        if isinstance(message, bytes):
            replayed = message
        else:
            replayed = to_json(message.model_copy(update={"replayed": True}))
        row = self.outbox.put(topic, replayed, priority=priority, retain=retain)
        backlog = self._backlog
        if backlog is not None:
            if len(backlog) < STARTUP_BACKLOG_MAX:
                live = message if isinstance(message, bytes) else to_json(message)
                backlog.append((row, topic, live, retain))
            else:
                self._backlog = None  # too long to hold: it waits in the outbox, replayed

    async def send_backlog(self, client: aiomqtt.Client) -> None:
        """The start-up backlog, on the run's first session: sent in order before anything
        else, as live messages (no ``replayed``), each leaving the outbox once the broker has
        confirmed it. What is made meanwhile joins it. A publish that fails ends the session:
        the rest stays in the outbox, marked ``replayed``, for the replay."""
        while self._backlog:
            batch, self._backlog = self._backlog, []
            results = await asyncio.gather(
                *(
                    client.publish(topic, payload, qos=1, retain=retain)
                    for _, topic, payload, retain in batch
                ),
                return_exceptions=True,
            )
            self.outbox.remove(
                row for (row, *_), result in zip(batch, results, strict=True) if result is None
            )
            failed = next((r for r in results if isinstance(r, BaseException)), None)
            if failed is not None:
                raise aiomqtt.MqttError(f"start-up backlog not confirmed: {describe(failed)}")
        self._backlog = None

    # --- what is sent --------------------------------------------------------------

    def last_seq(self, packet: str) -> int:
        """The sequence number of the latest ``tm/<packet>`` message made (0 before any)."""
        return self._tm_seq.get(packet, 0)

    def _on_packet(self, packet: str, values: dict[str, Any]) -> None:
        seq = self._tm_seq.get(packet, 0) + 1
        self._tm_seq[packet] = seq
        message = TelemetryMessage(time=self.vehicle.clock.utc(), seq=seq, values=values)
        self.send(
            self.topics.tm(packet), message, priority=Priority.LOW, gather_s=self.telemetry_gather_s
        )

    def _on_event(self, event: Event) -> None:
        self.send(self.topics.evr, compose.event_message(event), priority=Priority.HIGH)
        if event.id.startswith("SEQ_"):
            message = compose.sequence_status_message(self.vehicle, event.time)
            self.send(self.topics.seq_status, message, priority=Priority.HIGH, retain=True)

    def ack(self, ack: Ack) -> AckMessage:
        """Send one verification stage of a command; returns the message sent."""
        message = compose.ack_message(ack)
        final = ack.stage in FINAL_STAGES
        self.send(self.topics.ack, message, priority=Priority.HIGH, last=final)
        return message

    def refuse(self, command_id: str, name: str, reason: str, detail: str) -> None:
        """FAILED before execution (a refused message)."""
        time = self.vehicle.clock.utc()
        message = compose.refusal_message(command_id, name, reason, detail, time)
        self.send(self.topics.ack, message, priority=Priority.HIGH, last=True)


async def _quietly(publishing: Awaitable[None]) -> None:
    with contextlib.suppress(aiomqtt.MqttError):
        await publishing
