"""How any client of ours talks to the MQTT broker: its URL, the socket options, and how a
client task is stopped."""

from __future__ import annotations

import asyncio
import socket
from typing import Any
from urllib.parse import urlsplit

#: TCP_NODELAY for every MQTT client socket (aiomqtt's ``socket_options``): with Nagle's
#: algorithm left on, a QoS 1 round trip on loopback takes ~88 ms instead of under 1 ms.
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
#: How long :func:`stop_task` lets a cancelled task clean up before cancelling it again.
STOP_RETRY_S = 0.5


async def stop_task(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and return once it has ended; what it raised, other than the
    cancellation, is raised here.

    A plain ``cancel()`` can be lost on Python 3.11: aiomqtt awaits every broker reply (CONNACK,
    SUBACK, PUBACK) through ``asyncio.wait_for``, which returns the reply and drops the
    cancellation when both arrive in the same loop turn (CPython gh-86296, fixed in 3.12). The
    task then runs on into its next wait, typically ``client.messages``, and nothing ends it.
    So the cancellation is repeated until the task is done.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=STOP_RETRY_S)
    if not task.cancelled() and (error := task.exception()) is not None:
        raise error


def parse_broker(url: str) -> tuple[str, int]:
    """``mqtt://host:port`` (or ``mqtts://``) as (host, port); ValueError naming the problem.

    The one check of a broker URL for every client of ours and for ``mqtt.broker`` in the
    flight config. A login is given apart (user name, password file), never in the URL, which
    is printed: credentials in it are refused without echoing it; so are a path, query or
    fragment."""
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise ValueError("broker: credentials in the URL are not supported")
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"broker: {url!r} is not mqtt://host:port or mqtts://host:port")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"broker: {url!r} must not have a path, query or fragment")
    try:
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    except ValueError:
        raise ValueError(f"broker: {url!r} has a bad port") from None
    return parts.hostname, port
