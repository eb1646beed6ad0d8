"""QoS 1 publishing on an aiomqtt client without a task, a future or an event-loop round trip
per message: what the 50 Hz telemetry stream and the outbox replay send.

aiomqtt's ``publish`` costs, for every message, a coroutine awaited in a task of its own, an
``asyncio.Event``, and a ``call_soon_threadsafe`` (a write to the event loop's self-pipe) that
adds a socket writer, which the next loop turn runs and removes again. :class:`Publisher`
calls paho's ``publish`` directly, keeps one callback per message id until its PUBACK, and
writes whatever paho queued once per loop turn (``loop.call_soon``), so a burst of publishes in
one turn (the replay) leaves in one go.

This is the only place, besides ending a session (``flight.mqtt.wire.settle``), that reaches
into aiomqtt's private paho client (``Client._client``); aiomqtt is pinned ``<3`` for it, and
``tests/test_publisher.py`` checks it against a real broker.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import aiomqtt
import paho.mqtt.client as paho

#: Called with the message id once the broker confirmed that message (its PUBACK).
Confirmed = Callable[[int], None]


class Publisher:
    """QoS 1 publishes on one connected aiomqtt client (one session), each confirmed by a
    callback. A message the broker never confirms gets no callback: whoever published it
    keeps it until the session ends (the uplink stores it in the outbox then)."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self._aiomqtt = client
        self._paho: paho.Client = client._client
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        #: message id -> its confirmation callback, until the PUBACK
        self._waiting: dict[int, Confirmed] = {}
        self._flush_soon = False
        self._their_on_publish: Any = self._paho.on_publish
        self._their_register_write: Any = self._paho.on_socket_register_write
        self._paho.on_publish = self._on_publish
        self._paho.on_socket_register_write = self._on_register_write

    def __len__(self) -> int:
        """Messages sent through this publisher and not yet confirmed."""
        return len(self._waiting)

    def publish(
        self, topic: str, payload: bytes, *, retain: bool, confirmed: Confirmed, qos: int = 1
    ) -> int:
        """Send one message (QoS 1 unless told) and return its id; ``confirmed(id)`` is called
        once the broker has it. Raises :class:`aiomqtt.MqttCodeError` if paho could not send it (no
        connection, or its id is still waiting for a PUBACK: 65,535 messages in flight)."""
        info = self._paho.publish(topic, payload, qos, retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")
        mid = info.mid
        if mid in self._waiting or mid in self._aiomqtt._pending_publishes:
            raise aiomqtt.MqttError(f"message id {mid} is already waiting for its PUBACK")
        self._waiting[mid] = confirmed
        return mid

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int, *args: Any) -> None:
        confirmed = self._waiting.pop(mid, None)
        if confirmed is None:  # one of aiomqtt's own publishes (status, dictionary)
            self._their_on_publish(client, userdata, mid, *args)
        else:
            confirmed(mid)

    def _on_register_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        """paho has bytes to send: send them at the end of this loop turn, together with
        whatever else this turn publishes (from another thread: aiomqtt's way)."""
        if threading.get_ident() != self._thread:
            self._their_register_write(client, userdata, sock)
        elif not self._flush_soon:
            self._flush_soon = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_soon = False
        paho_client = self._paho
        try:
            paho_client.loop_write()
        except Exception as exc:  # the connection broke: as aiomqtt's own writer does
            disconnected = self._aiomqtt._disconnected
            if not disconnected.done():
                disconnected.set_exception(exc)
            return
        sock = paho_client.socket()
        if paho_client.want_write() and sock is not None:
            # The socket is full: the rest goes when it is writable again (aiomqtt's writer,
            # which paho removes once everything is out).
            self._their_register_write(paho_client, None, sock)
