"""Property tests of the protocol codec: message header, NACK body and every body layout."""

from __future__ import annotations

import dataclasses
import enum
import math
import struct
from typing import Any, get_type_hints

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hal.commands import BY_ID, BY_NAME, COMMANDS, BoardKind, Dig, MoveJoint, commands_for
from hal.errors import ProtocolError
from hal.framing import CRC_BYTES, MAX_FRAME
from hal.layout import Layout, Wire, layout_of, wire
from hal.message import (
    HEADER_BYTES,
    NO_ARG,
    PROTOCOL_VERSION,
    Message,
    MsgType,
    NackCode,
    nack_body,
    parse_nack,
)
from hal.telemetry import TELEMETRY_CLASSES

MAX_BODY = MAX_FRAME - CRC_BYTES - HEADER_BYTES
LAYOUTS: list[type[Any]] = list(
    dict.fromkeys(
        [c for spec in COMMANDS for c in (spec.args, spec.reply) if c is not None]
        + list(TELEMETRY_CLASSES.values())
    )
)
INT_RANGE = {
    fmt: (0, 2 ** (8 * struct.calcsize(fmt)) - 1)
    if fmt.isupper()
    else (-(2 ** (8 * struct.calcsize(fmt) - 1)), 2 ** (8 * struct.calcsize(fmt) - 1) - 1)
    for fmt in "BHIbhi"
}

messages = st.builds(
    Message,
    type=st.sampled_from(MsgType),
    seq=st.integers(0, 255),
    msg_id=st.integers(0, 255),
    body=st.binary(max_size=MAX_BODY),
)


def _f32(x: float) -> float:
    result: float = struct.unpack("<f", struct.pack("<f", x))[0]
    return result


def _f32_inward(x: float, *, up: bool) -> float:
    """The nearest float32 to ``x`` on the inside of a bound (above a low, below a high)."""
    y = _f32(x)
    while (y < x) if up else (y > x):
        bits = struct.unpack("<i", struct.pack("<f", y))[0]
        step = 1 if (y >= 0) == up else -1
        y = struct.unpack(
            "<f", struct.pack("<i", bits + step if y != 0 else (1 if up else -(2**31) + 1))
        )[0]
    return y


def _enum_types(cls: type[Any]) -> dict[str, type[enum.Enum]]:
    hints = get_type_hints(cls)
    return {n: h for n, h in hints.items() if isinstance(h, type) and issubclass(h, enum.Enum)}


def value_strategy(w: Wire, enum_type: type[enum.Enum] | None) -> st.SearchStrategy[Any]:
    """Values a field accepts, from its wire metadata and its annotation."""
    if enum_type is not None and issubclass(enum_type, enum.IntFlag):
        return st.integers(*INT_RANGE[w.fmt]).map(enum_type)
    if enum_type is not None:
        return st.sampled_from(list(enum_type))
    if w.fmt == "f":
        lo = None if w.lo is None else _f32_inward(w.lo, up=True)
        hi = None if w.hi is None else _f32_inward(w.hi, up=False)
        return st.floats(lo, hi, width=32, allow_nan=False, allow_infinity=False)
    lo, hi = INT_RANGE[w.fmt]
    return st.integers(max(lo, int(w.lo or lo)), min(hi, int(w.hi if w.hi is not None else hi)))


def instances(cls: type[Any]) -> st.SearchStrategy[Any]:
    layout = layout_of(cls)
    enums = _enum_types(cls)
    fields = {
        f.name: value_strategy(w, enums.get(f.name))
        for f, w in zip(layout.fields, layout.wires, strict=True)
    }
    return st.builds(cls, **fields)


def invalid_value(w: Wire, enum_type: type[enum.Enum] | None) -> st.SearchStrategy[Any] | None:
    """Values a field refuses, or None when every encodable value is accepted."""
    if enum_type is not None and not issubclass(enum_type, enum.IntFlag):
        members = {int(m.value) for m in enum_type}
        return st.integers(*INT_RANGE[w.fmt]).filter(lambda v: v not in members)
    if w.fmt == "f":
        options = [st.sampled_from([math.nan, math.inf, -math.inf])]
        if w.lo is not None:
            options.append(st.floats(max_value=w.lo, exclude_max=True, width=32, allow_nan=False))
        if w.hi is not None:
            options.append(st.floats(min_value=w.hi, exclude_min=True, width=32, allow_nan=False))
        return st.one_of(options)
    if enum_type is None and (w.lo is not None or w.hi is not None):
        lo, hi = INT_RANGE[w.fmt]
        options = []
        if w.lo is not None and w.lo > lo:
            options.append(st.integers(lo, math.ceil(w.lo) - 1))
        if w.hi is not None and w.hi < hi:
            options.append(st.integers(math.floor(w.hi) + 1, hi))
        return st.one_of(options) if options else None
    return None


RANGED = [
    (cls, i)
    for cls in LAYOUTS
    for i, (f, w) in enumerate(zip(layout_of(cls).fields, layout_of(cls).wires, strict=True))
    if invalid_value(w, _enum_types(cls).get(f.name)) is not None
]


# --- message header ---------------------------------------------------------------------


@given(messages)
def test_codec_message_round_trip_any_type_seq_id_body(message: Message) -> None:
    payload = message.encode()
    assert len(payload) == HEADER_BYTES + len(message.body)
    assert payload[0] == (PROTOCOL_VERSION << 4) | message.type
    assert Message.decode(payload) == message


@given(st.binary(max_size=HEADER_BYTES - 1))
def test_codec_message_decode_short_payload_raises_protocol_error(payload: bytes) -> None:
    with pytest.raises(ProtocolError, match="shorter than the header"):
        Message.decode(payload)


@pytest.mark.req("HAL-03")
@given(st.binary(max_size=300))
def test_codec_message_decode_garbage_raises_only_protocol_error(payload: bytes) -> None:
    try:
        message = Message.decode(payload)
    except ProtocolError as exc:
        assert exc.reason
    else:
        assert message.encode() == payload


@given(st.integers(0, 15).filter(lambda v: v != PROTOCOL_VERSION), st.binary(min_size=2))
def test_codec_message_decode_other_version_raises_protocol_error(
    version: int, rest: bytes
) -> None:
    with pytest.raises(ProtocolError, match=f"protocol version {version} "):
        Message.decode(bytes([version << 4 | MsgType.REQUEST]) + rest)


@given(st.integers(0, 15).filter(lambda v: v not in set(MsgType)), st.binary(min_size=2))
def test_codec_message_decode_unknown_type_raises_protocol_error(
    type_code: int, rest: bytes
) -> None:
    with pytest.raises(ProtocolError, match=f"unknown message type {type_code}"):
        Message.decode(bytes([PROTOCOL_VERSION << 4 | type_code]) + rest)


@pytest.mark.parametrize("field", ["seq", "msg_id"])
@given(value=st.one_of(st.integers(max_value=-1), st.integers(min_value=256)))
def test_codec_message_encode_out_of_byte_range_raises(field: str, value: int) -> None:
    seq, msg_id = (value, 1) if field == "seq" else (0, value)
    message = Message(MsgType.REQUEST, seq, msg_id)
    with pytest.raises(ValueError, match=f"{field}: must be 0..255"):
        message.encode()


# --- NACK body --------------------------------------------------------------------------


@given(st.sampled_from(NackCode), st.one_of(st.none(), st.integers(0, NO_ARG - 1)))
def test_codec_nack_body_round_trip_any_code_and_arg(code: NackCode, arg: int | None) -> None:
    body = nack_body(code, arg)
    assert body == bytes([code, NO_ARG if arg is None else arg])
    assert parse_nack(body) == (code, arg)


@pytest.mark.parametrize(("body", "parsed"), [(b"", (0, None)), (b"\x04", (4, None))])
def test_codec_parse_nack_short_body_is_tolerated(body: bytes, parsed: tuple[int, None]) -> None:
    assert parse_nack(body) == parsed


# --- body layouts -----------------------------------------------------------------------


@pytest.mark.req("HAL-04")
@pytest.mark.parametrize("cls", LAYOUTS, ids=lambda c: c.__name__)
@given(data=st.data())
def test_codec_layout_round_trip_any_in_range_values(cls: type[Any], data: st.DataObject) -> None:
    layout: Layout[Any] = layout_of(cls)
    obj = data.draw(instances(cls))
    body = layout.pack(obj)
    assert len(body) == layout.size
    assert layout.unpack(body) == obj
    assert layout.first_out_of_range(obj) is None


@pytest.mark.parametrize("cls", LAYOUTS, ids=lambda c: c.__name__)
@given(data=st.data())
def test_codec_layout_unpack_any_body_of_its_size_never_raises(
    cls: type[Any], data: st.DataObject
) -> None:
    layout: Layout[Any] = layout_of(cls)
    obj = layout.unpack(data.draw(st.binary(min_size=layout.size, max_size=layout.size)))
    index = layout.first_out_of_range(obj)
    assert index is None or 0 <= index < len(layout.fields)


@pytest.mark.parametrize(("cls", "index"), RANGED, ids=[f"{c.__name__}-{i}" for c, i in RANGED])
@given(data=st.data())
def test_codec_layout_first_out_of_range_names_the_bad_field(
    cls: type[Any], index: int, data: st.DataObject
) -> None:
    layout: Layout[Any] = layout_of(cls)
    field = layout.fields[index]
    bad = invalid_value(layout.wires[index], _enum_types(cls).get(field.name))
    assert bad is not None
    obj = dataclasses.replace(data.draw(instances(cls)), **{field.name: data.draw(bad)})
    assert layout.first_out_of_range(obj) == index
    # The device sees the same answer after the value has crossed the wire.
    assert layout.first_out_of_range(layout.unpack(layout.pack(obj))) == index


def test_codec_layout_first_out_of_range_reports_the_first_of_several() -> None:
    obj = MoveJoint(joint=7, angle_deg=500.0, speed_dps=0.0)  # type: ignore[arg-type]
    assert layout_of(MoveJoint).first_out_of_range(obj) == 0


def test_codec_layout_unpack_unknown_enum_value_stays_int() -> None:
    obj = layout_of(MoveJoint).unpack(struct.pack("<Bff", 9, 10.0, 5.0))
    assert obj.joint == 9 and not isinstance(obj.joint, enum.Enum)


@pytest.mark.req("HAL-03")
@pytest.mark.parametrize("cls", LAYOUTS, ids=lambda c: c.__name__)
@given(data=st.data())
def test_codec_layout_unpack_wrong_length_raises_protocol_error(
    cls: type[Any], data: st.DataObject
) -> None:
    layout: Layout[Any] = layout_of(cls)
    size = data.draw(st.integers(0, layout.size + 8).filter(lambda n: n != layout.size))
    with pytest.raises(ProtocolError, match=f"{cls.__name__} body is {size} bytes"):
        layout.unpack(bytes(size))


def test_codec_layout_pack_unencodable_value_raises_value_error() -> None:
    with pytest.raises(ValueError, match="Dig: cannot pack"):
        layout_of(Dig).pack(Dig(depth_mm="deep"))  # type: ignore[arg-type]


def test_codec_wire_unknown_format_raises_value_error() -> None:
    with pytest.raises(ValueError, match="fmt: 'q'"):
        wire("q")


# --- catalogue --------------------------------------------------------------------------


@pytest.mark.req("HAL-04")
def test_codec_catalogue_ids_and_names_are_unique() -> None:
    assert len(BY_ID) == len(BY_NAME) == len(COMMANDS)


def test_codec_catalogue_bodies_fit_in_one_frame() -> None:
    for cls in LAYOUTS:
        assert layout_of(cls).size <= MAX_BODY, cls.__name__


@pytest.mark.parametrize("board", BoardKind)
def test_codec_commands_for_board_are_common_plus_its_own(board: BoardKind) -> None:
    ids = {c.id for c in commands_for(board)}
    assert ids == {c.id for c in COMMANDS if c.board in (None, board)}
    other = {c.id for c in COMMANDS if c.board not in (None, board)}
    assert not ids & other
