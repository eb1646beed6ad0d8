"""QoS 1 publishing on an aiomqtt client without a task, a future or an event-loop round trip
per message, nor a Python object per PUBACK: what the 50 Hz telemetry stream and the outbox
replay send.

aiomqtt's ``publish`` costs, for every message, a coroutine awaited in a task of its own, an
``asyncio.Event``, and a ``call_soon_threadsafe`` (a write to the event loop's self-pipe) that
adds a socket writer, which the next loop turn runs and removes again; paho's own ``publish``
builds a message object with a ``threading.Condition``, and its PUBACK handling builds a
``ReasonCode`` and a ``Properties`` object per acknowledgement and reads each packet with three
``recv`` calls. :class:`Publisher` instead:

- writes each QoS 1 PUBLISH packet itself (MQTT 3.1.1 section 3.3: fixed header, topic, packet
  id, payload) with a packet id from paho's own counter, so ids never collide with aiomqtt's
  publishes, and queues it on paho's outgoing packet queue, behind what paho already queued:
  every packet leaves in the order it was made. Packets made one after another are one entry
  of that queue and leave in one ``send`` once the event loop has nothing else ready to run
  (at most IDLE_TURNS turns later): a command's ACCEPTED, STARTED and COMPLETED leave
  together, instead of each waking the broker and the ground in turn before the next is made;
  the final one (``now``) leaves at once, or, made inside paho's callback (a command run as it
  is read), as soon as that read is over. A message published with ``gather_s`` (the
  telemetry stream) waits up to that long for others to leave with it, unless something that
  may not wait (any other message, paho's own packets) takes it along sooner: three boards at
  50 Hz make one write and one PUBACK wake per window instead of one per packet;
- reads the socket 64 KiB at a time and serves paho's small reads from that buffer, every
  packet waiting at each wake (paho asks for 1 byte, the length, then the rest of each
  packet: three system calls a PUBACK otherwise);
- takes a PUBACK for one of its own packet ids before paho decodes it, and calls that
  message's callback. Everything else (aiomqtt's publishes, SUBACKs, incoming commands,
  PINGRESP) goes to paho as before.

Other QoS levels go through paho's ``publish``, confirmed by its ``on_publish``.

This is the only place, besides ending a session (``flight.mqtt.wire.settle``), that reaches
into aiomqtt's private paho client (``Client._client``) and paho's private parts
(``_sock_recv``, ``_packet_handle``, ``_in_packet``, ``_out_packet``, ``_mid_generate``,
``_in_callback_mutex``, ``_out_messages``); aiomqtt is pinned ``<3`` (and with it paho ``<3``)
for it, and ``tests/test_publisher.py`` checks it against a real broker. Whether the event
loop has anything else ready is read from asyncio's ``BaseEventLoop._ready`` (a loop without
it, such as uvloop, sends at the next turn).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import aiomqtt
import paho.mqtt.client as paho

from flight.mqtt.packets import (
    PUBACK,
    coalesce,
    publish_packet,
    queue_entry,
    remaining_length,
    topic_name,
)

#: Called with the message id once the broker confirmed that message (its PUBACK).
Confirmed = Callable[[int], None]

#: Bytes read from the socket at a time.
RECV_BYTES = 65536
#: Topics whose encoded form is kept, at most (the vehicle publishes to a few dozen).
_TOPIC_CACHE = 256
#: Turns a send may wait for the event loop to have nothing else ready, at most.
IDLE_TURNS = 8


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
        #: topic -> its length-prefixed UTF-8 form, checked
        self._topics: dict[str, bytes] = {}
        #: The pending packets: their entry in paho's outgoing queue, until it is written.
        self._batch: Any = None  # a paho ``_OutPacket``
        #: The write waiting for the loop to be idle, or for the gathering window, if one is.
        self._scheduled: asyncio.Handle | None = None
        #: Whether that write waits for the gathering window (not just for the loop).
        self._gathering = False
        self._flushing = False
        #: Turns the pending send has waited for the loop to be idle.
        self._waited = 0
        #: A write asked for at once from inside paho's callback, due when the read is over.
        self._after_read = False
        self._rbuf = b""
        self._rpos = 0
        self._their_on_publish: Any = self._paho.on_publish
        self._their_register_write: Any = self._paho.on_socket_register_write
        self._their_loop_read: Any = self._paho.loop_read
        self._their_sock_recv: Any = self._paho._sock_recv
        self._their_packet_handle: Any = self._paho._packet_handle
        self._paho.on_publish = self._on_publish
        self._paho.on_socket_register_write = self._on_register_write
        # aiomqtt's reader and paho's packet reader look these up on the instance.
        self._paho.loop_read = self._loop_read  # type: ignore[method-assign]
        self._paho._sock_recv = self._sock_recv  # type: ignore[method-assign]
        self._paho._packet_handle = self._packet_handle  # type: ignore[method-assign]

    def __len__(self) -> int:
        """Messages sent through this publisher and not yet confirmed."""
        return len(self._waiting)

    # --- sending ---------------------------------------------------------------------

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        retain: bool,
        confirmed: Confirmed,
        qos: int = 1,
        now: bool = False,
        gather_s: float = 0.0,
    ) -> int:
        """Send one message (QoS 1 unless told) and return its id; ``confirmed(id)`` is called
        once the broker has it. It leaves with whatever else is made until the event loop is
        idle, or (``now``: the last of a series, such as a command's final ack) at once, with
        whatever waits before it; with ``gather_s`` it may wait that long for company (see the
        module's docstring). Raises :class:`aiomqtt.MqttCodeError` if it cannot be sent
        (no connection), :class:`aiomqtt.MqttError` if its id is still waiting for a PUBACK
        (65,535 messages in flight), ValueError for a topic that cannot be published to."""
        paho_client = self._paho
        if qos != 1:
            mid = self._publish_by_paho(topic, payload, qos, retain, confirmed)
            if now:
                self._flush_now()
            return mid
        if paho_client._sock is None:
            raise aiomqtt.MqttCodeError(paho.MQTT_ERR_NO_CONN, "Could not publish message")
        name = self._topics.get(topic) or self._topic(topic)
        length = remaining_length(name, payload)
        mid = paho_client._mid_generate()
        if mid in self._waiting or mid in paho_client._out_messages:
            raise aiomqtt.MqttError(f"message id {mid} is already waiting for its PUBACK")
        packet = publish_packet(name, mid, payload, length, retain=retain)
        self._queue(packet, gather_s)
        self._waiting[mid] = confirmed
        if now:
            self._flush_now()
        return mid

    def _flush_now(self) -> None:
        """Write what waits at once; from inside one of paho's callbacks (a command handled as
        it is read), as soon as the read is over (paho's write may call back under the lock
        that the callback holds), or at the next turn if paho read without us."""
        if self._paho._in_callback_mutex.locked():
            self._after_read = True
            self._schedule()
        else:
            self._flush(idle=False)

    def _topic(self, topic: str) -> bytes:
        name = topic_name(topic)
        if len(self._topics) >= _TOPIC_CACHE:
            self._topics.clear()
        self._topics[topic] = name
        return name

    def _queue(self, packet: bytearray, gather_s: float) -> None:
        """Add a packet to the pending entry of paho's outgoing queue (a new entry behind
        whatever paho queued since), and have it written once the loop is idle (after up to
        ``gather_s``)."""
        out: Any = self._paho._out_packet
        batch = self._batch
        if batch is not None and out and out[-1] is batch:
            batch["packet"] += packet
            batch["to_process"] += len(packet)
        else:
            self._batch = batch = queue_entry(packet)
            out.append(batch)
        self._schedule(gather_s)

    def _publish_by_paho(
        self, topic: str, payload: bytes, qos: int, retain: bool, confirmed: Confirmed
    ) -> int:
        info = self._paho.publish(topic, payload, qos, retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")
        mid = info.mid
        if mid in self._waiting:
            raise aiomqtt.MqttError(f"message id {mid} is already waiting for its PUBACK")
        self._waiting[mid] = confirmed
        return mid

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int, *args: Any) -> None:
        """paho confirms one of its messages: ours (QoS 0 or 2) or aiomqtt's."""
        confirmed = self._waiting.pop(mid, None)
        if confirmed is None:  # one of aiomqtt's own publishes (status, dictionary)
            self._their_on_publish(client, userdata, mid, *args)
        else:
            confirmed(mid)

    def _on_register_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        """paho has bytes to send: send them with ours, once the loop is idle (from another
        thread: aiomqtt's way)."""
        if threading.get_ident() != self._thread:
            self._their_register_write(client, userdata, sock)
        else:
            self._schedule()

    def _schedule(self, gather_s: float = 0.0) -> None:
        """Have what waits written at the next idle turn, or (``gather_s``) once that window
        has passed, whichever is asked for first."""
        if self._flushing:
            return
        scheduled = self._scheduled
        if scheduled is not None:
            if gather_s or not self._gathering:
                return  # it leaves with the write already planned, as soon or sooner
            scheduled.cancel()  # what was gathering leaves now, with this
        self._gathering = gather_s > 0
        if gather_s > 0:
            self._scheduled = self._loop.call_later(gather_s, self._flush)
        else:
            self._scheduled = self._loop.call_soon(self._flush)

    def _flush(self, *, idle: bool = True) -> None:
        """Write what waits; while ``idle`` is asked for, first wait (a turn at a time, at most
        IDLE_TURNS) until the event loop has nothing else ready to run."""
        if self._flushing:
            return  # called back from inside paho's write: it is writing already
        if idle and getattr(self._loop, "_ready", None) and self._waited < IDLE_TURNS:
            self._waited += 1  # more is ready to run this turn: it may publish too
            self._scheduled = self._loop.call_soon(self._flush)
            self._gathering = False
            return
        if self._scheduled is not None:
            self._scheduled.cancel()  # (itself, if it is the one running)
            self._scheduled = None
        self._gathering = False
        self._waited = 0
        self._after_read = False
        self._batch = None  # what was queued is written (or being written) now
        paho_client = self._paho
        coalesce(paho_client._out_packet)
        self._flushing = True
        try:
            paho_client.loop_write()
        except Exception as exc:  # the connection broke: as aiomqtt's own writer does
            disconnected = self._aiomqtt._disconnected
            if not disconnected.done():
                disconnected.set_exception(exc)
            return
        finally:
            self._flushing = False
        sock = paho_client.socket()
        if paho_client.want_write() and sock is not None:
            # The socket is full: the rest goes when it is writable again (aiomqtt's writer,
            # which paho removes once everything is out).
            self._their_register_write(paho_client, None, sock)

    # --- receiving -------------------------------------------------------------------

    def _loop_read(self, max_packets: int = 1) -> Any:
        """Read every packet waiting, not just one: paho reads the first (which fills the
        buffer), then the PUBACKs of our messages at the head of the buffer are taken here and
        anything else goes to paho, packet by packet, until the buffer is empty."""
        paho_client = self._paho
        result = self._their_loop_read(max_packets)
        while result == paho.MQTT_ERR_SUCCESS and paho_client._sock is not None:
            if paho_client._in_packet["command"] == 0:  # between two packets
                self._take_pubacks()
            if self._rpos >= len(self._rbuf):
                break
            result = self._their_loop_read(max_packets)
        if paho_client._sock is None:  # gone: what was read for it means nothing now
            self._rbuf, self._rpos = b"", 0
        elif self._after_read:
            self._flush(idle=False)
        return result

    def _take_pubacks(self) -> None:
        """Confirm the PUBACKs of our messages that start the buffer, up to the first packet
        that is something else (paho reads that one)."""
        buffer, start = self._rbuf, self._rpos
        end = len(buffer)
        waiting = self._waiting
        theirs = self._paho._out_messages
        while start + 4 <= end and buffer[start] == PUBACK and buffer[start + 1] == 2:
            mid = buffer[start + 2] << 8 | buffer[start + 3]
            if mid not in waiting or mid in theirs:
                break
            start += 4
            self._rpos = start
            waiting.pop(mid)(mid)

    def _sock_recv(self, bufsize: int) -> bytes:
        """paho's read of ``bufsize`` bytes, served from a buffer filled RECV_BYTES at a time
        (raises as paho's own read does when there is nothing to read)."""
        buffer, start = self._rbuf, self._rpos
        if start >= len(buffer):
            buffer = bytes(self._their_sock_recv(RECV_BYTES))
            if not buffer:
                return buffer  # the connection is closed
            self._rbuf, start = buffer, 0
        self._rpos = end = start + bufsize
        return buffer[start:end]

    def _packet_handle(self) -> Any:
        """A PUBACK of one of our messages calls its callback; paho handles the rest."""
        packet = self._paho._in_packet
        if packet["command"] == PUBACK and packet["remaining_length"] == 2:
            body = packet["packet"]
            mid = body[0] << 8 | body[1]
            # (not one that paho sent for us: its own on_publish confirms that one)
            if mid in self._waiting and mid not in self._paho._out_messages:
                self._waiting.pop(mid)(mid)
                return paho.MQTT_ERR_SUCCESS
        return self._their_packet_handle()
