"""Command and sequence messages in: bounded, validated, authenticated, de-duplicated and
run, or refused with a reason; whatever goes wrong with one message becomes a refusal and
the session goes on."""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict
from typing import Any

import aiomqtt
import pydantic_core
from pydantic import ValidationError

from flight.dispatcher import Ack, Command, Reason, Stage
from flight.mqtt.auth import Authenticator, AuthError
from flight.mqtt.bounds import REPORT_INTERVAL_S, IntakeQueue, TokenBucket, size
from flight.mqtt.downlink import Downlink
from flight.mqtt.outbox import Priority
from flight.mqtt.port import VehiclePort
from flight.mqtt.support import Tasks, describe, guard, log
from interface.messages import MAX_PAYLOAD_BYTES, AckMessage, CommandMessage
from interface.topics import Topics

#: Command ids whose acks are kept, to answer a duplicate with them (the newest ids).
DUPLICATE_MEMORY = 2000
SEQ_TOPIC_COMMANDS = {"upload": "SEQ.UPLOAD", "start": "SEQ.START", "abort": "SEQ.ABORT"}
#: The ack reason of a command refused by the command rate limit.
RATE_LIMITED = "RATE_LIMITED"

Refused = tuple[str, str, str, str]  # command id, name, ack reason, detail
Report = tuple[str, dict[str, Any]]  # event id, its arguments


class Intake:
    """Handles each message that arrives on ``cmd`` and ``seq/+``."""

    def __init__(
        self,
        *,
        vehicle: VehiclePort,
        topics: Topics,
        downlink: Downlink,
        authenticator: Authenticator | None,
        tasks: Tasks,
        commands: TokenBucket,
        refusals: TokenBucket,
        queue_bytes: int,
    ) -> None:
        self.vehicle = vehicle
        self.topics = topics
        self.downlink = downlink
        self.authenticator = authenticator
        self._tasks = tasks
        #: The command rate limit and the refusal report rate limit.
        self.commands = commands
        self.refusals = refusals
        self.queue_bytes = queue_bytes
        self._acks: OrderedDict[str, list[AckMessage]] = OrderedDict()
        #: Refusals not reported one by one since the last summary, by what they were.
        self._unreported: Counter[str] = Counter()
        self._unreported_topic = ""
        self._summary: asyncio.TimerHandle | None = None
        #: How many messages were refused, by what they were (for tests and benchmarks).
        self.refused: Counter[str] = Counter()

    def close(self) -> None:
        if self._summary is not None:
            self._summary.cancel()
            self._summary = None

    def admit(self, message: aiomqtt.Message, queue: IntakeQueue) -> bool:
        """Whether a message just read from the socket may wait in the queue: not our own
        echo, not over the size limit, and room for it. Called by aiomqtt's socket callback,
        before the message is buffered; never raises (paho would end the session)."""
        try:
            topic = str(message.topic)
            if topic == self.topics.seq_status:
                return False  # our own retained status, echoed by the subscription to seq/+
            length = size(message.payload)
            if length > MAX_PAYLOAD_BYTES:
                detail = f"{length} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit"
                self._refusal("too big", topic, event=_rejected(topic, detail))
                return False
            if queue.full() or queue.bytes + length > self.queue_bytes:
                detail = (
                    f"dropped unread: {queue.qsize()} messages ({queue.bytes} bytes) already "
                    "wait to be handled"
                )
                self._refusal("queue full", topic, event=_rejected(topic, detail))
                return False
            return True
        except Exception as exc:
            log.error("admitting a message failed, dropped: %s", describe(exc))
            return False

    def on_message(self, message: aiomqtt.Message) -> None:
        """Handle one message. Whatever goes wrong becomes a refusal: the session goes on."""
        topic, payload = "", b""
        try:
            topic = str(message.topic)
            raw = message.payload
            if isinstance(raw, bytes | bytearray):
                payload = bytes(raw)
            else:
                payload = str(raw).encode("utf-8", "replace")
            self._handle(topic, payload)
        except Exception as exc:  # one message never ends the session
            log.error("handling a message on %s failed: %s", topic, describe(exc))
            detail = f"could not be handled: {describe(exc)}"
            command_id = recover_id(payload)
            ack = None if command_id is None else (command_id, "", "INTERNAL_ERROR", detail)
            guard(
                "refusing a message",
                lambda: self._refusal(
                    "internal error", topic, event=_rejected(topic, detail), ack=ack
                ),
            )

    def _handle(self, topic: str, payload: bytes) -> None:
        forced = None
        if topic != self.topics.cmd:
            forced = SEQ_TOPIC_COMMANDS.get(topic.rsplit("/", 1)[-1])
            if forced is None:
                detail = "not a command topic"
                self._refusal(detail, topic, event=_rejected(topic, detail))
                return
        if len(payload) > MAX_PAYLOAD_BYTES:  # the gate refuses these: in case it was skipped
            detail = f"{len(payload)} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit"
            self._refusal("too big", topic, event=_rejected(topic, detail))
            return
        try:
            command = CommandMessage.model_validate_json(payload)
        except ValidationError as exc:
            self._malformed(topic, payload, exc)
            return
        name = forced or command.name
        if forced is not None and command.name != forced:
            detail = f"{topic} takes {forced} only"
            self._refusal("malformed", topic, ack=(command.id, command.name, "MALFORMED", detail))
            return
        if command.id in self._acks:
            if not self.commands.take():
                self._rate_limited(topic, command.id, name)
                return
            self.vehicle.events.emit("COMMAND_DUPLICATE", id=command.id)
            for ack in self._acks[command.id]:
                self.downlink.send(self.topics.ack, ack, priority=Priority.HIGH)
            return
        if self.authenticator is not None and not self._authentic(topic, command, name):
            return
        if not self.commands.take():
            self._rate_limited(topic, command.id, name)
            return
        self._acks[command.id] = []
        run = Command(command.id, name, dict(command.args), "mqtt")
        if self.vehicle.execute_now(run, self._ack) is None:  # it waits for something
            self._tasks.spawn(self._execute(run))

    def _authentic(self, topic: str, command: CommandMessage, name: str) -> bool:
        """Check the command's signature; refuse it (False) if it is not right."""
        assert self.authenticator is not None
        try:
            self.authenticator.check(
                counter=command.counter, mac=command.mac, name=name, args=command.args
            )
        except AuthError as exc:
            event = ("AUTH_REFUSED", {"id": command.id, "detail": exc.detail})
            refused = (command.id, name, "AUTH", f"{exc.reason}: {exc.detail}")
            self._refusal("auth", topic, event=event, ack=refused)
            return False
        except Exception as exc:  # the counter could not be persisted
            detail = f"counter not saved: {describe(exc)}"
            event = ("AUTH_REFUSED", {"id": command.id, "detail": detail})
            self._refusal("auth", topic, event=event, ack=(command.id, name, "AUTH", detail))
            return False
        self.downlink.publish_status()  # the highest counter moved: a client continues above it
        return True

    async def _execute(self, run: Command) -> None:
        try:
            await self.vehicle.execute(run, self._ack)
        except Exception as exc:  # a bug: the command still gets its end
            log.error("%s (%s) failed: %s", run.name, run.id, describe(exc))
            detail = describe(exc)
            now = self.vehicle.clock.utc()
            self._ack(Ack(run.id, run.name, Stage.FAILED, now, Reason.INTERNAL_ERROR, detail))

    def _ack(self, ack: Ack) -> None:
        """Send a stage of a command run here, and remember it for a duplicate. (A refusal is
        not remembered as the id's outcome: a sender who cannot sign must not be able to
        claim an id that a real command uses later.)"""
        message = self.downlink.ack(ack)
        self._acks.setdefault(message.id, []).append(message)
        self._acks.move_to_end(message.id)
        while len(self._acks) > DUPLICATE_MEMORY:
            self._acks.popitem(last=False)

    def _rate_limited(self, topic: str, command_id: str, name: str) -> None:
        rate, burst = self.commands.rate, self.commands.burst
        detail = (
            f"over the command rate limit ({rate:g} a second, {burst} at once): "
            "not run, send it again later"
        )
        event = _rejected(topic, f"{command_id}: {detail}")
        self._refusal(
            "rate limited", topic, event=event, ack=(command_id, name, RATE_LIMITED, detail)
        )

    def _malformed(self, topic: str, payload: bytes, exc: ValidationError) -> None:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "message"
        detail = f"{where}: {error['msg']}"
        command_id = recover_id(payload)
        ack = None if command_id is None else (command_id, "", "MALFORMED", detail)
        self._refusal("malformed", topic, event=_rejected(topic, detail), ack=ack)

    def _refusal(
        self, kind: str, topic: str, *, event: Report | None = None, ack: Refused | None = None
    ) -> None:
        """Report one refused message (its event, and its FAILED ack when it has an id) if
        the refusal rate allows; otherwise count it for the next summary."""
        self.refused[kind] += 1
        if self.refusals.take():
            if event is not None:
                event_id, args = event
                self.vehicle.events.emit(event_id, **args)
            if ack is not None:
                self.downlink.refuse(*ack)
            return
        self._unreported[kind] += 1
        self._unreported_topic = topic
        if self._summary is None:
            loop = asyncio.get_running_loop()
            self._summary = loop.call_later(REPORT_INTERVAL_S, self._summarize)

    def _summarize(self) -> None:
        """One MESSAGE_REJECTED for every refusal that was not reported one by one."""
        self._summary = None
        counts, self._unreported = self._unreported, Counter()
        if not counts:
            return
        parts = ", ".join(f"{count} {kind}" for kind, count in counts.most_common())
        detail = (
            f"{counts.total()} more messages refused without a report each (more than "
            f"{self.refusals.rate:g} a second): {parts}"
        )
        topic = self._unreported_topic
        guard(
            "reporting refusals",
            lambda: self.vehicle.events.emit("MESSAGE_REJECTED", topic=topic, detail=detail),
        )


def _rejected(topic: str, detail: str) -> Report:
    return "MESSAGE_REJECTED", {"topic": topic, "detail": detail}


def recover_id(payload: bytes) -> str | None:
    """The ``id`` of a message that is not a valid command, if it has a usable one: the
    payload is UTF-8 JSON (pydantic's parser: no lone surrogates, bounded nesting) with an
    ``id`` string of 1 to 64 characters."""
    try:
        document = pydantic_core.from_json(payload)
    except ValueError:
        return None
    if isinstance(document, dict):
        command_id = document.get("id")
        if isinstance(command_id, str) and 0 < len(command_id) <= 64:
            try:
                command_id.encode("utf-8")
            except UnicodeEncodeError:
                return None
            return command_id
    return None
