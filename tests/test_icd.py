"""The ICD stays true to the code: generated tables match the catalogue, golden vectors hold,
the reference firmware answers the request vectors with the reply vectors, and the numbers
the ICD states are the ones the code uses."""

from __future__ import annotations

import dataclasses
import random
import re

import pytest
from cobs import cobs

from flight.boards import HEARTBEAT_MISSES, HEARTBEAT_S
from flight.handlers import CELL_CURRENT_TOLERANCE_A, JOINT_TOLERANCE_DEG
from flight.verify import VERIFY_POLL_S
from hal import SerialLink
from hal.commands import JOINT_LIMITS_DEG, Joint
from hal.errors import ProtocolError
from hal.framing import MAX_FRAME, FrameDecoder, crc16, encode_frame
from hal.layout import layout_of
from hal.message import Message, MsgType, parse_nack
from interface.catalog import DICTIONARY
from sim import elec_board, oven_board, oven_control, oven_sensors, scoop_arm, scoop_board
from sim.boot_store import BootStore
from sim.clock import ManualClock
from sim.elec_board import ElecFirmware
from sim.firmware import ALLOWED_IN_FAULT, DEFAULT_HOST_TIMEOUT_S, DEFAULT_TM_RATE_HZ, Firmware
from sim.oven_board import OvenFirmware
from sim.oven_physics import OvenParams
from sim.scoop_board import ScoopFirmware
from sim.uart import TELEMETRY_BACKLOG
from tests import icd_tables, icd_vectors

DOC_TEXT = icd_tables.DOC.read_text(encoding="utf-8")
VECTORS = icd_vectors.read_vectors()
BY_NAME = {v.name: v for v in VECTORS}
MESSAGES = [
    v
    for v in VECTORS
    if not v.decoded.startswith(("CRC", "DROP", "PAYLOAD")) and " v=" not in v.decoded
]
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
    "max-frame-254-nonzero",
    "trailing-empty-block",
    "bad-version-request",
    "nack-bad-version",
    "bad-crc",
    "short-payload",
    "move-joint-boom-95",
    "move-joint-boom-above-95",
    "dump-to-oven",
    "set-lid-open",
    "heat-400c",
    "nack-interlock",
    "oven-telemetry",
}


def _decode_wire(wire: bytes) -> Message:
    decoder = FrameDecoder()
    payloads = decoder.feed(wire)
    assert len(payloads) == 1, f"expected one frame, got {len(payloads)}: {decoder.stats}"
    return Message.decode(payloads[0])


def _payload(wire: bytes) -> bytes:
    (payload,) = FrameDecoder().feed(wire)
    return payload


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


def test_icd_every_flag_has_a_row_with_its_rule() -> None:
    """§6.3 names every flag of every board, so none is left to guess."""
    section = DOC_TEXT[DOC_TEXT.index("### 6.3") : DOC_TEXT.index("### 6.4")]
    from hal.telemetry import ElecFlags, OvenFlags, ScoopFlags

    for flags in (ScoopFlags, ElecFlags, OvenFlags):
        for flag in flags:
            assert f"`{flag.name}`" in section, f"{flags.__name__}.{flag.name} not in §6.3"


LINK = SerialLink(url="/dev/ttyUSB0")  # its defaults, never opened

# The numbers the ICD states, each next to the words that give it its meaning, formatted
# from the constants the code uses: change one and this says which sentence to update.
STATED = [
    f"**boom {JOINT_LIMITS_DEG[Joint.BOOM][0]:g}..{JOINT_LIMITS_DEG[Joint.BOOM][1]:g}°, "
    f"scoop {JOINT_LIMITS_DEG[Joint.SCOOP][0]:g}..{JOINT_LIMITS_DEG[Joint.SCOOP][1]:g}°**",
    f"a motor current of **{scoop_board.STALL_TRIP_A:g} A or more** for "
    f"**more than {scoop_board.STALL_TRIP_S:g} s**",
    f"H2 or O2 above **{elec_board.H2_TRIP_KPA:g} kPa**",
    f"temperature above **{elec_board.TEMP_TRIP_C:g} °C**",
    f"above **{elec_board.VOLTAGE_TRIP_V:g} V** while the source is on",
    f"`water_mass_g` below {elec_board.WATER_LOW_G:g} g",
    f"`cell_temp_c` < setpoint - {elec_board.THERMOSTAT_BAND_C:g} °C",
    f"within **±{scoop_arm.HOME_SWITCH_WINDOW_DEG:g}°** of 0",
    f"at **{scoop_arm.HOME_SPEED_DPS:g}°/s** (reference)",
    f"the scoop joint to **{scoop_arm.DUMP_ANGLE_DEG:g}° at {scoop_arm.DUMP_SPEED_DPS:g}°/s**",
    f"**curl** (**{scoop_arm.CURL_S:g} s**): the scoop joint turns **+{scoop_arm.CURL_DEG:g}°**",
    f"goes in at **{scoop_arm.PENETRATION_MM_S:g} mm/s**",
    f"by +{scoop_arm.BOOM_DEG_PER_MM:g}° per mm",
    f"the mean of **{scoop_board.LOADCELL_AVERAGE} samples**",
    f"a queue of **{TELEMETRY_BACKLOG} frames**",
    f"Default rate after boot **{DEFAULT_TM_RATE_HZ:g} Hz**",
    f"after **{DEFAULT_HOST_TIMEOUT_S:g} s of real time**",
    f"`JOINT_TOLERANCE_DEG` = **{JOINT_TOLERANCE_DEG:g}°**",
    f"`CELL_CURRENT_TOLERANCE_A` = **{CELL_CURRENT_TOLERANCE_A:g} A**",
    f"`VERIFY_POLL_S` = {VERIFY_POLL_S:g} s",
    f"`HEARTBEAT_S` = {HEARTBEAT_S:g} s",
    f"`HEARTBEAT_MISSES` = {HEARTBEAT_MISSES} heartbeats",
    f"`SerialLink(timeout_s={LINK.timeout_s:g}, retries={LINK.retries})`",
    f"**{MAX_FRAME} bytes**, so COBS adds exactly one byte",
    f"sample or wall temperature above **{oven_board.OVERTEMP_TRIP_C:g} °C** (`OVERTEMP`)",
    f"above **{oven_board.OVERPRESSURE_TRIP_KPA:g} kPa** (`OVERPRESSURE`)",
    f"no flow for more than **{oven_control.PUMP_STALL_TRIP_S:g} s**",
    f"reads\n  the sentinel **{oven_sensors.OPEN_CIRCUIT_READING:g}**",
    f"**{oven_control.LID_TRAVEL_S:g} s** for the full stroke (`LID_TRAVEL_S`)",
    f"`sample_temp_c` is above **{oven_board.LID_OPEN_MAX_C:g} °C** or `chamber_pressure_kpa` "
    f"above **{oven_board.LID_OPEN_MAX_KPA:g} kPa**",
    f"`sample_mass_g` ≥ **{oven_board.SAMPLE_PRESENT_G:g} g**",
    f"within **{oven_control.HOLD_BAND_C:g} °C** of the setpoint",
    f"PI on the sample thermocouple, {oven_control.HEATER_KP_W_PER_C:g} W/°C and "
    f"{oven_control.HEATER_KI_W_PER_C_S:g} W/(°C s)",
    f"proportional, {oven_control.TRAP_KP_W_PER_C:g} W/°C, within the Peltier's rating, "
    f"{OvenParams().tec_q_max_w:g} W either way",
    f"nor the heater's rating (reference: **{oven_board.HEATER_RATED_W:g} W**;",
    f"Reference flow **{oven_control.PUMP_FLOW_G_S * 60:g} ml/min**",
    f"state `EJECTING` for **{oven_board.EJECT_S:g} s** (`EJECT_S`)",
    f"`sample_temp_c` above **{oven_board.EJECT_MAX_C:g} °C**",
    f"the last HEAT since boot ({oven_board.DEFAULT_POWER_LIMIT_W:g} W if none)",
]


@pytest.mark.parametrize("phrase", STATED)
def test_icd_states_the_code_s_number(phrase: str) -> None:
    assert phrase in DOC_TEXT, f"docs/icd.md should say: {phrase!r}"


def test_icd_fault_allowed_list_is_the_reference_s() -> None:
    listed = re.findall(r"`(\w+)`", DOC_TEXT[DOC_TEXT.index("| 5 | `FAULT`") :].split("\n")[0])
    assert set(listed) - {"FAULT", "0xFF"} == ALLOWED_IN_FAULT


def test_icd_host_windows_are_the_dictionary_s() -> None:
    section = DOC_TEXT[DOC_TEXT.index("## 8.") : DOC_TEXT.index("## 9.")]
    for row in section.splitlines():
        match = re.match(r"\| `([A-Z_.]+)`[^|]*\|[^|]*\|[^|]*\| (\d+) s \|", row)
        if match:
            window = DICTIONARY.command_index[match.group(1)].completion_timeout_s
            assert float(match.group(2)) == window, row


# --- golden vectors -----------------------------------------------------------------------


def test_icd_vectors_cover_the_required_set() -> None:
    names = [v.name for v in VECTORS]
    assert len(names) == len(set(names)), "vector names must be unique"
    assert set(names) >= REQUIRED


def test_icd_vectors_crc_check_value_matches() -> None:
    vector = BY_NAME["crc-check"]
    assert vector.wire == b"123456789"
    assert vector.decoded == "CRC 0x29B1"
    assert crc16(vector.wire) == 0x29B1


@pytest.mark.parametrize("vector", MESSAGES, ids=[v.name for v in MESSAGES])
def test_icd_vector_decodes_to_documented_fields(vector: icd_vectors.Vector) -> None:
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
    if "body=" in vector.decoded:
        assert message.body == expected.body
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


@pytest.mark.parametrize("vector", VECTORS[1:], ids=[v.name for v in VECTORS[1:]])
def test_icd_vector_reencodes_byte_for_byte(vector: icd_vectors.Vector) -> None:
    assert icd_vectors.encode(vector.decoded) == vector.wire


@pytest.mark.parametrize("vector", MESSAGES, ids=[v.name for v in MESSAGES])
def test_icd_vector_header_byte_is_version_and_type(vector: icd_vectors.Vector) -> None:
    message = _decode_wire(vector.wire)
    assert message.encode()[0] == (1 << 4) | message.type
    assert encode_frame(message.encode()) == vector.wire


def test_icd_vector_max_frame_is_one_full_cobs_block() -> None:
    wire = BY_NAME["max-frame-254-nonzero"].wire
    raw = cobs.decode(wire[:-1])
    assert len(raw) == MAX_FRAME and 0 not in raw
    assert wire[0] == 0xFF and len(wire) == MAX_FRAME + 2
    assert _decode_wire(wire).body == b"\x55" * 249


def test_icd_vector_trailing_empty_block_is_dropped_as_oversize() -> None:
    wire = BY_NAME["trailing-empty-block"].wire
    assert wire == BY_NAME["max-frame-254-nonzero"].wire[:-1] + b"\x01\x00"
    assert cobs.decode(wire[:-1]) == cobs.decode(BY_NAME["max-frame-254-nonzero"].wire[:-1])
    decoder = FrameDecoder()
    assert decoder.feed(wire) == []
    assert decoder.stats.oversize == 1


def test_icd_vector_bad_crc_is_dropped() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(BY_NAME["bad-crc"].wire) == []
    assert decoder.stats.crc_errors == 1


def test_icd_vector_short_payload_is_a_frame_but_not_a_message() -> None:
    payload = _payload(BY_NAME["short-payload"].wire)
    assert payload == bytes.fromhex("11 0D")
    with pytest.raises(ProtocolError, match="shorter than the header"):
        Message.decode(payload)


def test_icd_vector_bad_version_header_is_version_2() -> None:
    payload = _payload(BY_NAME["bad-version-request"].wire)
    assert payload == bytes((0x21, 11, 0x01))
    with pytest.raises(ProtocolError, match="protocol version 2"):
        Message.decode(payload)


def _firmware(kind: str) -> Firmware:
    classes: dict[str, type[Firmware]] = {
        "scoop": ScoopFirmware,
        "elec": ElecFirmware,
        "oven": OvenFirmware,
    }
    fw = classes[kind](clock=ManualClock(), boot_store=BootStore(kind), rng=random.Random(1))
    fw.start()
    return fw


@pytest.mark.parametrize(
    ("board", "request_name", "reply_name"),
    [
        ("scoop", "max-frame-254-nonzero", "nack-bad-length"),
        ("scoop", "bad-version-request", "nack-bad-version"),
        ("scoop", "move-joint-boom-above-95", "nack-out-of-range-above-95"),
        ("scoop", "move-joint-boom-45", None),
        ("scoop", "move-joint-boom-95", "ACK seq=15 id=0x11 MOVE_JOINT"),
        ("elec", "home", "nack-unknown-command"),
        ("elec", "max-frame-254-nonzero", "nack-bad-length"),
        ("oven", "home", "nack-unknown-command"),
        ("oven", "max-frame-254-nonzero", "nack-bad-length"),
        ("scoop", "dump-to-oven", "ACK seq=20 id=0x15 DUMP"),
        ("scoop", "dump-to-ground", "ACK seq=21 id=0x15 DUMP"),
        ("scoop", "set-lid-open", "nack-unknown-set-lid"),
        ("oven", "heat-400c", "nack-interlock"),
        ("oven", "set-lid-open", "ACK seq=22 id=0x30 SET_LID"),
        ("oven", "set-trap-cold", "ACK seq=24 id=0x34 SET_TRAP"),
        ("oven", "eject", "ACK seq=26 id=0x36 EJECT"),
        ("oven", "transfer-10g", "NACK seq=25 id=0x35 TRANSFER code=INTERLOCK arg_index=none"),
    ],
)
def test_icd_vector_reference_firmware_answers_the_reply_vector(
    board: str, request_name: str, reply_name: str | None
) -> None:
    reply = _firmware(board).handle_payload(_payload(BY_NAME[request_name].wire))
    assert reply is not None
    if reply_name is None:
        assert Message.decode(reply).type is MsgType.ACK
    elif reply_name in BY_NAME:
        assert encode_frame(reply) == BY_NAME[reply_name].wire
    else:
        assert encode_frame(reply) == icd_vectors.encode(reply_name)


@pytest.mark.parametrize("name", ["bad-crc", "trailing-empty-block", "short-payload"])
def test_icd_vector_reference_firmware_ignores_the_dropped_frames(name: str) -> None:
    fw = _firmware("scoop")
    boot = fw.boot_count
    for payload in FrameDecoder().feed(BY_NAME[name].wire):
        assert fw.handle_payload(payload) is None
    assert fw.boot_count == boot


def test_icd_vector_parse_rejects_wrong_name_for_id() -> None:
    with pytest.raises(ValueError, match="DIG is id 0x12, not 0x01"):
        icd_vectors.parse("REQUEST seq=0 id=0x01 DIG")


def test_icd_vector_parse_rejects_missing_field() -> None:
    with pytest.raises(ValueError, match="fields are"):
        icd_vectors.parse("REQUEST seq=0 id=0x12 DIG")


def test_icd_vector_parse_rejects_raw_body_with_fields() -> None:
    with pytest.raises(ValueError, match="stands alone"):
        icd_vectors.parse("REQUEST seq=0 id=0x12 DIG depth_mm=5.0 body=55*3")


def test_icd_vector_drop_kind_must_be_known() -> None:
    with pytest.raises(ValueError, match="DROP kind"):
        icd_vectors.encode("DROP late REQUEST seq=0 id=0x01 GET_INFO")
