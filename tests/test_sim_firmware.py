"""The emulated firmware at handle() level, on a manual clock: what every board does with
any request (info, lengths, ranges, versions, telemetry rate, reset, boot count, duplicates)."""

from __future__ import annotations

import random
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hal.commands import (
    BY_NAME,
    COMMANDS,
    BoardInfo,
    BoardKind,
    CellCurrent,
    Dig,
    DumpCommand,
    HeatCommand,
    HeaterCommand,
    Joint,
    LidCommand,
    MoveJoint,
    TelemetryRate,
    TransferCommand,
    TrapCommand,
    Valve,
    ValveCommand,
)
from hal.layout import layout_of
from hal.message import Message, MsgType, NackCode, nack_body
from hal.telemetry import (
    ElecFlags,
    ElecState,
    OvenFlags,
    OvenState,
    PacketId,
    ScoopFlags,
    ScoopState,
    ScoopTelemetry,
)
from sim.boot_store import BootStore
from sim.clock import ManualClock
from sim.elec_board import ElecFirmware
from sim.firmware import Firmware
from sim.oven_board import OvenFirmware
from sim.scoop_arm import sample_mass_g
from sim.scoop_board import ScoopFirmware
from tests.firmware_requests import (
    Collector,
    acked,
    elec_tm,
    homed,
    nack,
    oven_tm,
    raw,
    request,
    scoop_tm,
)


async def test_sim_firmware_get_info_reports_board_version_boot_count_and_uptime(
    scoop: ScoopFirmware, elec: ElecFirmware, oven: OvenFirmware, clock: ManualClock
) -> None:
    await clock.advance(2.5)
    info = layout_of(BoardInfo).unpack(acked(request(scoop, "GET_INFO")))
    assert (info.board, info.protocol_version, info.boot_count) == (BoardKind.SCOOP, 1, 1)
    assert info.uptime_ms == 2500
    assert layout_of(BoardInfo).unpack(acked(request(elec, "GET_INFO"))).board is BoardKind.ELEC
    assert layout_of(BoardInfo).unpack(acked(request(oven, "GET_INFO"))).board is BoardKind.OVEN


@pytest.mark.req("SIM-05")
async def test_sim_firmware_boot_state_has_every_actuator_off(
    scoop: ScoopFirmware, elec: ElecFirmware, oven: OvenFirmware
) -> None:
    s = scoop_tm(scoop)
    assert s.state is ScoopState.IDLE
    assert not s.flags & (ScoopFlags.HOMED | ScoopFlags.MOTORS_ON)
    e = elec_tm(elec)
    assert e.state is ElecState.IDLE
    assert e.flags & ~ElecFlags.WATER_LOW == 0
    assert (e.cell_current_a, e.heater_power_w, e.cell_voltage_v) == (0.0, 0.0, 0.0)
    o = oven_tm(oven)
    assert o.state is OvenState.IDLE
    assert o.flags == OvenFlags.LID_SEALED  # the lid is reported, nothing is on
    assert (o.heater_power_w, o.heater_energy_wh, o.water_transferred_g) == (0.0, 0.0, 0.0)


def test_sim_firmware_unknown_id_is_nacked_unknown_command(scoop: ScoopFirmware) -> None:
    assert nack(raw(scoop, 0x7E)) == (NackCode.UNKNOWN_COMMAND, None)


def test_sim_firmware_command_of_another_board_is_nacked_unknown_command(
    scoop: ScoopFirmware, elec: ElecFirmware, oven: OvenFirmware
) -> None:
    assert nack(request(scoop, "START"))[0] is NackCode.UNKNOWN_COMMAND
    assert nack(request(elec, "HOME"))[0] is NackCode.UNKNOWN_COMMAND
    assert nack(request(oven, "HOME"))[0] is NackCode.UNKNOWN_COMMAND
    valve = ValveCommand(Valve.H2_VENT, 1)
    assert nack(request(oven, "SET_VALVE", valve))[0] is NackCode.UNKNOWN_COMMAND
    assert nack(request(scoop, "EJECT"))[0] is NackCode.UNKNOWN_COMMAND
    assert nack(request(elec, "SET_TRAP", TrapCommand(1, -60.0)))[0] is NackCode.UNKNOWN_COMMAND


@pytest.mark.req("SIM-02")
@pytest.mark.parametrize("spec", COMMANDS, ids=lambda s: s.name)
def test_sim_firmware_every_command_with_a_wrong_length_is_nacked_bad_length(
    spec: Any, scoop: ScoopFirmware, elec: ElecFirmware, oven: OvenFirmware
) -> None:
    fw: Firmware = {BoardKind.ELEC: elec, BoardKind.OVEN: oven}.get(spec.board, scoop)
    size = 0 if spec.args is None else layout_of(spec.args).size
    assert nack(raw(fw, spec.id, bytes(size + 1)))[0] is NackCode.BAD_LENGTH
    if size:
        assert nack(raw(fw, spec.id, bytes(size - 1)))[0] is NackCode.BAD_LENGTH


@pytest.mark.req("SIM-02")
@pytest.mark.parametrize(
    ("fw_name", "name", "args", "index"),
    [
        ("scoop", "SET_TM_RATE", TelemetryRate(1001.0), 0),
        ("scoop", "SET_TM_RATE", TelemetryRate(float("nan")), 0),
        ("scoop", "MOVE_JOINT", MoveJoint(Joint.BOOM, 10.0, 31.0), 2),
        ("scoop", "MOVE_JOINT", MoveJoint(Joint.BOOM, 96.0, 5.0), 1),  # boom travel -5..95
        ("scoop", "MOVE_JOINT", MoveJoint(Joint.SCOOP, -31.0, 5.0), 1),  # declared range
        ("scoop", "MOVE_JOINT", MoveJoint(Joint.SCOOP, 195.0, 5.0), 1),  # scoop -30..190
        ("scoop", "DIG", Dig(4.0), 0),
        ("elec", "SET_CURRENT", CellCurrent(10.5), 0),
        ("elec", "SET_VALVE", ValveCommand(Valve.O2_VENT, 2), 1),
        ("elec", "SET_HEATER", HeaterCommand(1, 81.0), 1),
        ("scoop", "DUMP", DumpCommand(2), 0),  # type: ignore[arg-type]  # not a DumpTarget
        ("oven", "SET_LID", LidCommand(2), 0),
        ("oven", "HEAT", HeatCommand(451.0, 10.0, 50.0), 0),
        ("oven", "HEAT", HeatCommand(100.0, 0.4, 50.0), 1),
        ("oven", "HEAT", HeatCommand(100.0, 10.0, 200.5), 2),
        ("oven", "HEAT", HeatCommand(100.0, float("inf"), 50.0), 1),
        ("oven", "SET_TRAP", TrapCommand(1, -151.0), 1),
        ("oven", "SET_TRAP", TrapCommand(3, 0.0), 0),
        ("oven", "TRANSFER", TransferCommand(0.4), 0),
        ("oven", "TRANSFER", TransferCommand(float("nan")), 0),
    ],
)
def test_sim_firmware_argument_out_of_range_is_nacked_with_its_index(
    fw_name: str,
    name: str,
    args: Any,
    index: int,
    scoop: ScoopFirmware,
    elec: ElecFirmware,
    oven: OvenFirmware,
) -> None:
    fw: Firmware = {"scoop": scoop, "elec": elec, "oven": oven}[fw_name]
    assert nack(request(fw, name, args)) == (NackCode.OUT_OF_RANGE, index)


def test_sim_firmware_unknown_enum_value_is_nacked_out_of_range(scoop: ScoopFirmware) -> None:
    body = struct.pack("<Bff", 7, 10.0, 5.0)
    assert nack(raw(scoop, BY_NAME["MOVE_JOINT"].id, body)) == (NackCode.OUT_OF_RANGE, 0)


@pytest.mark.req("SIM-02")
def test_sim_firmware_wrong_protocol_version_is_nacked_bad_version(scoop: ScoopFirmware) -> None:
    payload = bytes(((2 << 4) | MsgType.REQUEST, 9, 0x01))
    reply = scoop.handle_payload(payload)
    assert reply is not None
    assert Message.decode(reply) == Message(MsgType.NACK, 9, 0x01, nack_body(NackCode.BAD_VERSION))


@pytest.mark.req("SIM-02")
def test_sim_firmware_non_requests_and_garbage_get_no_answer(scoop: ScoopFirmware) -> None:
    assert scoop.handle(Message(MsgType.ACK, 1, 0x01)) is None
    assert scoop.handle_payload(b"\x1f\x00") is None
    assert scoop.handle_payload(bytes((0x1F, 1, 1))) is None  # unknown message type


@pytest.mark.req("SIM-04")
async def test_sim_firmware_set_tm_rate_sets_the_stream_rate_and_zero_stops_it(
    scoop: ScoopFirmware, clock: ManualClock, scoop_tm_out: Collector
) -> None:
    await clock.advance(1.0)
    assert len(scoop_tm_out.messages) == 10  # 10 Hz after boot
    acked(request(scoop, "SET_TM_RATE", TelemetryRate(50.0)))
    await clock.advance(1.0)
    assert len(scoop_tm_out.messages) == 60
    acked(request(scoop, "SET_TM_RATE", TelemetryRate(0.0)))
    await clock.advance(1.0)
    assert len(scoop_tm_out.messages) == 60
    messages = scoop_tm_out.messages
    assert all(m.type is MsgType.TELEMETRY and m.msg_id == PacketId.SCOOP for m in messages)
    assert [m.seq for m in messages] == list(range(60))
    uptimes = [layout_of(ScoopTelemetry).unpack(m.body).uptime_ms for m in messages[:3]]
    assert uptimes == [100, 200, 300]


@pytest.mark.req("SIM-04")
async def test_sim_firmware_telemetry_at_1000_hz_wraps_its_counter(
    scoop: ScoopFirmware, clock: ManualClock, scoop_tm_out: Collector
) -> None:
    acked(request(scoop, "SET_TM_RATE", TelemetryRate(1000.0)))
    await clock.advance(0.3)
    seqs = [m.seq for m in scoop_tm_out.messages]
    assert len(seqs) == 300
    assert seqs[255:258] == [255, 0, 1]


async def test_sim_firmware_reset_acks_then_reboots_with_boot_count_plus_one(
    scoop: ScoopFirmware, clock: ManualClock
) -> None:
    await homed(scoop, clock)
    acked(request(scoop, "SET_TM_RATE", TelemetryRate(0.0)))
    assert acked(request(scoop, "RESET")) == b""
    info = layout_of(BoardInfo).unpack(acked(request(scoop, "GET_INFO")))
    assert (info.boot_count, info.uptime_ms) == (2, 0)
    assert not scoop.homed
    assert scoop.tm_rate_hz == 10.0


@pytest.mark.req("SIM-05")
def test_sim_firmware_boot_count_persists_in_the_state_dir(
    tmp_path: Path, clock: ManualClock
) -> None:
    def boot() -> ElecFirmware:
        fw = ElecFirmware(clock=clock, boot_store=BootStore("elec", tmp_path), rng=random.Random(0))
        fw.start()
        return fw

    first = boot()
    assert first.boot_count == 1
    request(first, "RESET")
    assert first.boot_count == 2
    first.stop()
    assert boot().boot_count == 3  # a new simulator process on the same state dir
    assert (tmp_path / "elec.json").read_text().strip() == '{"boot_count": 3}'


@pytest.mark.req("SIM-03")
async def test_sim_firmware_duplicate_request_resends_the_cached_reply_without_executing(
    scoop: ScoopFirmware, clock: ManualClock
) -> None:
    await homed(scoop, clock)
    first = request(scoop, "DIG", Dig(30.0), seq=42)
    await clock.advance(1.0)
    again = request(scoop, "DIG", Dig(30.0), seq=42)  # the host's retry
    assert again == first
    assert scoop.duplicates == 1
    await clock.advance(20.0)
    assert scoop.arm.sample_g == pytest.approx(sample_mass_g(30.0))  # dug once, not twice


def test_sim_firmware_duplicate_of_a_nack_is_the_same_nack_and_a_new_seq_is_executed(
    scoop: ScoopFirmware,
) -> None:
    first = request(scoop, "DIG", Dig(30.0), seq=7)
    assert nack(first)[0] is NackCode.NOT_HOMED
    scoop.homed = True  # no request in between: the cache holds the previous one only
    assert request(scoop, "DIG", Dig(30.0), seq=7) == first  # cached, even though now homed
    acked(request(scoop, "DIG", Dig(30.0), seq=8))


@pytest.mark.req("SIM-03")
def test_sim_firmware_duplicate_reset_does_not_reboot_twice(scoop: ScoopFirmware) -> None:
    request(scoop, "RESET", seq=99)
    request(scoop, "RESET", seq=99)
    assert scoop.boot_count == 2


@pytest.mark.req("SIM-02")
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=st.binary(min_size=0, max_size=40))
def test_sim_firmware_any_payload_gets_at_most_one_reply_echoing_seq_and_id(
    payload: bytes, scoop: ScoopFirmware
) -> None:
    reply = scoop.handle_payload(payload)
    is_request = len(payload) >= 3 and payload[0] & 0x0F == MsgType.REQUEST
    if reply is None:
        assert not is_request  # every request is answered, even of another version
        return
    assert is_request
    decoded = Message.decode(reply)
    assert decoded.type in (MsgType.ACK, MsgType.NACK)
    assert (decoded.seq, decoded.msg_id) == (payload[1], payload[2])
