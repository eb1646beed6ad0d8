"""The flight software's MQTT session: connect with a last will, subscribe, say online,
serve until the session ends, then reconnect with backoff.

:class:`Uplink` joins the parts: :class:`~flight.mqtt.downlink.Downlink` (what the vehicle
sends, and the outbox while the broker is away) and :class:`~flight.mqtt.intake.Intake`
(commands and sequences in). If the session ends for any reason, the uplink says so and
reconnects, with exponential backoff between failed attempts; how it connects (the client,
the backoff, the last "offline") is :mod:`flight.mqtt.connect`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import TracebackType
from typing import Any

import aiomqtt

from flight.mqtt import bounds
from flight.mqtt.auth import Authenticator
from flight.mqtt.bounds import TokenBucket
from flight.mqtt.connect import OFFLINE_TIMEOUT_S, make_client, reconnect, say_offline
from flight.mqtt.custody_link import CustodyLink
from flight.mqtt.downlink import Downlink
from flight.mqtt.intake import Intake
from flight.mqtt.outbox import Outbox
from flight.mqtt.port import Remover, VehiclePort
from flight.mqtt.publisher import Publisher
from flight.mqtt.support import MQTT_LOG, Tasks, describe, guard, log
from flight.mqtt.wire import disconnected, from_mqtt_client, serve_messages, settle
from interface.broker import parse_broker, stop_task
from interface.messages import MAX_PAYLOAD_BYTES
from interface.topics import Topics


class Uplink:
    """Keeps the vehicle connected to its broker and the ground informed (``async with``)."""

    def __init__(
        self,
        *,
        app: VehiclePort,
        broker: str,
        vehicle: str,
        outbox: Outbox,
        authenticator: Authenticator | None = None,
        username: str | None = None,
        password: str | None = None,
        ca_file: Path | None = None,
        reconnect_min_s: float = 0.1,
        reconnect_max_s: float = 5.0,
        command_rate_per_s: float = bounds.COMMAND_RATE_PER_S,
        command_burst: int = bounds.COMMAND_BURST,
        refusal_rate_per_s: float = bounds.REFUSAL_RATE_PER_S,
        refusal_burst: int = bounds.REFUSAL_BURST,
        queue_messages: int = bounds.INTAKE_QUEUE_MESSAGES,
        queue_bytes: int = bounds.INTAKE_QUEUE_BYTES,
        telemetry_gather_s: float = 0.0,
    ) -> None:
        self.host, self.port = parse_broker(broker)
        if reconnect_min_s <= 0 or reconnect_max_s < reconnect_min_s:
            raise ValueError("reconnect_min_s/reconnect_max_s: need 0 < min <= max")
        if queue_messages < 1 or queue_bytes < MAX_PAYLOAD_BYTES:
            raise ValueError(
                f"queue_messages/queue_bytes: need at least 1 message and {MAX_PAYLOAD_BYTES} bytes"
            )
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
        self.queue_messages = queue_messages
        self.connected = asyncio.Event()
        self._tasks = Tasks()
        self.downlink = Downlink(
            vehicle=app, topics=self.topics, outbox=outbox, authenticator=authenticator,
            tasks=self._tasks, telemetry_gather_s=telemetry_gather_s,
        )  # fmt: skip
        #: Where the flight's samples send ledger entries, the head and images.
        self.custody = CustodyLink(self.downlink, self._tasks)
        self.intake = Intake(
            vehicle=app,
            topics=self.topics,
            downlink=self.downlink,
            authenticator=authenticator,
            tasks=self._tasks,
            commands=TokenBucket(command_rate_per_s, command_burst),
            refusals=TokenBucket(refusal_rate_per_s, refusal_burst),
            queue_bytes=queue_bytes,
        )
        #: The session's client from its CONNACK to the session's end, live or still starting.
        self._connection: aiomqtt.Client | None = None
        #: Set while no session is connected (cleared at a CONNACK, set when it ends).
        self._unlinked = asyncio.Event()
        self._unlinked.set()
        self._removers: list[Remover] = []
        self._runner: asyncio.Task[None] | None = None
        #: Whether the current session got past its CONNACK.
        self._linked = False
        #: Whether this streak of failed connections has been reported.
        self._told = False
        self._loop_handler: Any = None

    @property
    def replayed(self) -> int:
        """Messages replayed from the outbox and confirmed, in all sessions."""
        return self.downlink.replayed

    @property
    def refused(self) -> dict[str, int]:
        """How many incoming messages were refused, by what they were."""
        return self.intake.refused

    def last_seq(self, packet: str) -> int:
        """The sequence number of the latest ``tm/<packet>`` message made (0 before any)."""
        return self.downlink.last_seq(packet)

    # --- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> Uplink:
        loop = asyncio.get_running_loop()
        self._loop_handler = loop.get_exception_handler()
        loop.set_exception_handler(self._loop_error)
        self._removers += self.downlink.attach()
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
        await self._say_offline()
        if self._runner is not None:
            await stop_task(self._runner)  # not cancel(): aiomqtt may drop it (see stop_task)
        self._end_session()  # unconfirmed messages wait in the outbox for the next start
        self.intake.close()
        await self._tasks.cancel()
        loop = asyncio.get_running_loop()
        if loop.get_exception_handler() == self._loop_error:
            loop.set_exception_handler(self._loop_handler)

    async def _say_offline(self) -> None:
        """The last words of a stop: the retained "offline" status, confirmed, on the
        session's connection if there is one (then the session ends with a clean disconnect,
        which sends no will: without this the retained status would stay "online").

        A session still starting (it said online and is sending the start-up backlog, which
        holds what the app said while it stopped: SAFING, SHUTDOWN) is first given up to
        OFFLINE_TIMEOUT_S to go live, so that those reach the ground before "offline" and
        are not left in the outbox for the next start."""
        if self._connection is not None and not self.connected.is_set():
            waits = {
                asyncio.ensure_future(self.connected.wait()),
                asyncio.ensure_future(self._unlinked.wait()),
            }
            await asyncio.wait(
                waits, timeout=OFFLINE_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
            )
            for wait in waits:
                wait.cancel()
        client = self._connection
        if client is None or disconnected(client):
            return  # no connection: the last will said offline, or the last stop did
        await say_offline(client, self.topics.status, self.downlink.status("offline"))

    async def _run(self) -> None:
        """Sessions, one after another, until cancelled: whatever ends one (the broker, the
        network, or a bug here) is reported and followed by a reconnect (see
        :func:`~flight.mqtt.connect.reconnect`)."""
        await reconnect(self._attempt, self.reconnect_min_s, self.reconnect_max_s)

    async def _attempt(self) -> bool:
        """One session, to its end; True if it got through (connected, then lost)."""
        self._linked = False
        try:
            await self._session()
        except Exception as exc:  # nothing may end the uplink for good
            lost = self._linked
            guard("ending the session", self._end_session)
            # After the session is gone, so the event itself goes to the outbox.
            if not isinstance(exc, aiomqtt.MqttError):
                log.error("the MQTT session failed, reconnecting: %s", describe(exc))
                detail = f"the session failed ({describe(exc)}); reconnecting"
                guard("reporting", self._lost, detail)
                self._told = True
            elif lost:
                guard("reporting", self._lost, str(exc))
                self._told = True
                return True
            elif not self._told:  # never connected: a wrong address or login, or broker down
                guard("reporting", self._lost, f"cannot connect: {exc}")
                self._told = True
        finally:
            guard("ending the session", self._end_session)
        return False

    def _lost(self, detail: str) -> None:
        self.app.events.emit("BROKER_LOST", broker=self.broker, detail=detail)

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """The event loop's exception handler while the uplink runs. The MQTT client's socket
        callbacks can fail in a race with the broker going away (``OSError: [Errno 9] Bad
        file descriptor`` when paho asks to watch a socket that was closed meanwhile); that
        is a lost connection, which the session already reports, not a crash: it is logged
        on one line. Anything else goes to the handler there was before."""
        if from_mqtt_client(context):
            exc = context.get("exception")
            detail = describe(exc) if exc is not None else str(context.get("message"))
            MQTT_LOG.debug("MQTT client callback failed (connection lost): %s", detail)
            return
        if self._loop_handler is not None:
            self._loop_handler(loop, context)
        else:
            loop.default_exception_handler(context)

    async def _session(self) -> None:
        status = self.downlink.status("offline")
        client = self._client_for(aiomqtt.Will(self.topics.status, status, qos=1, retain=True))
        try:
            async with client:
                self._connection = client
                self._unlinked.clear()
                self._linked = True
                try:
                    await self._serve(client)
                except Exception:
                    if disconnected(client):
                        raise  # the broker publishes the last will
                    # A bug, or a broker too slow to answer: the connection is still up, so the
                    # status must not stay "online" while no session serves (the clean
                    # disconnect that follows sends no will).
                    await say_offline(client, self.topics.status, self.downlink.status("offline"))
                    raise
        finally:
            self._connection = None
            self._unlinked.set()
            settle(client)

    def _client_for(self, will: aiomqtt.Will) -> aiomqtt.Client:
        return make_client(
            host=self.host,
            port=self.port,
            identifier=f"isru-flight-{self.topics.prefix.split('/')[-1]}",
            will=will,
            tls=self._tls,
            username=self._username,
            password=self._password,
            admit=self.intake.admit,
            queue_messages=self.queue_messages,
        )

    async def _serve(self, client: aiomqtt.Client) -> None:
        """Subscribe, say online, publish the dictionary, send the start-up backlog (first
        session of a run), replay the outbox, then handle incoming messages until the session
        ends."""
        publisher = Publisher(client)  # from here on, writes leave once per loop turn
        await client.subscribe(self.topics.cmd, qos=1)
        await client.subscribe(f"{self.topics.prefix}/seq/+", qos=1)
        mode = self.app.modes.mode
        await self.downlink.announce(client)
        await self.custody.announce(client)
        await self.downlink.send_backlog(client)
        self.downlink.go_live(client, publisher)
        if self.app.modes.mode is not mode:
            self.downlink.publish_status()  # the mode changed before the session went live
        self.connected.set()
        self.app.events.emit("BROKER_CONNECTED", broker=self.broker)
        self.downlink.start_replay(publisher)
        await serve_messages(client, self.intake.on_message)

    def _end_session(self) -> None:
        """The broker is gone: whatever it did not confirm goes to the outbox, in order."""
        self.connected.clear()
        self.downlink.end_session()
