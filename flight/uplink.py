"""The flight software's MQTT session: status, dictionary, telemetry, events and acks out;
commands and sequences in; a durable outbox while the broker is away."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import aiomqtt
from pydantic import BaseModel, ValidationError

from flight.app import FlightApp
from flight.auth import Authenticator, AuthError
from flight.catalog import VERSION
from flight.dispatcher import Ack, Command
from flight.events import Event
from flight.outbox import Outbox, Priority
from flight.schemas import (
    MAX_PAYLOAD_BYTES,
    NODELAY,
    AckMessage,
    CommandMessage,
    EventMessage,
    SequenceStatusMessage,
    StatusMessage,
    TelemetryMessage,
    Topics,
    parse_broker,
    stop_task,
)

#: aiomqtt warns once per publish while more than ten are in flight, which a replay or a
#: 50 Hz stream always has: that is our design, not news, so only its errors are logged.
MQTT_LOG = logging.getLogger("isru.uplink.mqtt")
MQTT_LOG.setLevel(logging.ERROR)
REPLAY_BATCH = 500
DUPLICATE_MEMORY = 2000
SEQ_TOPIC_COMMANDS = {"upload": "SEQ.UPLOAD", "start": "SEQ.START", "abort": "SEQ.ABORT"}


class Uplink:
    """Keeps the vehicle connected to its broker and the ground informed.

    Every message that must not be lost is QoS 1. While the broker is unreachable, or a
    publish fails, the message goes to the outbox; after reconnecting the outbox is replayed
    in order (marked ``replayed``) while live messages keep flowing.
    """

    def __init__(
        self,
        *,
        app: FlightApp,
        broker: str,
        vehicle: str,
        outbox: Outbox,
        authenticator: Authenticator | None = None,
        username: str | None = None,
        password: str | None = None,
        ca_file: Path | None = None,
        reconnect_min_s: float = 0.1,
        reconnect_max_s: float = 5.0,
    ) -> None:
        self.host, self.port = parse_broker(broker)
        if reconnect_min_s <= 0 or reconnect_max_s < reconnect_min_s:
            raise ValueError("reconnect_min_s/reconnect_max_s: need 0 < min <= max")
        self.broker = broker
        self.app = app
        self.topics = Topics(vehicle)
        self.outbox = outbox
        self.authenticator = authenticator
        self._username = username or None
        self._password = password if username else None
        tls = broker.startswith("mqtts://")
        self._tls = (
            aiomqtt.TLSParameters(ca_certs=str(ca_file) if ca_file else None) if tls else None
        )
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.connected = asyncio.Event()
        self.replayed = 0
        self._client: aiomqtt.Client | None = None
        self._tm_seq: dict[str, int] = {}
        self._acks: OrderedDict[str, list[AckMessage]] = OrderedDict()
        self._tasks: set[asyncio.Task[Any]] = set()
        #: Live publishes not yet confirmed by the broker, with what they carry.
        self._publishing: dict[asyncio.Task[None], tuple[str, BaseModel, Priority, bool]] = {}
        self._replayer: asyncio.Task[None] | None = None
        self._removers: list[Callable[[], None]] = []
        self._runner: asyncio.Task[None] | None = None

    # --- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> Uplink:
        self._removers += [
            self.app.channels.listen(self._on_packet),
            self.app.events.subscribe(self._on_event),
            self.app.modes.listen(lambda _: self._publish_status()),
        ]
        self._runner = asyncio.create_task(self._run(), name="mqtt uplink")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for remove in self._removers:
            remove()
        client = self._client
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await client.publish(
                    self.topics.status, self._status("offline"), qos=1, retain=True, timeout=2
                )
        if self._runner is not None:
            await stop_task(self._runner)  # not cancel(): aiomqtt may drop it (see stop_task)
        self._end_session()  # unconfirmed messages wait in the outbox for the next start
        for task in tuple(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self) -> None:
        delay = self.reconnect_min_s
        told = False  # whether this streak of failed connections has been reported
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                lost = self.connected.is_set()
                self._end_session()
                # After the session is gone, so the event itself goes to the outbox.
                if lost:
                    self.app.events.emit("BROKER_LOST", broker=self.broker, detail=str(exc))
                    delay, told = self.reconnect_min_s, True
                elif not told:  # never connected: a wrong address or login, or broker down
                    detail = f"cannot connect: {exc}"
                    self.app.events.emit("BROKER_LOST", broker=self.broker, detail=detail)
                    told = True
            finally:
                self._end_session()
            await asyncio.sleep(delay)  # real-time backoff: the broker needs it to return
            delay = min(delay * 2, self.reconnect_max_s)

    async def _session(self) -> None:
        will = aiomqtt.Will(self.topics.status, self._status("offline"), qos=1, retain=True)
        async with aiomqtt.Client(
            self.host,
            self.port,
            identifier=f"isru-flight-{self.topics.prefix.split('/')[-1]}",
            clean_session=False,
            will=will,
            socket_options=NODELAY,
            max_inflight_messages=200,
            timeout=3,  # also bounds a clean disconnect from a broker that is gone
            tls_params=self._tls,
            logger=MQTT_LOG,
            username=self._username,
            password=self._password,
        ) as client:
            await client.subscribe(self.topics.cmd, qos=1)
            await client.subscribe(f"{self.topics.prefix}/seq/+", qos=1)
            await client.publish(self.topics.status, self._status("online"), qos=1, retain=True)
            await client.publish(
                self.topics.dict, json.dumps(self.app.dictionary.export()), qos=1, retain=True
            )
            self._client = client
            self.connected.set()
            self.app.events.emit("BROKER_CONNECTED", broker=self.broker)
            self._replayer = self._spawn(self._replay(client))
            async for message in client.messages:
                self._on_message(message)

    def _end_session(self) -> None:
        """The broker is gone: whatever it did not confirm goes to the outbox, in order."""
        self.connected.clear()
        self._client = None
        if self._replayer is not None:
            self._replayer.cancel()  # what it did not remove stays in the outbox
            self._replayer = None
        publishing, self._publishing = self._publishing, {}
        for task, (topic, message, priority, retain) in publishing.items():
            task.cancel()
            self._store(topic, message, priority, retain)

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- outgoing --------------------------------------------------------------------

    def _status(self, state: str) -> bytes:
        return StatusMessage(
            state=state,  # type: ignore[arg-type]
            mode=self.app.modes.mode.value,
            version=VERSION,
            dict_hash=self.app.dictionary.hash,
            time=self.app.clock.utc(),
        ).to_json()

    def _publish_status(self) -> None:
        client = self._client
        if client is not None:
            self._spawn(
                self._quietly(
                    client.publish(self.topics.status, self._status("online"), qos=1, retain=True)
                )
            )

    async def _quietly(self, publishing: Any) -> None:
        with contextlib.suppress(aiomqtt.MqttError):
            await publishing

    def send(
        self, topic: str, message: BaseModel, *, priority: Priority, retain: bool = False
    ) -> None:
        """Publish now if connected, else store; a failed publish is stored too."""
        client = self._client
        if client is None:
            self._store(topic, message, priority, retain)
            return
        task = asyncio.create_task(client.publish(topic, _json(message), qos=1, retain=retain))
        self._publishing[task] = (topic, message, priority, retain)
        task.add_done_callback(self._published)

    def _published(self, task: asyncio.Task[None]) -> None:
        item = self._publishing.pop(task, None)
        if item is None or task.cancelled():
            return  # the session ended first and stored it already
        if task.exception() is not None:
            self._store(*item)  # not confirmed by the broker: keep it for the replay

    def _store(self, topic: str, message: BaseModel, priority: Priority, retain: bool) -> None:
        replayed = message.model_copy(update={"replayed": True})
        self.outbox.put(topic, _json(replayed), priority=priority, retain=retain)

    async def _replay(self, client: aiomqtt.Client) -> None:
        """Send the outbox in order, a batch at a time, removing what the broker confirmed."""
        count = 0
        while True:
            rows = self.outbox.peek(REPLAY_BATCH)
            if not rows:
                break
            results = await asyncio.gather(
                *(client.publish(r.topic, r.payload, qos=r.qos, retain=r.retain) for r in rows),
                return_exceptions=True,
            )
            confirmed = [r.id for r, result in zip(rows, results, strict=True) if result is None]
            self.outbox.remove(confirmed)
            count += len(confirmed)
            if len(confirmed) < len(rows):
                return  # the broker went away again: the rest waits for the next session
        self.replayed += count
        if count:
            self.app.events.emit("REPLAY_DONE", count=count)

    def last_seq(self, packet: str) -> int:
        """The sequence number of the latest ``tm/<packet>`` message made (0 before any)."""
        return self._tm_seq.get(packet, 0)

    def _on_packet(self, packet: str, values: dict[str, Any]) -> None:
        seq = self._tm_seq.get(packet, 0) + 1
        self._tm_seq[packet] = seq
        message = TelemetryMessage(time=self.app.clock.utc(), seq=seq, values=values)
        self.send(self.topics.tm(packet), message, priority=Priority.LOW)

    def _on_event(self, event: Event) -> None:
        message = EventMessage(
            time=event.time,
            seq=event.seq,
            severity=event.severity.value,
            id=event.id,
            text=event.text,
            args=_jsonable(event.args),
        )
        self.send(self.topics.evr, message, priority=Priority.HIGH)
        if event.id.startswith("SEQ_"):
            status = self.app.sequencer.status
            self.send(
                self.topics.seq_status,
                SequenceStatusMessage(
                    time=event.time,
                    state=status.state.value,  # type: ignore[arg-type]
                    name=status.name,
                    line=status.line,
                    step=status.step,
                    steps=status.steps,
                    elapsed_s=status.elapsed_s,
                    next_step=status.next_step,
                    outcome=None if status.outcome is None else status.outcome.value,  # type: ignore[arg-type]
                    reason=status.reason,
                    uploaded=sorted(self.app.uploaded),
                ),
                priority=Priority.HIGH,
                retain=True,
            )

    def _ack(self, ack: Ack) -> None:
        message = AckMessage(
            id=ack.id,
            name=ack.name,
            stage=ack.stage.value,
            time=ack.time,
            reason=None if ack.reason is None else ack.reason.value,
            detail=ack.detail or None,
        )
        self._remember(message)
        self.send(self.topics.ack, message, priority=Priority.HIGH)

    def _refuse(self, command_id: str, name: str, reason: str, detail: str) -> None:
        """FAILED before execution. Not remembered as the id's outcome: a sender who cannot
        sign must not be able to claim an id that a real command uses later."""
        message = AckMessage(
            id=command_id,
            name=name,
            stage="FAILED",
            time=self.app.clock.utc(),
            reason=reason,
            detail=detail,
        )
        self.send(self.topics.ack, message, priority=Priority.HIGH)

    def _remember(self, message: AckMessage) -> None:
        self._acks.setdefault(message.id, []).append(message)
        self._acks.move_to_end(message.id)
        while len(self._acks) > DUPLICATE_MEMORY:
            self._acks.popitem(last=False)

    # --- incoming --------------------------------------------------------------------

    def _on_message(self, message: aiomqtt.Message) -> None:
        topic = str(message.topic)
        payload = message.payload
        if not isinstance(payload, bytes | bytearray):
            payload = str(payload).encode()
        if topic == self.topics.seq_status:
            return  # our own retained status, echoed by the subscription to seq/+
        if len(payload) > MAX_PAYLOAD_BYTES:
            detail = f"{len(payload)} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit"
            self.app.events.emit("MESSAGE_REJECTED", topic=topic, detail=detail)
            return
        forced = None
        if topic != self.topics.cmd:
            forced = SEQ_TOPIC_COMMANDS.get(topic.rsplit("/", 1)[-1])
            if forced is None:
                self.app.events.emit("MESSAGE_REJECTED", topic=topic, detail="not a command topic")
                return
        try:
            command = CommandMessage.model_validate_json(payload)
        except ValidationError as exc:
            self._malformed(topic, bytes(payload), exc)
            return
        name = forced or command.name
        if forced is not None and command.name != forced:
            self._refuse(command.id, command.name, "MALFORMED", f"{topic} takes {forced} only")
            return
        if command.id in self._acks:
            self.app.events.emit("COMMAND_DUPLICATE", id=command.id)
            for ack in self._acks[command.id]:
                self.send(self.topics.ack, ack, priority=Priority.HIGH)
            return
        if self.authenticator is not None:
            try:
                self.authenticator.check(
                    counter=command.counter, mac=command.mac, name=name, args=command.args
                )
            except AuthError as exc:
                self.app.events.emit("AUTH_REFUSED", id=command.id, detail=exc.detail)
                self._refuse(command.id, name, "AUTH", f"{exc.reason}: {exc.detail}")
                return
            except Exception as exc:  # the counter could not be persisted: refuse, go on
                detail = f"counter not saved: {exc}"
                self.app.events.emit("AUTH_REFUSED", id=command.id, detail=detail)
                self._refuse(command.id, name, "AUTH", detail)
                return
        self._acks[command.id] = []
        run = Command(command.id, name, dict(command.args), "mqtt")
        self._spawn(self.app.execute(run, self._ack))

    def _malformed(self, topic: str, payload: bytes, exc: ValidationError) -> None:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "message"
        detail = f"{where}: {error['msg']}"
        self.app.events.emit("MESSAGE_REJECTED", topic=topic, detail=detail)
        command_id = _recover_id(payload)
        if command_id is not None:
            self._refuse(command_id, "", "MALFORMED", detail)


def _recover_id(payload: bytes) -> str | None:
    try:
        document = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    if isinstance(document, dict):
        command_id = document.get("id")
        if isinstance(command_id, str) and 0 < len(command_id) <= 64:
            return command_id
    return None


def _json(message: BaseModel) -> bytes:
    return message.model_dump_json(by_alias=True, exclude_none=True).encode()


def _jsonable(args: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, str | int | float | bool | None) else str(v) for k, v in args.items()
    }
