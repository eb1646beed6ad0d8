"""The ICD stays true to the code: generated tables match the catalogue, golden vectors hold."""

from __future__ import annotations

import dataclasses
import re

import pytest

from hal.framing import FrameDecoder, crc16, encode_frame
from hal.layout import layout_of
from hal.message import Message, MsgType, parse_nack
from tests import icd_tables, icd_vectors

DOC_TEXT = icd_tables.DOC.read_text(encoding="utf-8")
VECTORS = icd_vectors.read_vectors()
FRAMES = [v for v in VECTORS if not v.decoded.startswith("CRC")]
REQUIRED = {
    "crc-check",
    "get-info-request",
    "get-info-ack",
    "set-tm-rate-50hz",
    "move-joint-boom-45",
    "dig-30mm",
    "nack-out-of-range-arg1",
    "scoop-telemetry",
    "elec-telemetry",
}


def _decode_wire(wire: bytes) -> Message:
    decoder = FrameDecoder()
    payloads = decoder.feed(wire)
    assert len(payloads) == 1, f"expected one frame, got {len(payloads)}: {decoder.stats}"
    return Message.decode(payloads[0])


def test_icd_generated_tables_match_catalogue() -> None:
    documented = icd_tables.generated_block(DOC_TEXT)
    assert documented == icd_tables.render(), (
        "docs/icd.md's generated tables differ from hal's catalogue; "
        f"regenerate them with `{icd_tables.REGENERATE}` and review the diff"
    )


def test_icd_render_lists_every_command_and_packet() -> None:
    rendered = icd_tables.render()
    for name in ("GET_INFO", "MOVE_JOINT", "SET_HEATER", "ScoopTelemetry", "ElecTelemetry"):
        assert f"`{name}`" in rendered
    for enum_name in ("ScoopFlags", "ElecFlags", "Joint", "Valve", "NackCode", "MsgType"):
        assert f"#### `{enum_name}`" in rendered


def test_icd_generated_block_without_markers_raises() -> None:
    with pytest.raises(ValueError, match="markers"):
        icd_tables.generated_block("no markers here")


def test_icd_has_mermaid_and_no_images() -> None:
    assert "```mermaid" in DOC_TEXT
    assert not re.search(r"!\[[^\]]*\]\(", DOC_TEXT), "use Mermaid, not images"


def test_vectors_cover_the_required_set() -> None:
    names = [v.name for v in VECTORS]
    assert len(names) == len(set(names)), "vector names must be unique"
    assert set(names) >= REQUIRED


def test_vectors_crc_check_value_matches() -> None:
    (vector,) = [v for v in VECTORS if v.name == "crc-check"]
    assert vector.wire == b"123456789"
    assert vector.decoded == "CRC 0x29B1"
    assert crc16(vector.wire) == 0x29B1


@pytest.mark.parametrize("vector", FRAMES, ids=[v.name for v in FRAMES])
def test_vector_decodes_to_documented_fields(vector: icd_vectors.Vector) -> None:
    message = _decode_wire(vector.wire)
    expected = icd_vectors.parse(vector.decoded)
    assert (message.type, message.seq, message.msg_id) == (
        expected.type,
        expected.seq,
        expected.msg_id,
    )
    if message.type is MsgType.NACK:
        assert parse_nack(message.body) == parse_nack(expected.body)
        return
    cls = icd_vectors.body_class(message)
    if cls is None:
        assert message.body == b""
        return
    layout = layout_of(cls)
    assert layout.unpack(message.body) == layout.unpack(expected.body)
    fields = dict(pair.split("=", 1) for pair in vector.decoded.split()[4:])
    assert dataclasses.astuple(layout.unpack(message.body)) == dataclasses.astuple(
        icd_vectors.build(cls, fields)
    )


@pytest.mark.parametrize("vector", FRAMES, ids=[v.name for v in FRAMES])
def test_vector_reencodes_byte_for_byte(vector: icd_vectors.Vector) -> None:
    assert icd_vectors.encode(vector.decoded) == vector.wire
    assert encode_frame(_decode_wire(vector.wire).encode()) == vector.wire


@pytest.mark.parametrize("vector", FRAMES, ids=[v.name for v in FRAMES])
def test_vector_header_byte_is_version_and_type(vector: icd_vectors.Vector) -> None:
    message = _decode_wire(vector.wire)
    assert message.encode()[0] == (1 << 4) | message.type


def test_vector_parse_rejects_wrong_name_for_id() -> None:
    with pytest.raises(ValueError, match="DIG is id 0x12, not 0x01"):
        icd_vectors.parse("REQUEST seq=0 id=0x01 DIG")


def test_vector_parse_rejects_missing_field() -> None:
    with pytest.raises(ValueError, match="fields are"):
        icd_vectors.parse("REQUEST seq=0 id=0x12 DIG")
