"""The simulator over real transports: ptys opened with pyserial, loopback TCP, link faults."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import serial

from hal.commands import BY_NAME, BoardInfo, BoardKind, Joint, TelemetryRate
from hal.framing import FrameDecoder, encode_frame
from hal.layout import layout_of
from hal.message import Message, MsgType
from hal.telemetry import PacketId
from sim import ManualClock, RealClock, SimBoards, StartFaults
from sim.control import ControlServer
from sim.ports import PtyPort

GET_INFO = BY_NAME["GET_INFO"].id


class Host:
    """A blocking pyserial host, driven from a worker thread so the sim's loop keeps running."""

    def __init__(self, url: str, *, timeout: float = 0.05) -> None:
        self.port = serial.serial_for_url(url, timeout=timeout)
        self.decoder = FrameDecoder()
        self.bytes_in = 0

    def close(self) -> None:
        self.port.close()

    def send(self, message: Message) -> None:
        self.port.write(encode_frame(message.encode()))
        self.port.flush()

    def _collect(self, until: Callable[[list[Message]], bool], timeout: float) -> list[Message]:
        got: list[Message] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not until(got):
            data = self.port.read(4096)
            self.bytes_in += len(data)
            got += [Message.decode(p) for p in self.decoder.feed(data)]
        return got

    async def collect(
        self, until: Callable[[list[Message]], bool], wait_s: float = 3.0
    ) -> list[Message]:
        return await asyncio.to_thread(self._collect, until, wait_s)

    async def ask(self, msg_id: int, seq: int = 1, body: bytes = b"") -> Message:
        self.send(Message(MsgType.REQUEST, seq, msg_id, body))
        got = await self.collect(lambda ms: any(m.type is not MsgType.TELEMETRY for m in ms))
        replies = [m for m in got if m.type is not MsgType.TELEMETRY]
        assert replies, "no reply"
        return replies[0]


def info_of(reply: Message) -> BoardInfo:
    assert reply.type is MsgType.ACK
    return layout_of(BoardInfo).unpack(reply.body)


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[SimBoards]:
    async with SimBoards(link_dir=tmp_path, clock=ManualClock(), seed=3) as boards:
        yield boards


@pytest.fixture
async def tcp_sim() -> AsyncIterator[SimBoards]:
    async with SimBoards(tcp=True, clock=ManualClock()) as boards:
        yield boards


@pytest.mark.req("SIM-01")
async def test_sim_ports_pty_get_info_over_pyserial(sim: SimBoards) -> None:
    host = Host(sim.urls["elec"])
    try:
        reply = await host.ask(GET_INFO, seq=17)
    finally:
        host.close()
    assert (reply.seq, reply.msg_id) == (17, GET_INFO)
    assert info_of(reply).board is BoardKind.ELEC


@pytest.mark.req("SIM-01")
async def test_sim_ports_pty_symlinks_point_at_the_ptys_and_go_on_close(tmp_path: Path) -> None:
    async with SimBoards(link_dir=tmp_path, clock=ManualClock()) as sim:
        assert list(sim.urls) == ["scoop", "elec", "oven"]
        for name in ("scoop", "elec", "oven"):
            link = tmp_path / name
            assert sim.urls[name] == str(link)
            # the pty as the simulator holds it: gone with the simulator, even killed
            assert os.readlink(link).startswith(f"/proc/{os.getpid()}/fd/")
            assert str(link.resolve()).startswith("/dev/pts/")
    assert not (tmp_path / "scoop").exists()
    assert not (tmp_path / "elec").is_symlink()
    assert not (tmp_path / "oven").is_symlink()


@pytest.mark.req("SIM-01")
async def test_sim_ports_pty_survives_the_host_closing_and_reopening(sim: SimBoards) -> None:
    for seq in (1, 2):
        host = Host(sim.urls["scoop"])
        try:
            assert info_of(await host.ask(GET_INFO, seq=seq)).board is BoardKind.SCOOP
        finally:
            host.close()


async def test_sim_ports_pty_streams_telemetry_on_virtual_time(sim: SimBoards) -> None:
    host = Host(sim.urls["scoop"])
    try:
        assert isinstance(sim.clock, ManualClock)
        await sim.clock.advance(1.0)
        got = await host.collect(lambda ms: len(ms) >= 10)
    finally:
        host.close()
    assert [m.seq for m in got] == list(range(10))
    assert all(m.type is MsgType.TELEMETRY and m.msg_id == PacketId.SCOOP for m in got)


async def test_sim_ports_pty_nobody_reading_drops_frames_without_failing(sim: SimBoards) -> None:
    assert isinstance(sim.clock, ManualClock)
    sim.scoop.handle(
        Message(
            MsgType.REQUEST,
            1,
            BY_NAME["SET_TM_RATE"].id,
            layout_of(TelemetryRate).pack(TelemetryRate(1000.0)),
        )
    )
    await sim.clock.advance(20.0)  # 20,000 frames, ~1 MB: far more than a pty buffers
    assert sim.uarts["scoop"].stats.dropped_by_port > 0
    host = Host(sim.urls["scoop"])  # and the board still answers once someone listens
    try:
        host.port.reset_input_buffer()
        assert info_of(await host.ask(GET_INFO, seq=5)).board is BoardKind.SCOOP
    finally:
        host.close()


@pytest.mark.req("SIM-01")
async def test_sim_ports_tcp_get_info_over_socket_url(tcp_sim: SimBoards) -> None:
    url = tcp_sim.urls["scoop"]
    assert url.startswith("socket://127.0.0.1:")
    host = Host(url)
    try:
        assert info_of(await host.ask(GET_INFO, seq=3)).board is BoardKind.SCOOP
    finally:
        host.close()


async def test_sim_ports_tcp_new_client_replaces_the_old_one(tcp_sim: SimBoards) -> None:
    first = Host(tcp_sim.urls["elec"])
    second = Host(tcp_sim.urls["elec"])
    try:
        assert info_of(await second.ask(GET_INFO, seq=4)).board is BoardKind.ELEC
    finally:
        first.close()
        second.close()


@pytest.mark.req("SIM-10")
async def test_sim_ports_fault_silent_ignores_requests_until_cleared(sim: SimBoards) -> None:
    host = Host(sim.urls["scoop"])
    try:
        sim.set_silent("scoop")
        host.send(Message(MsgType.REQUEST, 1, BY_NAME["HOME"].id))
        assert await host.collect(lambda ms: bool(ms), wait_s=0.3) == []
        assert not sim.scoop.arm.busy  # ignored, not executed
        sim.clear_faults("scoop")
        assert info_of(await host.ask(GET_INFO, seq=2)).board is BoardKind.SCOOP
    finally:
        host.close()


@pytest.mark.req("SIM-10")
async def test_sim_ports_fault_delay_holds_replies_back(sim: SimBoards) -> None:
    host = Host(sim.urls["scoop"])
    try:
        sim.set_delay("scoop", 150.0)
        started = time.monotonic()
        await host.ask(GET_INFO, seq=1)
        assert time.monotonic() - started >= 0.15
    finally:
        host.close()


@pytest.mark.req("SIM-10")
async def test_sim_ports_fault_corrupt_is_caught_by_the_host_crc(sim: SimBoards) -> None:
    host = Host(sim.urls["scoop"])
    try:
        sim.set_corrupt("scoop", 0.01)
        assert isinstance(sim.clock, ManualClock)
        await sim.clock.advance(20.0)  # 200 telemetry frames of 52 bytes
        await host.collect(lambda ms: False, wait_s=0.3)
    finally:
        host.close()
    stats = host.decoder.stats
    assert sim.uarts["scoop"].stats.corrupted_bytes > 0
    assert stats.crc_errors + stats.framing_errors > 0
    assert 100 < stats.frames < 200


@pytest.mark.req("SIM-10")
async def test_sim_ports_fault_drop_loses_whole_frames(sim: SimBoards) -> None:
    host = Host(sim.urls["elec"])
    try:
        sim.set_drop("elec", 0.5)
        assert isinstance(sim.clock, ManualClock)
        await sim.clock.advance(20.0)
        got = await host.collect(lambda ms: False, wait_s=0.3)
    finally:
        host.close()
    assert 60 < len(got) < 140
    assert host.decoder.stats.crc_errors == 0
    assert sim.elec.tm_counter == 200  # the board made them all; the line lost some


@pytest.mark.req("SIM-10")
async def test_sim_ports_fault_disconnect_pty_comes_back_on_a_new_pty(
    sim: SimBoards, tmp_path: Path
) -> None:
    link = tmp_path / "scoop"
    host = Host(sim.urls["scoop"])
    sim.disconnect("scoop", 0.2)
    assert not link.exists()
    with pytest.raises(serial.SerialException):
        await asyncio.to_thread(host.port.read, 1)
    host.close()
    await asyncio.wait_for(sim.ports["scoop"].opened.wait(), 5.0)
    port = sim.ports["scoop"]
    assert isinstance(port, PtyPort)
    assert str(link.resolve()) == port.slave_path  # re-pointed (the kernel may reuse the number)
    host = Host(str(link))
    try:
        assert info_of(await host.ask(GET_INFO, seq=9)).board is BoardKind.SCOOP
    finally:
        host.close()


async def test_sim_ports_fault_disconnect_tcp_comes_back_on_the_same_port(
    tcp_sim: SimBoards,
) -> None:
    url = tcp_sim.urls["elec"]
    tcp_sim.disconnect("elec", 0.2)
    port = int(url.rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
    await asyncio.wait_for(tcp_sim.ports["elec"].opened.wait(), 5.0)
    assert tcp_sim.urls["elec"] == url
    host = Host(url)
    try:
        assert info_of(await host.ask(GET_INFO, seq=9)).board is BoardKind.ELEC
    finally:
        host.close()


@pytest.mark.req("SIM-10")
async def test_sim_ports_start_faults_stall_the_joint() -> None:
    async with SimBoards(clock=ManualClock(), faults=StartFaults(stall=Joint.SCOOP)) as sim:
        assert sim.scoop.arm.scoop.stuck


@pytest.mark.req("SIM-11")
async def test_sim_ports_pacing_uses_the_line_and_replies_overtake_telemetry() -> None:
    async with SimBoards(baud=115200, clock=RealClock()) as sim:
        host = Host(sim.urls["scoop"])
        stats = sim.uarts["scoop"].stats
        try:
            rate = layout_of(TelemetryRate).pack(TelemetryRate(1000.0))
            host.send(Message(MsgType.REQUEST, 1, BY_NAME["SET_TM_RATE"].id, rate))
            await host.collect(lambda ms: len(ms) > 20)  # streaming has started
            start_bytes, started = stats.bytes_out, time.monotonic()
            await host.collect(lambda ms: False, wait_s=1.0)
            throughput = (stats.bytes_out - start_bytes) / (time.monotonic() - started)
            sent = time.monotonic()
            reply = await host.ask(GET_INFO, seq=2)
            latency = time.monotonic() - sent
        finally:
            host.close()
    assert 0.9 * 11520 <= throughput <= 1.05 * 11520, throughput
    assert stats.dropped_by_port == 0  # the host kept up: nothing was lost in the pty
    assert info_of(reply).board is BoardKind.SCOOP
    # A reply waits for at most the FIFO and the frame on the wire, not the telemetry queue.
    assert latency < 0.2, latency


def test_sim_ports_simboards_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="baud"):
        SimBoards(baud=0)
    with pytest.raises(ValueError, match="scoop_port"):
        SimBoards(tcp=True, scoop_port=70000)
    with pytest.raises(ValueError, match="oven_port"):
        SimBoards(tcp=True, oven_port=-1)
    with pytest.raises(ValueError, match="ice_wt_pct"):
        SimBoards(ice_wt_pct=101.0)
    with pytest.raises(ValueError, match="sensor_open"):
        StartFaults(sensor_open=("load_cell",))
    with pytest.raises(ValueError, match="lid_leak_tau_s"):
        StartFaults(lid_leak_tau_s=0.0)
    with pytest.raises(ValueError, match="link_dir"):
        SimBoards(link_dir="/nonexistent/dir")
    with pytest.raises(ValueError, match="fraction"):
        SimBoards().set_corrupt("scoop", 1.5)
    with pytest.raises(ValueError, match="corrupt"):
        StartFaults(corrupt=-0.1)


@pytest.mark.req("SIM-10")
@pytest.mark.parametrize(
    ("request_obj", "error"),
    [
        ({"board": "scoop", "fault": "corrupt", "rate": 2}, "rate"),
        ({"board": "moon", "fault": "corrupt", "rate": 0.1}, "board"),
        ({"board": "elec", "fault": "melt"}, "fault"),
        ({"board": "elec", "fault": "stall", "joint": "boom"}, r"scoop \(a joint\) and oven"),
        ({"board": "oven", "fault": "stall", "joint": "boom"}, "no joint"),
        ({"board": "scoop", "fault": "leak"}, r"elec \(a tank\) and oven \(the lid\)"),
        ({"board": "oven", "fault": "leak", "gas": "h2"}, "no gas"),
        ({"board": "oven", "fault": "leak", "tau_s": 0}, "tau_s"),
        ({"board": "elec", "fault": "heater_stuck"}, "oven board only"),
        ({"board": "oven", "fault": "sensor_open"}, "sensor: required"),
        ({"board": "oven", "fault": "sensor_open", "sensor": "load_cell"}, "open-circuit"),
        ({"board": "oven", "fault": "drift", "sensor": "h2_pressure", "rate": 1}, "sensor"),
        ({"board": "scoop", "fault": "stall", "joint": "elbow"}, "joint"),
        ({"board": "scoop", "fault": "delay"}, "ms"),
        ({"board": "scoop", "fault": "drop", "rate": 0.1, "extra": 1}, "extra"),
        ({"board": "elec", "fault": "drift", "sensor": "load_cell", "rate": 1}, "sensor"),
        (["not", "an", "object"], "object"),
    ],
)
def test_sim_ports_apply_fault_rejects_bad_requests(request_obj: Any, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        SimBoards().apply_fault(request_obj)


@pytest.mark.req("SIM-10")
def test_sim_ports_apply_fault_sets_physical_faults() -> None:
    sim = SimBoards()
    sim.apply_fault({"board": "scoop", "fault": "stall", "joint": "boom"})
    sim.apply_fault({"board": "elec", "fault": "leak", "gas": "o2", "tau_s": 100})
    sim.apply_fault({"board": "elec", "fault": "drift", "sensor": "h2_pressure", "rate": 0.5})
    sim.apply_fault({"board": "scoop", "fault": "delay", "ms": 20})
    assert sim.scoop.arm.boom.stuck
    assert sim.elec.cell.o2_leak_tau_s == 100
    assert sim.elec.drift_rate["h2_pressure"] == 0.5
    assert sim.uarts["scoop"].faults.delay_ms == 20
    sim.apply_fault({"board": "scoop", "fault": "clear"})
    sim.apply_fault({"board": "elec", "fault": "clear"})
    assert not sim.scoop.arm.boom.stuck
    assert sim.elec.cell.o2_leak_tau_s is None
    assert sim.uarts["scoop"].faults.delay_ms == 0


@pytest.mark.req("SIM-10")
def test_sim_ports_apply_fault_sets_and_clears_the_oven_s_faults() -> None:
    sim = SimBoards()
    oven = sim.oven
    sim.apply_fault({"board": "oven", "fault": "stall"})
    sim.apply_fault({"board": "oven", "fault": "leak", "tau_s": 120})
    sim.apply_fault({"board": "oven", "fault": "heater_stuck", "on": True})
    sim.apply_fault({"board": "oven", "fault": "sensor_open", "sensor": "wall_temp"})
    sim.apply_fault({"board": "oven", "fault": "sensor_open", "sensor": "pressure"})
    sim.apply_fault({"board": "oven", "fault": "drift", "sensor": "trap_temp", "rate": 0.5})
    sim.apply_fault({"board": "oven", "fault": "drop", "rate": 0.25})
    assert oven.pump.stalled and oven.heater_stuck
    assert oven.physics.leak_tau_s == 120
    assert oven.sensors.open == {"wall_temp", "pressure"}
    assert oven.sensors.drift_rate["trap_temp"] == 0.5
    assert sim.uarts["oven"].faults.drop == 0.25
    sim.apply_fault({"board": "oven", "fault": "sensor_open", "sensor": "pressure", "on": False})
    sim.apply_fault({"board": "oven", "fault": "leak", "on": False})
    assert oven.sensors.open == {"wall_temp"}
    assert oven.physics.leak_tau_s is None
    sim.apply_fault({"board": "oven", "fault": "clear"})
    assert not (oven.pump.stalled or oven.heater_stuck or oven.sensors.open)
    assert oven.sensors.drift_rate["trap_temp"] == 0.0
    assert sim.uarts["oven"].faults.drop == 0.0


def test_sim_ports_start_faults_put_the_oven_s_faults_in_place() -> None:
    faults = StartFaults(
        pump_stall=True, heater_stuck=True, sensor_open=("sample_temp",), lid_leak_tau_s=60.0
    )
    oven = SimBoards(faults=faults).oven
    assert oven.pump.stalled and oven.heater_stuck
    assert oven.sensors.open == {"sample_temp"}
    assert oven.physics.leak_tau_s == 60.0


@pytest.mark.req("SIM-10")
async def test_sim_ports_control_server_answers_each_line_and_survives_bad_input() -> None:
    sim = SimBoards()
    server = ControlServer(sim.apply_fault)
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        lines = [
            b'{"board": "scoop", "fault": "corrupt", "rate": 0.01}',
            b"this is not json",
            b'{"board": "elec", "fault": "drop", "rate": -1}',
            b"[1, 2]",
            b"[" * 5000,  # nested deeper than the JSON parser recurses
            b'{"board": "elec", "fault": "clear"}',
        ]
        answers = []
        for line in lines:
            writer.write(line + b"\n")
            answers.append(json.loads(await asyncio.wait_for(reader.readline(), 2.0)))
        writer.write(b"x" * 100_000 + b"\n")
        answers.append(json.loads(await asyncio.wait_for(reader.readline(), 2.0)))
        writer.close()
        await writer.wait_closed()
    finally:
        await server.close()
    assert [a["ok"] for a in answers] == [True, False, False, False, False, True, False]
    assert "rate" in answers[2]["error"]
    assert "not JSON" in answers[4]["error"]
    assert sim.uarts["scoop"].faults.corrupt == 0.01


@pytest.mark.req("SIM-06")
def test_sim_ports_real_clock_scales_time() -> None:
    clock = RealClock(scale=50.0)
    time.sleep(0.02)
    assert 0.9 <= clock.now() <= 5.0
    with pytest.raises(ValueError, match="scale"):
        RealClock(scale=0.0)


@pytest.mark.req("SIM-06")
async def test_sim_ports_manual_clock_runs_timers_in_time_order() -> None:
    clock = ManualClock()
    fired: list[tuple[str, float]] = []
    clock.call_at(2.0, lambda: fired.append(("b", clock.now())))
    clock.call_at(1.0, lambda: fired.append(("a", clock.now())))
    cancelled = clock.call_at(1.5, lambda: fired.append(("x", clock.now())))
    cancelled.cancel()
    await clock.advance(1.5)
    assert fired == [("a", 1.0)]
    await clock.advance(1.0)
    assert fired == [("a", 1.0), ("b", 2.0)]
    assert clock.now() == 2.5


@pytest.mark.req("SIM-03")
async def test_sim_ports_pty_retried_request_gets_the_cached_reply_not_a_second_run(
    sim: SimBoards,
) -> None:
    host = Host(sim.urls["scoop"])
    try:
        first = await host.ask(BY_NAME["HOME"].id, seq=200)
        again = await host.ask(BY_NAME["HOME"].id, seq=200)  # a second HOME would be BUSY
        fresh = await host.ask(BY_NAME["HOME"].id, seq=201)
    finally:
        host.close()
    assert first.type is MsgType.ACK
    assert again == first
    assert fresh.type is MsgType.NACK
    assert sim.scoop.duplicates == 1
