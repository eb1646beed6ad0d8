"""What aiomqtt has no public accessor for: whether a client's connection is gone, handing
incoming messages over without its message iterator, tidying up after a session, and telling
the MQTT client's own errors from ours.

This and :mod:`flight.mqtt.publisher` are the only places that reach into aiomqtt's private
attributes; aiomqtt is pinned ``<3`` for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, NoReturn

import aiomqtt

from flight.mqtt.bounds import IntakeQueue


def disconnected(client: aiomqtt.Client) -> bool:
    """Whether the client's connection is gone (aiomqtt has no public accessor)."""
    return bool(client._disconnected.done())


async def serve_messages(
    client: aiomqtt.Client, handle: Callable[[aiomqtt.Message], None]
) -> NoReturn:
    """Hand each incoming message to ``handle`` in order, as it is admitted, until the
    connection is gone; then raise :class:`aiomqtt.MqttError`, as aiomqtt's message iterator
    does. An exception from ``handle`` (a bug) stops the handing over and is raised here. The
    client's ``queue_type`` must be :class:`~flight.mqtt.bounds.IntakeQueue`
    (:func:`flight.mqtt.connect.make_client`)."""
    queue = client._queue
    if not isinstance(queue, IntakeQueue):
        raise TypeError("client: its queue_type must be IntakeQueue")
    gone = client._disconnected
    failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def consume(message: aiomqtt.Message) -> None:
        try:
            handle(message)
        except Exception as exc:
            queue.consume(None)
            if not failed.done():
                failed.set_exception(exc)

    queue.consume(consume)
    try:
        # (gone is not awaited itself: cancelling us must not cancel it)
        await asyncio.wait([gone, failed], return_when=asyncio.FIRST_COMPLETED)
    finally:
        queue.consume(None)
    if failed.done():
        failed.result()  # raises what handle raised
    failed.cancel()
    cause = None if gone.cancelled() else gone.exception()
    raise aiomqtt.MqttError("Disconnected during message iteration") from cause


def settle(client: aiomqtt.Client) -> None:
    """After a session, whichever way it ended. The client's disconnect error is retrieved
    (asyncio would print it, with a traceback, as never retrieved), and a socket that a
    connect attempt left open (the CONNACK timed out) is closed: it could otherwise connect
    later under our client id and take the session from the next attempt."""
    with contextlib.suppress(Exception):
        gone = client._disconnected  # aiomqtt has no public accessor
        if gone.done() and not gone.cancelled():
            gone.exception()
    with contextlib.suppress(Exception):
        paho = client._client
        if paho.socket() is not None:
            paho.disconnect()


def _in_mqtt_client(module: str) -> bool:
    return module.split(".")[0] in ("aiomqtt", "paho")


def from_mqtt_client(context: dict[str, Any]) -> bool:
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
