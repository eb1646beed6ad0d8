"""The bytes of the packets :class:`~flight.mqtt.publisher.Publisher` writes itself (MQTT
3.1.1 QoS 1 PUBLISH, section 3.3) and the entries of paho's outgoing packet queue they go in,
joined so that a run of packets leaves in one ``send``."""

from __future__ import annotations

from typing import Any

#: PUBLISH with QoS 1 (MQTT 3.1.1 section 3.3.1), and PUBACK, in the first byte of a packet.
PUBLISH_QOS1 = 0x32
PUBACK = 0x40
#: The largest "remaining length" an MQTT packet can have (section 2.2.3).
MAX_REMAINING = 268_435_455
#: Packets after which paho does something once they are written: a DISCONNECT (it closes
#: the socket) and a QoS 0 PUBLISH (its ``on_publish``). Any other packet is plain bytes.
_DISCONNECT = 0xE0
_PUBLISH = 0x30


def topic_name(topic: str) -> bytes:
    """The topic as a PUBLISH carries it: length-prefixed UTF-8. Raises ValueError for a
    topic that cannot be published to (empty, a wildcard, longer than 65,535 bytes)."""
    encoded = topic.encode("utf-8")
    if not encoded or b"+" in encoded or b"#" in encoded or len(encoded) > 0xFFFF:
        raise ValueError(f"topic: cannot be published to, got {topic!r}")
    return len(encoded).to_bytes(2, "big") + encoded


def remaining_length(name: bytes, payload: bytes) -> int:
    """The "remaining length" of a QoS 1 PUBLISH of ``payload`` to the topic ``name`` (from
    :func:`topic_name`). Raises ValueError if it is more than MQTT can carry."""
    length = len(name) + 2 + len(payload)
    if length > MAX_REMAINING:
        raise ValueError(f"payload: {len(payload)} bytes is more than MQTT can carry")
    return length


def publish_packet(
    name: bytes, mid: int, payload: bytes, length: int, *, retain: bool
) -> bytearray:
    """A QoS 1 PUBLISH packet: fixed header, topic, packet id, payload (section 3.3);
    ``length`` is its :func:`remaining_length`."""
    packet = bytearray((PUBLISH_QOS1 | bool(retain),))
    while length > 0x7F:  # the remaining length, 7 bits a byte (section 2.2.3)
        packet.append(length & 0x7F | 0x80)
        length >>= 7
    packet.append(length)
    packet += name
    packet += mid.to_bytes(2, "big")
    packet += payload
    return packet


def coalesce(out: Any) -> None:
    """Join the runs of plain packets in paho's outgoing queue (our batches, paho's PUBACKs,
    aiomqtt's QoS 1 publishes) into one entry each, which paho writes with one ``send``
    instead of one per packet. Order is kept; what is left of a packet partly written is
    joined from where it was cut."""
    if len(out) < 2:
        return
    entries = list(out)
    out.clear()
    run: bytearray | None = None
    for entry in entries:
        kind = entry["command"] & 0xF0
        if kind == _DISCONNECT or (kind == _PUBLISH and entry["qos"] == 0):
            if run is not None:
                out.append(queue_entry(run))
                run = None
            out.append(entry)
            continue
        rest = entry["packet"][entry["pos"] :]
        if run is None:
            run = bytearray(rest)
        else:
            run += rest
    if run is not None:
        out.append(queue_entry(run))


def queue_entry(packet: bytearray) -> dict[str, Any]:
    """One entry of paho's outgoing queue (an ``_OutPacket``) for plain bytes."""
    return {
        "command": PUBLISH_QOS1,
        "mid": 0,
        "qos": 1,
        "pos": 0,
        "to_process": len(packet),
        "packet": packet,
        "info": None,
    }
