"""The ground's client of one vehicle: learn its dictionary, command it, watch it."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import stat
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import aiomqtt
from aiomqtt.exceptions import MqttConnectError

from ground.messages import Ack, Event, GroundError
from interface.broker import NODELAY, parse_broker, stop_task
from interface.catalog import DICTIONARY
from interface.condition import parse_condition
from interface.dictionary import ArgumentError, Dictionary
from interface.signing import MAX_COUNTER, access_problem, sign
from interface.topics import Topics

STAGES = ("ACCEPTED", "STARTED", "COMPLETED")
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


class LoginRefused(GroundError):
    """The broker refused the connection: "not authorised" (a wrong user name or password,
    or no login where the broker needs one)."""


class PasswordFileError(GroundError):
    """A broker password file that cannot be read or that group or others may access."""


MAX_PASSWORD_FILE_BYTES = 4096


def read_password(path: Path) -> str:
    """The broker password: the first line of ``path``, a file only its owner may access.

    The flight's rule for secret files (:func:`interface.signing.access_problem`). Refused
    with :class:`PasswordFileError` naming the file: missing or unreadable, not a regular
    file, permissions that let group or others read or write it (``run: chmod 600``).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        why = "permission denied" if isinstance(exc, PermissionError) else exc.strerror
        raise PasswordFileError(f"password file {path}: not readable: {why}") from None
    with os.fdopen(fd, "rb") as stream:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise PasswordFileError(f"password file {path}: is not a file")
        problem = access_problem(path, mode)
        if problem is not None:
            raise PasswordFileError(f"password file {path}: {problem}")
        data = stream.read(MAX_PASSWORD_FILE_BYTES)
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise PasswordFileError(f"password file {path}: not UTF-8 text") from None
    return lines[0] if lines else ""


def login_options(
    broker: str, *, username: str | None, password: str | None, ca_file: Path | None
) -> dict[str, Any]:
    """``aiomqtt.Client`` keywords for a login: user name and password (none without a user
    name), TLS verified against ``ca_file`` (else the system's CAs) for an ``mqtts://`` broker;
    ``ca_file`` is not used with ``mqtt://``. ValueError for a CA file that is not a file."""
    tls = None
    if broker.startswith("mqtts://"):
        if ca_file is not None and not Path(ca_file).is_file():
            raise ValueError(f"CA file {ca_file}: not a file")
        tls = aiomqtt.TLSParameters(ca_certs=str(ca_file) if ca_file is not None else None)
    return {
        "username": username or None,
        "password": password if username else None,
        "tls_params": tls,
    }


def login_refused(broker: str, username: str | None, exc: BaseException) -> LoginRefused | None:
    """The :class:`LoginRefused` that ``exc`` (an aiomqtt error on connecting) means, if any:
    the broker answered CONNACK "not authorised" or "bad user name or password"."""
    if not isinstance(exc, MqttConnectError):
        return None
    code = getattr(exc.rc, "value", exc.rc)
    if code not in (4, 5, 134, 135):
        return None
    if username:
        return LoginRefused(
            f"broker {broker}: not authorised: it refused the login of user {username!r} "
            "(wrong user name or password)"
        )
    return LoginRefused(
        f"broker {broker}: not authorised: it needs a login (a user name and a password file)"
    )


class CommandRefused(GroundError):
    """The vehicle answered FAILED; ``ack`` has the reason and detail."""

    def __init__(self, ack: Ack) -> None:
        super().__init__(f"{ack.name} ({ack.id}) FAILED: {ack.reason}: {ack.detail}")
        self.ack = ack


class GroundClient:
    """One vehicle over one broker. An async context manager; every wait has a timeout.

    On entry it reads the vehicle's retained ``dict`` and ``status``; with
    ``check_dictionary`` (the default) a vehicle whose dictionary hash differs from this
    build's is refused with :class:`DictionaryMismatch`. ``username`` and ``password`` log in
    to the broker (a refused login raises :class:`LoginRefused`); an ``mqtts://`` broker is
    reached over TLS and verified against ``ca_file`` (default: the system's CAs).
    """

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
        self.values: dict[str, Any] = {}
        self._live: set[str] = set()
        self.events: deque[Event] = deque(maxlen=history)
        #: Acks by command id, the most recent ``history`` commands.
        self.acks: OrderedDict[str, list[Ack]] = OrderedDict()
        self._history = history
        self.last_heard: float | None = None
        self._listeners: list[Listener] = []
        self._changed = asyncio.Event()
        self._counter = 0
        self._ids = itertools.count(1)
        self._session = f"{os.getpid():x}-{int(time.time()):x}"
        self._client: aiomqtt.Client | None = None
        self._reader: asyncio.Task[None] | None = None

    # --- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> GroundClient:
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
        if self._reader is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await stop_task(self._reader)  # not cancel(): aiomqtt may drop it
            self._reader = None
        await self._disconnect()

    @property
    def connected(self) -> bool:
        return self._client is not None

    async def _connect(self) -> aiomqtt.Client:
        client = aiomqtt.Client(
            self.host,
            self.port,
            identifier=self._identifier,
            clean_session=self._clean_session,
            socket_options=NODELAY,
            timeout=self.timeout_s,
            **self._login,
        )
        try:
            await client.__aenter__()
        except aiomqtt.MqttError as exc:
            refused = login_refused(self.broker, self.username, exc)
            if refused is not None:
                raise refused from None
            raise
        try:
            await client.subscribe(f"{self.topics.prefix}/#", qos=1)
        except aiomqtt.MqttError:
            with contextlib.suppress(aiomqtt.MqttError):
                await client.__aexit__(None, None, None)
            raise
        self._client = client
        self._changed.set()
        return client

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await client.__aexit__(None, None, None)

    async def _stay_connected(self) -> None:
        """Read messages; when the broker goes, reconnect with backoff (0.1 s doubling to
        5 s) and read on. Retained status and dictionary arrive again on resubscribing."""
        delay = 0.1
        while True:
            client = self._client
            try:
                if client is None:
                    client = await self._connect()
                    delay = 0.1
                await self._read(client)
            except (aiomqtt.MqttError, LoginRefused):  # a login refused now may pass later
                await self._disconnect()
                await asyncio.sleep(delay)  # real-time backoff: the broker needs it to return
                delay = min(delay * 2, 5.0)

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(topic_suffix, document)`` for every message; returns its remover."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    # --- receiving -------------------------------------------------------------------

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            try:
                document = json.loads(message.payload)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                continue
            if isinstance(document, dict):
                self._take(str(message.topic)[len(self.topics.prefix) + 1 :], document)

    def _take(self, suffix: str, document: dict[str, Any]) -> None:
        self.last_heard = time.monotonic()
        if suffix == "dict":
            exported = {k: v for k, v in document.items() if k != "hash"}
            for command in exported.get("commands", []):
                command.pop("args_schema", None)
            with contextlib.suppress(ValueError):
                self.dictionary = Dictionary.model_validate(exported)
        elif suffix == "status":
            self.status = document
        elif suffix == "seq/status":
            self.sequence_status = document
        elif suffix.startswith("tm/"):
            values = document.get("values", {})
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
        for listener in tuple(self._listeners):
            listener(suffix, document)
        self._changed.set()

    async def _until(self, ready: Callable[[], bool], timeout_s: float) -> None:
        async with asyncio.timeout(timeout_s):
            while not ready():
                self._changed.clear()
                await self._changed.wait()

    # --- commanding ------------------------------------------------------------------

    def check(self, name: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments validated against the vehicle's dictionary (GroundError if not)."""
        dictionary = self.dictionary or self.expected
        definition = dictionary.command_index.get(name)
        if definition is None:
            raise GroundError(f"{name!r} is not a command of vehicle {self.vehicle}")
        try:
            definition.validate_args(dict(args))
        except ArgumentError as exc:
            raise GroundError(str(exc)) from None
        return dict(args)

    async def send(
        self,
        name: str,
        /,
        args: Mapping[str, Any] | None = None,
        *,
        wait: str = "COMPLETED",
        timeout_s: float | None = None,
        topic: str | None = None,
    ) -> list[Ack]:
        """Send a command and wait for stage ``wait`` (ACCEPTED, STARTED or COMPLETED).

        Returns the acks so far; raises :class:`CommandRefused` on FAILED and TimeoutError
        when the stage does not come within ``timeout_s``.
        """
        if wait not in STAGES:
            raise ValueError(f"wait: must be one of {', '.join(STAGES)}, got {wait!r}")
        checked = self.check(name, args or {})
        command_id = await self.publish_command(name, checked, topic=topic)
        return await self.wait_ack(command_id, wait=wait, timeout_s=timeout_s)

    async def publish_command(
        self, name: str, args: Mapping[str, Any], *, topic: str | None = None
    ) -> str:
        """Publish a command without waiting; returns its id."""
        client = self._require()
        command_id = f"{self._session}-{next(self._ids)}"
        message: dict[str, Any] = {"id": command_id, "name": name, "args": dict(args)}
        if self.key is not None:
            # Milliseconds since the epoch, never repeating: no state to keep between runs;
            # and above the highest counter the vehicle reports having accepted (another
            # console's, or one from a clock that ran ahead), so a restarted client goes on.
            self._counter = max(
                self._counter + 1, time.time_ns() // 1_000_000, self.vehicle_counter() + 1
            )
            if self._counter > MAX_COUNTER:
                raise GroundError(
                    f"vehicle {self.vehicle} has accepted command counter "
                    f"{self.vehicle_counter()}: no higher counter can be signed (the largest "
                    f"is {MAX_COUNTER}); install a new command key on the vehicle and here "
                    "(a new key starts the counter again, see docs/mqtt.md)"
                )
            message["counter"] = self._counter
            message["mac"] = sign(
                self.key, vehicle=self.vehicle, counter=self._counter, name=name, args=args
            )
        self.acks.setdefault(command_id, [])
        payload = json.dumps(message)
        try:
            await client.publish(topic or self.topics.cmd, payload, qos=1)
        except aiomqtt.MqttError as exc:
            raise GroundError(f"{name} not delivered to {self.broker}: {exc}") from None
        return command_id

    def vehicle_counter(self) -> int:
        """The highest command counter the vehicle reports having accepted (its retained
        status, ``highest_counter``); 0 when it reports none."""
        value = self.status.get("highest_counter")
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    async def wait_ack(
        self, command_id: str, *, wait: str = "COMPLETED", timeout_s: float | None = None
    ) -> list[Ack]:
        """The acks of ``command_id`` once it reached ``wait`` (CommandRefused on FAILED)."""
        wanted = STAGES.index(wait)

        def reached() -> bool:
            stages = [a.stage for a in self.acks.get(command_id, [])]
            return "FAILED" in stages or any(
                s in STAGES and STAGES.index(s) >= wanted for s in stages
            )

        await self._until(reached, timeout_s or self.timeout_s)
        acks = list(self.acks[command_id])
        failed = next((a for a in acks if a.stage == "FAILED"), None)
        if failed is not None:
            raise CommandRefused(failed)
        return acks

    def _require(self) -> aiomqtt.Client:
        if self._client is None:
            raise GroundError(f"not connected to {self.broker} (reconnecting; try again)")
        return self._client

    # --- watching --------------------------------------------------------------------

    async def wait_telemetry(self, condition: str, *, timeout_s: float) -> dict[str, Any]:
        """Return the latest values once ``condition`` (e.g. ``elec.h2_pressure_kpa >= 150``)
        holds; ValueError for a condition the dictionary does not allow."""
        parsed = parse_condition(condition, self.dictionary or self.expected)
        await self._until(lambda: parsed.evaluate(self.values), timeout_s)
        return dict(self.values)

    async def await_event(
        self,
        event_id: str,
        *,
        timeout_s: float,
        where: Callable[[Event], bool] = lambda _: True,
        since: int = 0,
    ) -> Event:
        """The first event ``event_id`` (with event seq above ``since``) matching ``where``."""

        def found() -> Event | None:
            return next(
                (e for e in self.events if e.id == event_id and e.seq > since and where(e)), None
            )

        await self._until(lambda: found() is not None, timeout_s)
        event = found()
        assert event is not None
        return event

    # --- sequences -------------------------------------------------------------------

    async def upload_sequence(
        self, name: str, text: str, *, timeout_s: float | None = None
    ) -> None:
        await self.send(
            "SEQ.UPLOAD",
            {"name": name, "text": text},
            topic=self.topics.seq_upload,
            timeout_s=timeout_s,
        )

    async def start_sequence(self, name: str, *, timeout_s: float | None = None) -> int:
        """Start an uploaded sequence; returns the event mark for :meth:`wait_sequence_end`."""
        mark = max((e.seq for e in self.events), default=0)
        await self.send(
            "SEQ.START", {"name": name}, topic=self.topics.seq_start, timeout_s=timeout_s
        )
        return mark

    async def abort_sequence(self, *, timeout_s: float | None = None) -> None:
        await self.send("SEQ.ABORT", topic=self.topics.seq_abort, timeout_s=timeout_s)

    async def wait_sequence_end(
        self, name: str, *, since: int, timeout_s: float
    ) -> tuple[Event, dict[str, Any]]:
        """The SEQ_COMPLETED or SEQ_ABORTED event of ``name`` after event ``since``, and the
        sequence status as it then stands."""

        def ended() -> Event | None:
            return next(
                (
                    e
                    for e in self.events
                    if e.id in ("SEQ_COMPLETED", "SEQ_ABORTED")
                    and e.seq > since
                    and e.args.get("name") == name
                ),
                None,
            )

        await self._until(lambda: ended() is not None, timeout_s)
        event = ended()
        assert event is not None
        return event, dict(self.sequence_status)
