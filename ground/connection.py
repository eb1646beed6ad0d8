"""How every ground program reaches the broker: its login (user name, password, TLS), one
connection subscribed to a vehicle's topics, and the backoff between attempts to reconnect.

Reconnecting waits with tenacity (kept, typed, asyncio support): :func:`reconnecting` is the
one retry policy of the ground, used by :class:`ground.GroundClient` and the recorder.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, NoReturn

import aiomqtt
from aiomqtt.exceptions import MqttConnectError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from ground.messages import GroundError
from interface.broker import NODELAY, parse_broker

#: The first wait before reconnecting, doubled after every failed attempt up to the cap; it
#: starts again from the first once a connection was made.
RECONNECT_FIRST_S = 0.1
RECONNECT_CAP_S = 5.0
#: MQTT packets read at most each time the event loop finds the socket readable.
PACKETS_PER_READ = 1000


class LoginRefused(GroundError):
    """The broker refused the connection: "not authorised" (a wrong user name or password,
    or no login where the broker needs one)."""


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


async def connect(
    broker: str, topic: str, *, username: str | None, login: dict[str, Any], **options: Any
) -> aiomqtt.Client:
    """A client connected to ``broker`` (``options`` are aiomqtt.Client's: identifier,
    clean_session...) and subscribed to ``topic`` with QoS 1. LoginRefused when the broker
    refuses the login; aiomqtt.MqttError when it cannot be reached."""
    host, port = parse_broker(broker)
    client = aiomqtt.Client(host, port, socket_options=NODELAY, **login, **options)
    read_all_waiting(client)
    try:
        await client.__aenter__()
    except aiomqtt.MqttError as exc:
        refused = login_refused(broker, username, exc)
        if refused is not None:
            raise refused from None
        raise
    try:
        await client.subscribe(topic, qos=1)
    except aiomqtt.MqttError:
        await disconnect(client)
        raise
    return client


def read_all_waiting(client: aiomqtt.Client) -> None:
    """Make ``client`` read every MQTT packet waiting on its socket (up to PACKETS_PER_READ)
    each time the event loop finds the socket readable.

    aiomqtt reads one packet per wake (paho's ``loop_read``), so a client reads as many
    packets a second as its event loop turns. A busy loop (the console's, on a loaded
    machine) turns less often than a sped-up SIL streams (200 telemetry messages a second at
    time scale 10): the backlog grows without end, and a command's PUBACK and acks wait
    behind it, longer and longer."""
    paho = client._client  # aiomqtt has no public accessor for its paho client
    read_one = paho.loop_read

    def loop_read(max_packets: int = 1) -> Any:
        result = read_one(max_packets)
        for _ in range(PACKETS_PER_READ - 1):
            if result != 0 or not _bytes_waiting(paho.socket()):  # 0: MQTT_ERR_SUCCESS
                break
            result = read_one(max_packets)
        return result

    paho.loop_read = loop_read  # type: ignore[method-assign]


def _bytes_waiting(sock: Any) -> bool:
    """Whether more bytes wait to be read on ``sock`` (a TLS socket: decrypted ones)."""
    if sock is None:
        return False
    if hasattr(sock, "pending"):
        return bool(sock.pending() > 0)
    try:
        return bool(sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except OSError:  # nothing waiting (EAGAIN), or an error the next read reports
        return False


def handing_over(take: Callable[[aiomqtt.Message], None]) -> type[asyncio.Queue[aiomqtt.Message]]:
    """An aiomqtt ``queue_type`` that queues nothing: its ``put_nowait`` (called by aiomqtt's
    ``on_message``, in the event loop's thread, as paho decodes each message) hands the message
    to ``take`` at once. ``take`` must not raise: paho would print the error and read on.

    aiomqtt's message iterator takes each message off its queue in a task of its own. A reader
    cancelled just after that task took one loses it, although paho has already acknowledged
    it to the broker, which never sends it again, even to a persistent session. Handed over as
    it is decoded, no message is ever lost that way, and none costs a task and an
    ``asyncio.wait``. Wait for the connection to end with :func:`until_disconnected`."""

    class HandOver(asyncio.Queue[aiomqtt.Message]):
        def put_nowait(self, item: aiomqtt.Message) -> None:
            take(item)

    return HandOver


async def until_disconnected(client: aiomqtt.Client) -> NoReturn:
    """Return never; raise aiomqtt.MqttError when the connection of ``client`` (whose
    messages are handed over, :func:`handing_over`) is lost."""
    async for _ in client.messages:
        pass
    raise aiomqtt.MqttError("the message iterator ended")  # it never does


async def run_until(work: Coroutine[Any, Any, Any], *events: asyncio.Event) -> None:
    """Run ``work`` until it ends (its exception propagates) or one of ``events`` is set."""
    task: asyncio.Task[Any] = asyncio.create_task(work)
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait({task, *waiters}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, *waiters):
            pending.cancel()
        for pending in (task, *waiters):
            with contextlib.suppress(asyncio.CancelledError):
                await pending
    if task.done() and not task.cancelled():
        task.result()


async def disconnect(client: aiomqtt.Client | None) -> None:
    """Leave the broker; a connection already lost is not an error."""
    if client is not None:
        with contextlib.suppress(aiomqtt.MqttError):
            await client.__aexit__(None, None, None)


def reconnecting(
    errors: type[BaseException] | tuple[type[BaseException], ...],
    *,
    on_retry: Callable[[BaseException, float], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> AsyncRetrying:
    """Attempts until one succeeds: after a failure with one of ``errors``, wait
    RECONNECT_FIRST_S, doubling per failure up to RECONNECT_CAP_S (any other error ends the
    attempts and is raised). ``on_retry(error, delay)`` runs before each wait; ``sleep``
    replaces asyncio.sleep (to stop waiting early).

    A loop that must start again from the first wait after a good connection makes each
    connection its own successful attempt, and runs a new ``reconnecting`` for the session
    after it (its first attempt: the session; the lost session its first failure)."""

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None and state.next_action is not None:
            error = state.outcome.exception()
            if error is not None:
                on_retry(error, state.next_action.sleep)

    options: dict[str, Any] = {} if sleep is None else {"sleep": sleep}
    return AsyncRetrying(
        retry=retry_if_exception_type(errors),
        wait=wait_exponential(multiplier=RECONNECT_FIRST_S, max=RECONNECT_CAP_S),
        before_sleep=before_sleep,
        reraise=True,
        **options,
    )
