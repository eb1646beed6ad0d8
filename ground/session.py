"""The connection of a :class:`ground.GroundClient` to one vehicle: connect, learn its
dictionary and status, keep the latest of everything it sends, reconnect when the broker goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiomqtt

from ground.connection import (
    LoginRefused,
    connect,
    disconnect,
    handing_over,
    login_options,
    reconnecting,
    run_until,
    until_disconnected,
)
from ground.messages import Ack, Event, GroundError, checked
from interface.broker import parse_broker, stop_task
from interface.catalog import DICTIONARY
from interface.dictionary import Dictionary
from interface.messages import SequenceStatusMessage, StatusMessage
from interface.topics import Topics

Listener = Callable[[str, dict[str, Any]], None]


class DictionaryMismatch(GroundError):
    """The vehicle runs another dictionary than the one this console was built with."""

    def __init__(self, vehicle: str, expected: str, found: str) -> None:
        super().__init__(
            f"vehicle {vehicle} runs dictionary {found}, this console has {expected}: "
            "commanding it could send the wrong arguments, so it is refused "
            "(update the console, or connect with check_dictionary=False to only watch)"
        )
        self.vehicle = vehicle
        self.expected = expected
        self.found = found


class VehicleUnavailable(GroundError):
    """Nothing from the vehicle arrived in time (no retained dictionary or status)."""


class Session:
    """One vehicle over one broker: the connection and the vehicle's latest state
    (``dictionary``, ``status``, ``sequence_status``, ``values``, ``events``, ``acks``).
    An async context manager; see :class:`ground.GroundClient` for the arguments."""

    def __init__(
        self,
        *,
        broker: str,
        vehicle: str,
        key: bytes | None = None,
        expected: Dictionary = DICTIONARY,
        check_dictionary: bool = True,
        timeout_s: float = 10.0,
        identifier: str | None = None,
        clean_session: bool = True,
        history: int = 1000,
        username: str | None = None,
        password: str | None = None,
        ca_file: Path | None = None,
    ) -> None:
        self.host, self.port = parse_broker(broker)
        self.broker = broker
        self.username = username or None
        self._login = login_options(broker, username=username, password=password, ca_file=ca_file)
        self.vehicle = vehicle
        self.topics = Topics(vehicle)
        self.key = key
        self.expected = expected
        self.check_dictionary = check_dictionary
        self.timeout_s = timeout_s
        self._identifier = identifier
        self._clean_session = clean_session
        self.dictionary: Dictionary | None = None
        self.status: dict[str, Any] = {}
        self.sequence_status: dict[str, Any] = {}
        #: The retained custody head (``samples/head``): the vehicle's ledger and public key.
        self.samples_head: dict[str, Any] = {}
        self.values: dict[str, Any] = {}
        self._live: set[str] = set()
        self.events: deque[Event] = deque(maxlen=history)
        #: Acks by command id, the most recent ``history`` commands.
        self.acks: OrderedDict[str, list[Ack]] = OrderedDict()
        self._history = history
        self.last_heard: float | None = None
        #: Messages on the vehicle's topics that were not of the shape it sends (not kept).
        self.rejected = 0
        self._listeners: list[Listener] = []
        self._changed = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._reader: asyncio.Task[None] | None = None
        #: What a listener raised, if one did: it ends the reading (a bug, not the broker's).
        self._error: Exception | None = None
        self._failed = asyncio.Event()

    # --- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self._connect()  # the first time, a broker that is not there is an error
        self._reader = asyncio.create_task(self._stay_connected())
        try:
            await self._until(lambda: self.dictionary is not None, self.timeout_s)
        except TimeoutError:
            await self.__aexit__(None, None, None)
            raise VehicleUnavailable(
                f"no dictionary from vehicle {self.vehicle!r} on {self.topics.dict} within "
                f"{self.timeout_s:g} s: is it running, and is this the right broker?"
            ) from None
        assert self.dictionary is not None
        if self.check_dictionary and self.dictionary.hash != self.expected.hash:
            found = self.dictionary.hash
            await self.__aexit__(None, None, None)
            raise DictionaryMismatch(self.vehicle, self.expected.hash, found)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._reader is not None:
                with contextlib.suppress(aiomqtt.MqttError):
                    await stop_task(self._reader)  # not cancel(): aiomqtt may drop it
        finally:
            self._reader = None
            await self._disconnect()
        if self._error is not None and exc is None:
            raise self._error  # a listener's: the reader was stopped before it raised it

    @property
    def connected(self) -> bool:
        return self._client is not None

    async def _connect(self) -> aiomqtt.Client:
        client = await connect(
            self.broker,
            f"{self.topics.prefix}/#",
            username=self.username,
            login=self._login,
            identifier=self._identifier,
            clean_session=self._clean_session,
            timeout=self.timeout_s,
            queue_type=handing_over(self._receive),
        )
        self._client = client
        self._changed.set()
        return client

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        await disconnect(client)

    async def _stay_connected(self) -> None:
        """Read messages; when the broker goes, reconnect with backoff (0.1 s doubling to
        5 s, from 0.1 s again once connected) and read on. Retained status and dictionary
        arrive again on resubscribing. A login refused now may pass later: it is retried."""
        while True:
            async for attempt in reconnecting((aiomqtt.MqttError, LoginRefused)):
                with attempt:  # the session, then connecting until it works
                    client = self._client
                    if client is None:
                        await self._connect()
                    else:
                        try:
                            await self._read(client)
                        finally:
                            await self._disconnect()

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(topic_suffix, document)`` for every message; returns its remover."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    # --- receiving -------------------------------------------------------------------

    async def _read(self, client: aiomqtt.Client) -> None:
        """Until the connection is lost (MqttError) or a listener raised (its error)."""
        await run_until(until_disconnected(client), self._failed)
        if self._error is not None:
            raise self._error

    def _receive(self, message: aiomqtt.Message) -> None:
        """Each message, as paho decodes it (:func:`ground.connection.handing_over`)."""
        if self._error is not None:
            return
        try:
            document = json.loads(message.payload)  # type: ignore[arg-type]
        except (TypeError, ValueError, RecursionError):  # nested too deeply: not ours
            return
        if not isinstance(document, dict):
            return
        suffix = str(message.topic)[len(self.topics.prefix) + 1 :]
        self.last_heard = time.monotonic()
        try:
            self._update(suffix, document)
        except (TypeError, ValueError, AttributeError, OverflowError):  # not the vehicle's
            self.rejected += 1
            return
        try:
            for listener in tuple(self._listeners):
                listener(suffix, document)
        except Exception as exc:
            self._error = exc
            self._failed.set()
        self._changed.set()

    def _update(self, suffix: str, document: dict[str, Any]) -> None:
        """Keep what ``document`` says; TypeError, ValueError, AttributeError or OverflowError
        for a document of a shape the vehicle never sends (nothing is kept of it)."""
        if suffix == "dict":
            exported = {k: v for k, v in document.items() if k != "hash"}
            if "commands" in exported:
                commands = [dict(command) for command in exported["commands"]]
                for command in commands:
                    command.pop("args_schema", None)
                exported["commands"] = commands
            with contextlib.suppress(ValueError):
                self.dictionary = Dictionary.model_validate(exported)
        elif suffix == "status":
            self.status = checked(StatusMessage, document)
        elif suffix == "seq/status":
            self.sequence_status = checked(SequenceStatusMessage, document)
        elif suffix == "samples/head":
            self.samples_head = document
        elif suffix.startswith("tm/"):
            values = document.get("values", {})
            if not isinstance(values, dict):
                raise TypeError("values: not an object")
            if any(isinstance(value, dict | list) for value in values.values()):
                raise TypeError("values: a value that is an object or a list")
            if document.get("replayed"):
                # History from the outbox never overwrites a value heard live; it only fills
                # channels not heard live yet (the latest known is better than none).
                values = {k: v for k, v in values.items() if k not in self._live}
            else:
                self._live.update(values)
            self.values.update(values)
        elif suffix == "evr":
            self.events.append(Event.from_message(document))
        elif suffix == "cmd/ack":
            ack = Ack.from_message(document)
            self.acks.setdefault(ack.id, []).append(ack)
            self.acks.move_to_end(ack.id)
            while len(self.acks) > self._history:
                self.acks.popitem(last=False)

    async def _until(self, ready: Callable[[], bool], timeout_s: float) -> None:
        async with asyncio.timeout(timeout_s):
            while not ready():
                self._changed.clear()
                await self._changed.wait()
