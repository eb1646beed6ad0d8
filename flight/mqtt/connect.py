"""How the flight reaches its broker: the client a session connects with (last will, TLS,
login, the bounded incoming queue), the backoff between attempts, and the retained "offline"
said before a clean disconnect."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable
from typing import NoReturn, cast

import aiomqtt
from tenacity import AsyncRetrying, retry_if_result, wait_exponential

from flight.mqtt.bounds import IntakeQueue
from flight.mqtt.support import MQTT_LOG
from interface.broker import NODELAY

#: How long a last "offline" status may take to be confirmed before the session ends: on a
#: busy machine 2 s was not always enough, and a clean disconnect after an unconfirmed
#: "offline" leaves the retained status "online" (the broker sends no will then). A session
#: still starting when the uplink stops gets as long again to go live first (see
#: :meth:`flight.mqtt.session.Uplink._say_offline`): both fit in the 15 s systemd and
#: ``isru sil`` give a stop.
OFFLINE_TIMEOUT_S = 5.0


def make_client(
    *,
    host: str,
    port: int,
    identifier: str,
    will: aiomqtt.Will,
    tls: aiomqtt.TLSParameters | None,
    username: str | None,
    password: str | None,
    admit: Callable[[aiomqtt.Message, IntakeQueue], bool],
    queue_messages: int,
) -> aiomqtt.Client:
    """A session's client; each incoming message is seen by ``admit`` (and may be dropped)
    before it is buffered, at most ``queue_messages`` of them."""
    intake = functools.partial(IntakeQueue, admit=admit)
    return aiomqtt.Client(
        host,
        port,
        identifier=identifier,
        clean_session=False,
        will=will,
        socket_options=NODELAY,
        max_inflight_messages=0,  # no limit in paho: its limit rescans all pending per PUBACK
        timeout=3,  # also bounds a clean disconnect from a broker that is gone
        tls_params=tls,
        logger=MQTT_LOG,
        username=username,
        password=password,
        # Bounded, and each message is seen (and may be dropped) before it is buffered.
        queue_type=cast(type[asyncio.Queue[aiomqtt.Message]], intake),
        max_queued_incoming_messages=queue_messages,
    )


async def say_offline(client: aiomqtt.Client, topic: str, offline: bytes) -> None:
    """Publish the retained "offline" status and wait (up to OFFLINE_TIMEOUT_S) for the
    broker to confirm it; a connection that fails meanwhile is left to its last will."""
    with contextlib.suppress(aiomqtt.MqttError):
        await client.publish(topic, offline, qos=1, retain=True, timeout=OFFLINE_TIMEOUT_S)


async def reconnect(attempt: Callable[[], Awaitable[bool]], min_s: float, max_s: float) -> NoReturn:
    """Sessions, one after another, until cancelled: ``attempt`` runs one to its end and says
    whether it got through. Failed attempts back off exponentially from ``min_s`` to
    ``max_s``; a session that got through starts the backoff again."""
    while True:
        backoff = AsyncRetrying(
            retry=retry_if_result(lambda linked: not linked),
            wait=wait_exponential(multiplier=min_s, max=max_s),
            sleep=asyncio.sleep,  # real time: the broker needs it to return
        )
        await backoff(attempt)
        await asyncio.sleep(min_s)
