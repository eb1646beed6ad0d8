"""Property tests of hal.framing: COBS + CRC-16 frames, the stream decoder's resync and counters."""

from __future__ import annotations

import itertools

import pytest
from cobs import cobs
from hypothesis import given
from hypothesis import strategies as st

from hal.framing import CRC_BYTES, FRAMING_OVERHEAD, MAX_FRAME, FrameDecoder, crc16, encode_frame

MAX_PAYLOAD = MAX_FRAME - CRC_BYTES
MAX_ENCODED = MAX_FRAME + 1  # COBS adds exactly one byte to a frame of at most 254 bytes

# The decoder refuses an empty payload (see the xfail below); a message is never empty.
payloads = st.binary(min_size=1, max_size=MAX_PAYLOAD)
noise = st.binary(max_size=2000)


def crc16_reference(data: bytes) -> int:
    """Bitwise CRC-16/CCITT-FALSE, written from the definition (as in docs/icd.md)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


@st.composite
def chunked(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """``data`` cut at arbitrary points (empty chunks included)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=20)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def feed_all(decoder: FrameDecoder, chunks: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for chunk in chunks:
        out += decoder.feed(chunk)
    return out


@pytest.mark.req("HAL-01")
def test_framing_crc16_check_value() -> None:
    assert crc16(b"123456789") == 0x29B1


@given(st.binary(max_size=512))
def test_framing_crc16_matches_bitwise_reference(data: bytes) -> None:
    assert crc16(data) == crc16_reference(data)


@pytest.mark.req("HAL-01")
@given(payloads)
def test_framing_frame_round_trip_any_payload(payload: bytes) -> None:
    wire = encode_frame(payload)
    decoder = FrameDecoder()
    assert decoder.feed(wire) == [payload]
    assert decoder.stats.frames == 1
    assert decoder.stats.crc_errors == decoder.stats.framing_errors == 0


@given(payloads)
def test_framing_encode_frame_any_payload_costs_exactly_the_overhead(payload: bytes) -> None:
    wire = encode_frame(payload)
    assert len(wire) == len(payload) + FRAMING_OVERHEAD
    assert wire.endswith(b"\x00")
    assert b"\x00" not in wire[:-1]
    raw = cobs.decode(wire[:-1])
    assert raw == payload + crc16(payload).to_bytes(2, "little")


@pytest.mark.req("HAL-01")
@given(st.binary(min_size=MAX_PAYLOAD + 1, max_size=MAX_PAYLOAD + 300))
def test_framing_encode_frame_oversize_payload_raises(payload: bytes) -> None:
    with pytest.raises(ValueError, match="payload"):
        encode_frame(payload)


def test_framing_decoder_max_frame_too_small_raises() -> None:
    with pytest.raises(ValueError, match="max_frame"):
        FrameDecoder(max_frame=CRC_BYTES)


@pytest.mark.req("HAL-02")
@given(st.data(), noise)
def test_framing_decoder_noise_any_chunking_never_raises_and_counts(
    data: st.DataObject, junk: bytes
) -> None:
    decoder = FrameDecoder()
    out = feed_all(decoder, data.draw(chunked(junk)))
    whole = FrameDecoder()
    assert whole.feed(junk) == out, "chunking must not change what is decoded"
    assert whole.stats == decoder.stats
    stats = decoder.stats
    assert stats.bytes_in == len(junk)
    *terminated, trailing = junk.split(b"\x00")
    # Each non-empty delimited segment is counted once; an unfinished tail only when oversize.
    expected = sum(1 for segment in terminated if segment)
    outcomes = stats.frames + stats.crc_errors + stats.framing_errors + stats.oversize
    if len(trailing) <= MAX_ENCODED:
        assert outcomes == expected
    else:
        assert expected <= outcomes <= expected + 1
    assert stats.frames == len(out)


@given(st.data(), noise, payloads)
def test_framing_decoder_frame_after_noise_and_delimiter_is_decoded(
    data: st.DataObject, junk: bytes, payload: bytes
) -> None:
    decoder = FrameDecoder()
    out = feed_all(decoder, data.draw(chunked(junk + b"\x00" + encode_frame(payload))))
    assert out[-1] == payload


def is_subsequence(wanted: list[bytes], got: list[bytes]) -> bool:
    rest = iter(got)
    return all(any(item == candidate for candidate in rest) for item in wanted)


@given(st.data(), st.lists(st.tuples(noise, payloads), max_size=8))
def test_framing_decoder_frames_between_any_noise_all_arrive_in_order(
    data: st.DataObject, pieces: list[tuple[bytes, bytes]]
) -> None:
    # Each frame follows a stretch of line noise and a delimiter (a link that resyncs);
    # noise may decode into a frame of its own only if its CRC happens to match.
    wire = b"".join(junk + b"\x00" + encode_frame(payload) for junk, payload in pieces)
    decoder = FrameDecoder()
    out = feed_all(decoder, data.draw(chunked(wire)))
    assert is_subsequence([payload for _, payload in pieces], out)
    assert decoder.stats.frames == len(out)


@pytest.mark.req("HAL-02")
@given(st.data(), payloads, st.integers(1, 1000), payloads)
def test_framing_decoder_torn_frame_loses_only_itself(
    data: st.DataObject, torn: bytes, cut: int, payload: bytes
) -> None:
    # A port whose buffer filled mid-frame sends a delimiter at once (sim.ports): the torn
    # frame is dropped and counted, the next one arrives intact.
    start = encode_frame(torn)[:-1]
    wire = start[: cut % len(start)] + b"\x00" + encode_frame(payload)
    decoder = FrameDecoder()
    out = feed_all(decoder, data.draw(chunked(wire)))
    assert out == [payload]
    stats = decoder.stats
    assert stats.crc_errors + stats.framing_errors <= 1


@pytest.mark.req("HAL-02")
@given(st.data(), st.binary(min_size=MAX_ENCODED + 2, max_size=3000), payloads)
def test_framing_decoder_oversize_input_is_counted_and_resyncs(
    data: st.DataObject, body: bytes, payload: bytes
) -> None:
    junk = body.replace(b"\x00", b"\x01")
    decoder = FrameDecoder()
    out = feed_all(decoder, data.draw(chunked(junk + b"\x00" + encode_frame(payload))))
    assert out == [payload]
    assert decoder.stats.oversize == 1
    assert decoder.stats.crc_errors == decoder.stats.framing_errors == 0


@given(payloads, st.data())
def test_framing_decoder_single_bit_error_is_counted_as_crc_error(
    payload: bytes, data: st.DataObject
) -> None:
    raw = bytearray(payload + crc16(payload).to_bytes(2, "little"))
    bit = data.draw(st.integers(0, len(raw) * 8 - 1))
    raw[bit // 8] ^= 1 << (bit % 8)
    decoder = FrameDecoder()
    assert decoder.feed(cobs.encode(bytes(raw)) + b"\x00") == []
    assert decoder.stats.crc_errors == 1


@given(st.integers(0, 20))
def test_framing_decoder_back_to_back_delimiters_are_idle_not_errors(count: int) -> None:
    decoder = FrameDecoder()
    assert decoder.feed(b"\x00" * count) == []
    assert decoder.stats.framing_errors == decoder.stats.crc_errors == 0


@pytest.mark.parametrize("raw", [b"\x02\x01", b"\x01"], ids=["two-bytes", "empty-after-cobs"])
def test_framing_decoder_frame_too_short_for_crc_is_framing_error(raw: bytes) -> None:
    decoder = FrameDecoder()
    assert decoder.feed(raw + b"\x00") == []
    assert decoder.stats.framing_errors == 1


def test_framing_decoder_bad_cobs_is_framing_error() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(b"\x05\x01\x00") == []  # code byte promises 4 bytes, only 1 follows
    assert decoder.stats.framing_errors == 1


def test_framing_decoder_decoded_frame_over_max_frame_is_rejected() -> None:
    payload = bytes([0x11]) * 100 + b"\x00" + bytes([0x11]) * (MAX_PAYLOAD - 100)  # 253 bytes
    wire = cobs.encode(payload + crc16(payload).to_bytes(2, "little")) + b"\x00"
    decoder = FrameDecoder()
    assert decoder.feed(wire) == []
    assert decoder.stats.oversize == 1


def test_framing_encode_frame_empty_payload_is_refused() -> None:
    with pytest.raises(ValueError, match="payload: must not be empty"):
        encode_frame(b"")
