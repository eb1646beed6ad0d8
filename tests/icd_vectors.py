"""Golden test vectors of the ICD: parse the doc's vector table, build and check each frame.

A vector is a row ``| name | `hex` | `decoded` |`` between the markers in ``docs/icd.md``.
``decoded`` reads ``TYPE seq=N id=0xNN NAME field=value ...``: the header, the command or
packet name, then every body field (enum members and flag bits by name, flags joined by ``+``).
Variants of that message text:

- ``TYPE v=N seq=...``: a header whose version nibble is N (not 1);
- ``... NAME body=XX*N``: a raw body of N bytes XX instead of the fields (a body that is not
  the command's layout, e.g. too long);
- ``PAYLOAD XX XX``: a frame around these payload bytes (shorter than a header);
- ``DROP oversize <message>``: the message's frame with a trailing empty COBS block (0x01)
  before the delimiter, which a receiver drops as oversize;
- ``DROP crc <message>``: the message's frame with its CRC xor 0x5A5A, which a receiver drops.

The one ``CRC`` row reads ``CRC 0xNNNN`` and its hex is the CRC's input.

``python -m tests.icd_vectors`` prints the table with the hex recomputed from ``decoded``:
how a new vector is written (add the row with any hex, run this, paste the output back).
"""

from __future__ import annotations

import dataclasses
import enum
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_type_hints

from cobs import cobs

from hal.commands import BY_ID, BY_NAME
from hal.framing import crc16, encode_frame
from hal.layout import layout_of
from hal.message import Message, MsgType, NackCode, nack_body
from hal.telemetry import TELEMETRY_CLASSES, PacketId

DOC = Path(__file__).resolve().parent.parent / "docs" / "icd.md"
BEGIN = "<!-- vectors:begin -->"
END = "<!-- vectors:end -->"
_RAW_BODY = re.compile(r"^([0-9A-Fa-f]{2})\*(\d+)$")
#: ``DROP`` kinds and the FrameDecoder counter each one raises.
DROP_COUNTERS = {"oversize": "oversize", "crc": "crc_errors"}
_ROW = re.compile(r"^\|\s*([\w-]+)\s*\|\s*`([0-9A-Fa-f ]+)`\s*\|\s*`([^`]+)`\s*\|\s*$")


@dataclass(frozen=True, slots=True)
class Vector:
    name: str
    wire: bytes
    decoded: str


def read_vectors(doc: Path = DOC) -> list[Vector]:
    """Every vector row between the markers of ``doc``."""
    text = doc.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"{doc}: markers {BEGIN!r} ... {END!r} not found")
    vectors = []
    for line in text[start:end].splitlines():
        match = _ROW.match(line.strip())
        if match:
            name, hex_text, decoded = match.groups()
            vectors.append(Vector(name, bytes.fromhex(hex_text), decoded.strip()))
    return vectors


def body_class(message: Message) -> type[Any] | None:
    """The dataclass a message's body holds (None for an empty body or a NACK)."""
    if message.type is MsgType.TELEMETRY:
        return TELEMETRY_CLASSES[PacketId(message.msg_id)]
    spec = BY_ID[message.msg_id]
    if message.type is MsgType.REQUEST:
        return spec.args
    if message.type is MsgType.ACK:
        return spec.reply
    return None


def _value(text: str, annotation: object) -> object:
    if isinstance(annotation, type) and issubclass(annotation, enum.IntFlag):
        flags = annotation(0)
        for part in text.split("+"):
            flags |= annotation(int(part, 0)) if part[0].isdigit() else annotation[part]
        return flags
    if isinstance(annotation, type) and issubclass(annotation, enum.IntEnum):
        return annotation[text]
    if annotation is float:
        return float(text)
    return int(text, 0)


def parse(decoded: str) -> Message:
    """The message a ``decoded`` text describes; ValueError names what does not fit."""
    type_text, *rest = decoded.split()
    version = 1
    if rest and rest[0].startswith("v="):
        version = int(rest.pop(0).removeprefix("v="))
    seq_text, id_text, name, *pairs = rest
    msg_type = MsgType[type_text]
    seq, msg_id = int(seq_text.removeprefix("seq="), 0), int(id_text.removeprefix("id="), 0)
    fields = dict(pair.split("=", 1) for pair in pairs)
    if msg_type is MsgType.TELEMETRY:
        expected_name = PacketId(msg_id).name
    else:
        expected_name = BY_ID[msg_id].name
        if BY_NAME[name].id != msg_id:
            raise ValueError(f"{name} is id 0x{BY_NAME[name].id:02X}, not 0x{msg_id:02X}")
    if name != expected_name:
        raise ValueError(f"id 0x{msg_id:02X} is {expected_name}, not {name}")
    if "body" in fields:
        raw = _RAW_BODY.match(fields.pop("body"))
        if raw is None or fields:
            raise ValueError("body=XX*N stands alone for a raw body of N bytes XX")
        body = bytes([int(raw.group(1), 16)]) * int(raw.group(2))
        return Message(msg_type, seq, msg_id, body, version)
    if version != 1:
        return dataclasses.replace(parse(decoded.replace(f" v={version}", "", 1)), version=version)
    if msg_type is MsgType.NACK:
        arg = fields.pop("arg_index")
        body = nack_body(NackCode[fields.pop("code")], None if arg == "none" else int(arg))
        if fields:
            raise ValueError(f"NACK has no fields {sorted(fields)}")
        return Message(msg_type, seq, msg_id, body)
    message = Message(msg_type, seq, msg_id)
    cls = body_class(message)
    if cls is None:
        if fields:
            raise ValueError(f"{name} {msg_type.name} has no body, got {sorted(fields)}")
        return message
    return dataclasses.replace(message, body=layout_of(cls).pack(build(cls, fields)))


def build(cls: type[Any], fields: dict[str, str]) -> Any:
    """An instance of ``cls`` from documented ``field=value`` texts: all fields, no others."""
    names = [f.name for f in dataclasses.fields(cls)]
    if sorted(fields) != sorted(names):
        raise ValueError(f"{cls.__name__} fields are {names}, documented {list(fields)}")
    hints = get_type_hints(cls)
    return cls(**{n: _value(fields[n], hints[n]) for n in names})


def payload_of(decoded: str) -> bytes:
    """The payload bytes of a ``PAYLOAD XX XX`` text."""
    return bytes.fromhex(decoded.removeprefix("PAYLOAD "))


def dropped(decoded: str) -> tuple[str, str] | None:
    """``(kind, message text)`` of a ``DROP kind <message>`` text, else None."""
    if not decoded.startswith("DROP "):
        return None
    _, kind, message = decoded.split(" ", 2)
    if kind not in DROP_COUNTERS:
        raise ValueError(f"DROP kind must be one of {', '.join(DROP_COUNTERS)}, got {kind!r}")
    return kind, message


def encode(decoded: str) -> bytes:
    """The wire bytes of a ``decoded`` text (or the CRC input of the ``CRC`` row)."""
    if decoded.startswith("PAYLOAD "):
        return encode_frame(payload_of(decoded))
    drop = dropped(decoded)
    if drop is None:
        return encode_frame(parse(decoded).encode())
    kind, message = drop
    payload = parse(message).encode()
    if kind == "oversize":
        return encode_frame(payload)[:-1] + b"\x01\x00"
    crc = crc16(payload) ^ 0x5A5A
    return bytes(cobs.encode(payload + crc.to_bytes(2, "little"))) + b"\x00"


def render_row(vector: Vector) -> str:
    wire = vector.wire if vector.decoded.startswith("CRC") else encode(vector.decoded)
    return f"| {vector.name} | `{wire.hex(' ').upper()}` | `{vector.decoded}` |"


def main() -> int:
    print("| name | hex | decoded |")
    print("|---|---|---|")
    for vector in read_vectors():
        print(render_row(vector))
    return 0


if __name__ == "__main__":
    sys.exit(main())
