"""The flight software's MQTT session: status, dictionary, telemetry, events and acks out;
commands and sequences in; a durable outbox while the broker is away.

Hostile input never ends the session: every incoming message is bounded before it is
buffered (size, queue length, queued bytes), every failure while handling one becomes a
refusal, command intake is rate-limited, and refusals are reported at a bounded rate. If the
session ends for any reason, the uplink says so and reconnects with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import sys
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import aiomqtt
import pydantic_core
from pydantic import BaseModel, ValidationError

from flight.app import FlightApp
from flight.auth import Authenticator, AuthError
from flight.dispatcher import Ack, Command, Reason, Stage
from flight.events import Event
from flight.outbox import Outbox, Priority
from flight.publisher import Publisher
from interface.broker import NODELAY, parse_broker, stop_task
from interface.catalog import VERSION
from interface.messages import (
    MAX_PAYLOAD_BYTES,
    AckMessage,
    CommandMessage,
    EventMessage,
    SequenceStatusMessage,
    StatusMessage,
    TelemetryMessage,
)
from interface.topics import Topics

#: aiomqtt warns once per publish while more than ten are in flight, which a replay or a
#: 50 Hz stream always has: that is our design, not news, so only its errors are logged, one
#: line each and never a traceback (see :class:`_OneLine`).
MQTT_LOG = logging.getLogger("isru.uplink.mqtt")
MQTT_LOG.setLevel(logging.ERROR)
#: The uplink's own trouble (a bug caught so that the session goes on): one line each.
log = logging.getLogger("isru.uplink")
#: The replay reads the outbox this many rows at a time and keeps up to REPLAY_WINDOW of them
#: in flight (sent, PUBACK awaited); what the broker confirmed is removed a read at a time.
REPLAY_READ = 1000
REPLAY_WINDOW = 64
DUPLICATE_MEMORY = 2000
#: The start-up backlog (messages made before the run's first session) is sent live, not
#: marked ``replayed``, up to this many messages; a longer one is replayed from the outbox.
STARTUP_BACKLOG_MAX = 10_000
SEQ_TOPIC_COMMANDS = {"upload": "SEQ.UPLOAD", "start": "SEQ.START", "abort": "SEQ.ABORT"}

#: Incoming messages buffered while waiting to be handled, at most (aiomqtt's
#: ``max_queued_incoming_messages``), and their payload bytes together at most. What does not
#: fit is dropped unread, before it is buffered.
INTAKE_QUEUE_MESSAGES = 256
INTAKE_QUEUE_BYTES = 4 * 1024 * 1024
#: Commands let through to the dispatcher (duplicates included): this many a second on
#: average, and this many at once. Beyond that a command fails ``RATE_LIMITED``.
COMMAND_RATE_PER_S = 100.0
COMMAND_BURST = 500
#: Refusals (a ``MESSAGE_REJECTED`` or ``AUTH_REFUSED`` event and the FAILED ack of one
#: message) reported one by one: this many a second on average, this many at once. The rest
#: are counted, and summed up in one ``MESSAGE_REJECTED`` at most every REPORT_INTERVAL_S.
REFUSAL_RATE_PER_S = 20.0
REFUSAL_BURST = 100
REPORT_INTERVAL_S = 1.0


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` held; :meth:`take` spends one if there is
    one. Real time (``time.monotonic``): floods happen on the wire, not in mission time."""

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate/burst: need rate > 0 and burst >= 1, got {rate}/{burst}")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


def _size(payload: Any) -> int:
    return len(payload) if isinstance(payload, bytes | bytearray) else len(str(payload))


class _Intake(asyncio.Queue[aiomqtt.Message]):
    """aiomqtt's queue of incoming messages, bounded by :meth:`Uplink._admit`, which sees
    each message before it is buffered and may drop it; counts the bytes it holds."""

    def __init__(self, maxsize: int = 0, *, admit: Callable[[aiomqtt.Message, _Intake], bool]):
        super().__init__(maxsize)
        self.bytes = 0
        self._admit = admit

    def put_nowait(self, item: aiomqtt.Message) -> None:
        if self._admit(item, self):
            super().put_nowait(item)
            self.bytes += _size(item.payload)

    def get_nowait(self) -> aiomqtt.Message:
        item = super().get_nowait()
        self.bytes -= _size(item.payload)
        return item


class _OneLine(logging.Handler):
    """Writes a record as one line on stderr, the exception (if any) by name and message:
    never a traceback."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text = f"{text}: {_describe(record.exc_info[1])}"
            print(f"isru uplink: {text}", file=sys.stderr, flush=True)
        except Exception:  # a log line that cannot be written is dropped
            pass


for _logger in (MQTT_LOG, log):
    _logger.addHandler(_OneLine())
    _logger.propagate = False


def _describe(exc: BaseException) -> str:
    """``Type: message`` of an exception, on one line and at most 300 characters."""
    try:
        text = str(exc)
    except Exception:  # e.g. a huge integer in the message
        text = ""
    text = " ".join(f"{type(exc).__name__}: {text}".split()) if text else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


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
        command_rate_per_s: float = COMMAND_RATE_PER_S,
        command_burst: int = COMMAND_BURST,
        refusal_rate_per_s: float = REFUSAL_RATE_PER_S,
        refusal_burst: int = REFUSAL_BURST,
        queue_messages: int = INTAKE_QUEUE_MESSAGES,
        queue_bytes: int = INTAKE_QUEUE_BYTES,
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
        #: The session's fast publisher (telemetry, events, acks, replay) once it is live.
        self._publisher: Publisher | None = None
        #: Live publishes not yet confirmed by the broker, by message id, with what they carry.
        self._publishing: dict[int, tuple[str, BaseModel, Priority, bool]] = {}
        self._replayer: asyncio.Task[None] | None = None
        self._removers: list[Callable[[], None]] = []
        self._runner: asyncio.Task[None] | None = None
        #: Whether the current session got past its CONNACK.
        self._linked = False
        #: The start-up backlog: what was made before the run's first session (outbox row id,
        #: topic, payload without ``replayed``, retain). None once that session has ended or
        #: sent it: from then on, what waits in the outbox waited for a broker.
        self._backlog: list[tuple[int, str, bytes, bool]] | None = []
        if queue_messages < 1 or queue_bytes < MAX_PAYLOAD_BYTES:
            raise ValueError(
                f"queue_messages/queue_bytes: need at least 1 message and {MAX_PAYLOAD_BYTES} bytes"
            )
        self.queue_messages = queue_messages
        self.queue_bytes = queue_bytes
        self._commands = TokenBucket(command_rate_per_s, command_burst)
        self._refusals = TokenBucket(refusal_rate_per_s, refusal_burst)
        #: Refusals not reported one by one since the last summary, by what they were.
        self._unreported: Counter[str] = Counter()
        self._unreported_topic = ""
        self._summary: asyncio.TimerHandle | None = None
        #: How many messages were refused, by what they were (for tests and benchmarks).
        self.refused: Counter[str] = Counter()
        self._loop_handler: Any = None

    # --- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> Uplink:
        loop = asyncio.get_running_loop()
        self._loop_handler = loop.get_exception_handler()
        loop.set_exception_handler(self._loop_error)
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
        if self._summary is not None:
            self._summary.cancel()
            self._summary = None
        for task in tuple(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        loop = asyncio.get_running_loop()
        if loop.get_exception_handler() == self._loop_error:
            loop.set_exception_handler(self._loop_handler)

    async def _run(self) -> None:
        """Sessions, one after another, until cancelled: whatever ends one (the broker, the
        network, or a bug here) is reported and followed by a reconnect with backoff."""
        delay = self.reconnect_min_s
        told = False  # whether this streak of failed connections has been reported
        while True:
            self._linked = False
            try:
                await self._session()
            except Exception as exc:  # nothing may end the uplink for good
                lost = self._linked
                self._guard("ending the session", self._end_session)
                # After the session is gone, so the event itself goes to the outbox.
                if not isinstance(exc, aiomqtt.MqttError):
                    log.error("the MQTT session failed, reconnecting: %s", _describe(exc))
                    detail = f"the session failed ({_describe(exc)}); reconnecting"
                    self._guard("reporting", self._lost, detail)
                    told = True
                elif lost:
                    self._guard("reporting", self._lost, str(exc))
                    delay, told = self.reconnect_min_s, True
                elif not told:  # never connected: a wrong address or login, or broker down
                    self._guard("reporting", self._lost, f"cannot connect: {exc}")
                    told = True
            finally:
                self._guard("ending the session", self._end_session)
            await asyncio.sleep(delay)  # real-time backoff: the broker needs it to return
            delay = min(delay * 2, self.reconnect_max_s)

    def _lost(self, detail: str) -> None:
        self.app.events.emit("BROKER_LOST", broker=self.broker, detail=detail)

    def _guard(self, what: str, function: Callable[..., Any], *args: Any) -> None:
        """Call ``function``; a failure is logged on one line, never raised."""
        try:
            function(*args)
        except Exception as exc:
            log.error("%s failed: %s", what, _describe(exc))

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """The event loop's exception handler while the uplink runs. The MQTT client's socket
        callbacks can fail in a race with the broker going away (``OSError: [Errno 9] Bad
        file descriptor`` when paho asks to watch a socket that was closed meanwhile); that
        is a lost connection, which the session already reports, not a crash: it is logged
        on one line. Anything else goes to the handler there was before."""
        if _from_mqtt_client(context):
            exc = context.get("exception")
            detail = _describe(exc) if exc is not None else str(context.get("message"))
            MQTT_LOG.debug("MQTT client callback failed (connection lost): %s", detail)
            return
        if self._loop_handler is not None:
            self._loop_handler(loop, context)
        else:
            loop.default_exception_handler(context)

    async def _session(self) -> None:
        will = aiomqtt.Will(self.topics.status, self._status("offline"), qos=1, retain=True)
        client = self._client_for(will)
        try:
            async with client:
                self._linked = True
                try:
                    await self._serve(client)
                except Exception:
                    if _disconnected(client):
                        raise  # the broker publishes the last will
                    # A bug, or a broker too slow to answer: the connection is still up, so the
                    # status must not stay "online" while no session serves (the clean
                    # disconnect that follows sends no will).
                    with contextlib.suppress(aiomqtt.MqttError):
                        offline = self._status("offline")
                        await client.publish(
                            self.topics.status, offline, qos=1, retain=True, timeout=2
                        )
                    raise
        finally:
            _settle(client)

    def _client_for(self, will: aiomqtt.Will) -> aiomqtt.Client:
        intake = functools.partial(_Intake, admit=self._admit)
        return aiomqtt.Client(
            self.host,
            self.port,
            identifier=f"isru-flight-{self.topics.prefix.split('/')[-1]}",
            clean_session=False,
            will=will,
            socket_options=NODELAY,
            max_inflight_messages=0,  # no limit in paho: its limit rescans all pending per PUBACK
            timeout=3,  # also bounds a clean disconnect from a broker that is gone
            tls_params=self._tls,
            logger=MQTT_LOG,
            username=self._username,
            password=self._password,
            # Bounded, and each message is seen (and may be dropped) before it is buffered.
            queue_type=cast(type[asyncio.Queue[aiomqtt.Message]], intake),
            max_queued_incoming_messages=self.queue_messages,
        )

    async def _serve(self, client: aiomqtt.Client) -> None:
        """Subscribe, say online, publish the dictionary, send the start-up backlog (first
        session of a run), replay the outbox, then handle incoming messages until the session
        ends."""
        publisher = Publisher(client)  # from here on, writes leave once per loop turn
        await client.subscribe(self.topics.cmd, qos=1)
        await client.subscribe(f"{self.topics.prefix}/seq/+", qos=1)
        mode = self.app.modes.mode
        await client.publish(self.topics.status, self._status("online"), qos=1, retain=True)
        await client.publish(
            self.topics.dict, json.dumps(self.app.dictionary.export()), qos=1, retain=True
        )
        await self._send_backlog(client)
        self._client = client  # no await since the backlog was empty: nothing overtakes it
        self._publisher = publisher
        if self.app.modes.mode is not mode:
            self._publish_status()  # the mode changed before the session went live
        self.connected.set()
        self.app.events.emit("BROKER_CONNECTED", broker=self.broker)
        self._replayer = self._spawn(self._replay(publisher))
        async for message in client.messages:
            self._on_message(message)

    def _end_session(self) -> None:
        """The broker is gone: whatever it did not confirm goes to the outbox, in order."""
        self._backlog = None  # start-up is over: what is left of the backlog is replayed
        self.connected.clear()
        self._client = None
        self._publisher = None
        if self._replayer is not None:
            self._replayer.cancel()  # what it did not remove stays in the outbox
            self._replayer = None
        publishing, self._publishing = self._publishing, {}
        for topic, message, priority, retain in publishing.values():
            self._store(topic, message, priority, retain)

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._reap)
        return task

    def _reap(self, task: asyncio.Task[Any]) -> None:
        """A background task ended: its failure, if any, is logged on one line (an exception
        left unretrieved would be printed with a traceback when the task is collected)."""
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("%s failed: %s", task.get_name(), _describe(exc))

    # --- outgoing --------------------------------------------------------------------

    def _status(self, state: str) -> bytes:
        return StatusMessage(
            state=state,  # type: ignore[arg-type]
            mode=self.app.modes.mode.value,
            version=VERSION,
            dict_hash=self.app.dictionary.hash,
            time=self.app.clock.utc(),
            highest_counter=self._highest_counter(),
        ).to_json()

    def _highest_counter(self) -> int | None:
        if self.authenticator is None:
            return None
        try:
            return self.authenticator.highest_counter
        except Exception as exc:  # the status goes out without it
            log.error("reading the command counter failed: %s", _describe(exc))
            return None

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
        publisher = self._publisher
        if publisher is None:
            self._store(topic, message, priority, retain)
            return
        # No timeout and no task per publish: a broker that stops answering ends the
        # session, and _end_session stores what it did not confirm.
        try:
            mid = publisher.publish(topic, _json(message), retain=retain, confirmed=self._published)
        except aiomqtt.MqttError:
            self._store(topic, message, priority, retain)  # not sent: kept for the replay
            return
        self._publishing[mid] = (topic, message, priority, retain)

    def _published(self, mid: int) -> None:
        self._publishing.pop(mid, None)  # the broker has it

    def _store(self, topic: str, message: BaseModel, priority: Priority, retain: bool) -> None:
        replayed = message.model_copy(update={"replayed": True})
        row = self.outbox.put(topic, _json(replayed), priority=priority, retain=retain)
        backlog = self._backlog
        if backlog is not None:
            if len(backlog) < STARTUP_BACKLOG_MAX:
                backlog.append((row, topic, _json(message), retain))
            else:
                self._backlog = None  # too long to hold: it waits in the outbox, replayed

    async def _send_backlog(self, client: aiomqtt.Client) -> None:
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
                raise aiomqtt.MqttError(f"start-up backlog not confirmed: {_describe(failed)}")
        self._backlog = None

    async def _replay(self, publisher: Publisher) -> None:
        """Send the outbox in order, up to REPLAY_WINDOW messages in flight, removing what the
        broker confirmed. A publish that fails ends it: the rest (that one too) waits in the
        outbox for the next session; so does everything if the session ends meanwhile."""
        flying: dict[int, int] = {}  # message id -> outbox row id, until its PUBACK
        confirmed: list[int] = []
        room = asyncio.Event()

        def landed(mid: int) -> None:
            confirmed.append(flying.pop(mid))
            if len(flying) <= REPLAY_WINDOW // 2:  # wake the sender for half a window at once
                room.set()

        count = after = 0
        try:
            while rows := self.outbox.peek(REPLAY_READ, after_id=after):
                after = rows[-1].id
                for row in rows:
                    while len(flying) >= REPLAY_WINDOW:
                        room.clear()
                        await room.wait()
                    try:
                        mid = publisher.publish(
                            row.topic, row.payload, qos=row.qos, retain=row.retain, confirmed=landed
                        )
                    except aiomqtt.MqttError:
                        return  # not sent: it and the rest wait for the next session
                    flying[mid] = row.id
                count += len(confirmed)
                self.outbox.remove(confirmed)
                confirmed.clear()
            while flying:
                room.clear()
                await room.wait()
        finally:
            count += len(confirmed)
            self.outbox.remove(confirmed)  # confirmed ones are not sent again
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

    def _admit(self, message: aiomqtt.Message, queue: _Intake) -> bool:
        """Whether a message just read from the socket may wait in the queue: not our own
        echo, not over the size limit, and room for it. Called by aiomqtt's socket callback,
        before the message is buffered; never raises (paho would end the session)."""
        try:
            topic = str(message.topic)
            if topic == self.topics.seq_status:
                return False  # our own retained status, echoed by the subscription to seq/+
            size = _size(message.payload)
            if size > MAX_PAYLOAD_BYTES:
                detail = f"{size} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit"
                self._refusal("too big", topic, event=_rejected(topic, detail))
                return False
            if queue.full() or queue.bytes + size > self.queue_bytes:
                detail = (
                    f"dropped unread: {queue.qsize()} messages ({queue.bytes} bytes) already "
                    "wait to be handled"
                )
                self._refusal("queue full", topic, event=_rejected(topic, detail))
                return False
            return True
        except Exception as exc:
            log.error("admitting a message failed, dropped: %s", _describe(exc))
            return False

    def _on_message(self, message: aiomqtt.Message) -> None:
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
            log.error("handling a message on %s failed: %s", topic, _describe(exc))
            detail = f"could not be handled: {_describe(exc)}"
            command_id = _recover_id(payload)
            ack = None if command_id is None else (command_id, "", "INTERNAL_ERROR", detail)
            self._guard(
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
            if not self._commands.take():
                self._rate_limited(topic, command.id, name)
                return
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
                event = ("AUTH_REFUSED", {"id": command.id, "detail": exc.detail})
                refused = (command.id, name, "AUTH", f"{exc.reason}: {exc.detail}")
                self._refusal("auth", topic, event=event, ack=refused)
                return
            except Exception as exc:  # the counter could not be persisted
                detail = f"counter not saved: {_describe(exc)}"
                event = ("AUTH_REFUSED", {"id": command.id, "detail": detail})
                self._refusal("auth", topic, event=event, ack=(command.id, name, "AUTH", detail))
                return
            self._publish_status()  # the highest counter moved: a client continues above it
        if not self._commands.take():
            self._rate_limited(topic, command.id, name)
            return
        self._acks[command.id] = []
        run = Command(command.id, name, dict(command.args), "mqtt")
        self._spawn(self._execute(run))

    async def _execute(self, run: Command) -> None:
        try:
            await self.app.execute(run, self._ack)
        except Exception as exc:  # a bug: the command still gets its end
            log.error("%s (%s) failed: %s", run.name, run.id, _describe(exc))
            detail = _describe(exc)
            now = self.app.clock.utc()
            self._ack(Ack(run.id, run.name, Stage.FAILED, now, Reason.INTERNAL_ERROR, detail))

    def _rate_limited(self, topic: str, command_id: str, name: str) -> None:
        rate, burst = self._commands.rate, self._commands.burst
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
        command_id = _recover_id(payload)
        ack = None if command_id is None else (command_id, "", "MALFORMED", detail)
        self._refusal("malformed", topic, event=_rejected(topic, detail), ack=ack)

    def _refusal(
        self,
        kind: str,
        topic: str,
        *,
        event: tuple[str, dict[str, Any]] | None = None,
        ack: tuple[str, str, str, str] | None = None,
    ) -> None:
        """Report one refused message (its event, and its FAILED ack when it has an id) if
        the refusal rate allows; otherwise count it for the next summary."""
        self.refused[kind] += 1
        if self._refusals.take():
            if event is not None:
                event_id, args = event
                self.app.events.emit(event_id, **args)
            if ack is not None:
                self._refuse(*ack)
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
            f"{self._refusals.rate:g} a second): {parts}"
        )
        topic = self._unreported_topic
        self._guard(
            "reporting refusals",
            lambda: self.app.events.emit("MESSAGE_REJECTED", topic=topic, detail=detail),
        )


#: The ack reason of a command refused by the command rate limit.
RATE_LIMITED = "RATE_LIMITED"


def _rejected(topic: str, detail: str) -> tuple[str, dict[str, Any]]:
    return "MESSAGE_REJECTED", {"topic": topic, "detail": detail}


def _recover_id(payload: bytes) -> str | None:
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


def _disconnected(client: aiomqtt.Client) -> bool:
    """Whether the client's connection is gone (aiomqtt has no public accessor)."""
    return bool(client._disconnected.done())


def _settle(client: aiomqtt.Client) -> None:
    """After a session, whichever way it ended. The client's disconnect error is retrieved
    (asyncio would print it, with a traceback, as never retrieved), and a socket that a
    connect attempt left open (the CONNACK timed out) is closed: it could otherwise connect
    later under our client id and take the session from the next attempt."""
    with contextlib.suppress(Exception):
        disconnected = client._disconnected  # aiomqtt has no public accessor
        if disconnected.done() and not disconnected.cancelled():
            disconnected.exception()
    with contextlib.suppress(Exception):
        paho = client._client
        if paho.socket() is not None:
            paho.disconnect()


def _in_mqtt_client(module: str) -> bool:
    return module.split(".")[0] in ("aiomqtt", "paho")


def _from_mqtt_client(context: dict[str, Any]) -> bool:
    """Whether an error the event loop caught comes from the MQTT client's machinery."""
    exc = context.get("exception")
    if isinstance(exc, aiomqtt.MqttError):
        return True
    handle = context.get("handle")
    if handle is not None:
        parts = [getattr(handle, "_callback", None), *(getattr(handle, "_args", None) or ())]
        if any(_in_mqtt_client(str(getattr(part, "__module__", ""))) for part in parts):
            return True
    trace = exc.__traceback__ if isinstance(exc, BaseException) else None
    while trace is not None:
        if _in_mqtt_client(str(trace.tb_frame.f_globals.get("__name__", ""))):
            return True
        trace = trace.tb_next
    return False


def _json(message: BaseModel) -> bytes:
    """The message as UTF-8 JSON. Never raises: text that UTF-8 cannot hold (a lone
    surrogate that reached an event's arguments, say) is sent with ``?`` in its place."""
    try:
        return message.model_dump_json(by_alias=True, exclude_none=True).encode()
    except ValueError:  # pydantic's PydanticSerializationError
        document = message.model_dump(mode="json", by_alias=True, exclude_none=True)
        text = json.dumps(document, ensure_ascii=False, default=str)
        return text.encode("utf-8", "replace")


def _jsonable(args: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, str | int | float | bool | None) else str(v) for k, v in args.items()
    }
