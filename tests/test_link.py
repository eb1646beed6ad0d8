"""The serial link over real pseudo-terminals, against a scripted device."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hal import (
    BoardInfo,
    BoardKind,
    DeviceNack,
    DeviceTimeout,
    LinkDown,
    LinkState,
    NackCode,
    PortError,
    SerialLink,
)
from hal.commands import BY_NAME, TelemetryRate
from hal.layout import layout_of
from hal.message import Message, MsgType, nack_body
from tests.ptydevice import PtyDevice

INFO = BoardInfo(BoardKind.SCOOP, 1, 0, 1, 7, 1234)


def answer_info(message: Message) -> list[Message]:
    body = layout_of(BoardInfo).pack(INFO)
    return [Message(MsgType.ACK, message.seq, message.msg_id, body)]


@pytest.fixture
async def device() -> AsyncIterator[PtyDevice]:
    dev = PtyDevice(answer_info)
    dev.open()
    yield dev
    dev.close()


@pytest.mark.req("HAL-05")
async def test_link_request_returns_ack_body(device: PtyDevice) -> None:
    async with SerialLink(url=device.path) as link:
        body = await link.request(BY_NAME["GET_INFO"])
    assert layout_of(BoardInfo).unpack(body) == INFO
    assert link.stats.requests == 1
    assert link.stats.retries == 0


async def test_link_packs_arguments_little_endian(device: PtyDevice) -> None:
    async with SerialLink(url=device.path) as link:
        await link.request(BY_NAME["SET_TM_RATE"], TelemetryRate(50.0))
    assert device.received[-1].body == bytes.fromhex("00004842")


@pytest.mark.req("HAL-07")
async def test_link_nack_raises_with_code_and_argument(device: PtyDevice) -> None:
    device.handler = lambda m: [
        Message(MsgType.NACK, m.seq, m.msg_id, nack_body(NackCode.OUT_OF_RANGE, 0))
    ]
    async with SerialLink(url=device.path) as link:
        with pytest.raises(DeviceNack, match=r"SET_TM_RATE.*OUT_OF_RANGE.*argument 0") as info:
            await link.request(BY_NAME["SET_TM_RATE"], TelemetryRate(5000.0))
    assert info.value.code == NackCode.OUT_OF_RANGE
    assert info.value.arg_index == 0
    assert link.stats.nacks == 1


@pytest.mark.req("HAL-06")
async def test_link_retries_with_the_same_sequence_number(device: PtyDevice) -> None:
    seen: list[Message] = []

    def ignore_first(message: Message) -> list[Message]:
        seen.append(message)
        return [] if len(seen) == 1 else answer_info(message)

    device.handler = ignore_first
    async with SerialLink(url=device.path, timeout_s=0.05, retries=2) as link:
        await link.request(BY_NAME["GET_INFO"])
    assert [m.seq for m in seen] == [seen[0].seq, seen[0].seq]
    assert link.stats.retries == 1


@pytest.mark.req("HAL-06")
async def test_link_times_out_after_every_retry(device: PtyDevice) -> None:
    device.handler = lambda m: []
    async with SerialLink(url=device.path, timeout_s=0.02, retries=2) as link:
        with pytest.raises(DeviceTimeout, match="GET_INFO: no answer after 3 attempt") as info:
            await link.request(BY_NAME["GET_INFO"])
    assert info.value.attempts == 3
    assert link.stats.timeouts == 1
    assert len(device.received) == 3


@pytest.mark.req("HAL-05")
async def test_link_ignores_replies_to_other_requests(device: PtyDevice) -> None:
    def wrong_then_right(message: Message) -> list[Message]:
        stale = Message(MsgType.ACK, (message.seq - 1) & 0xFF, message.msg_id, b"")
        return [stale, *answer_info(message)]

    device.handler = wrong_then_right
    async with SerialLink(url=device.path) as link:
        body = await link.request(BY_NAME["GET_INFO"])
    assert layout_of(BoardInfo).unpack(body) == INFO
    assert link.stats.stale_replies == 1


@pytest.mark.req("HAL-10")
async def test_link_survives_garbage_and_delivers_telemetry(device: PtyDevice) -> None:
    async with SerialLink(url=device.path) as link:
        arrived: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        link.add_listener(arrived.set_result)
        device.send_raw(b"\x13\x37garbage\x00\xff\xfe\x00")
        device.send(Message(MsgType.TELEMETRY, 9, 0x01, b"\x01\x02"))
        message = await asyncio.wait_for(arrived, 2)
        assert (message.seq, message.body) == (9, b"\x01\x02")
        assert link.stats.framing_errors + link.stats.crc_errors >= 1
        body = await link.request(BY_NAME["GET_INFO"])
    assert layout_of(BoardInfo).unpack(body) == INFO


@pytest.mark.req("HAL-10")
async def test_link_counts_telemetry_gaps(device: PtyDevice) -> None:
    async with SerialLink(url=device.path) as link:
        for seq in (250, 251, 254, 1):  # two missed, then wraps past 255 missing two more
            device.send(Message(MsgType.TELEMETRY, seq, 0x01, b""))
        device.send(Message(MsgType.ACK, 0, 0, b""))  # a marker: everything before has arrived
        await link.request(BY_NAME["GET_INFO"])
    assert link.stats.telemetry == 4
    assert link.stats.telemetry_gaps == 4


@pytest.mark.req("HAL-08")
async def test_link_reopens_when_the_port_returns(tmp_path: Path) -> None:
    stable = tmp_path / "scoop"
    first = PtyDevice(answer_info, link_path=stable)
    first.open()
    states: list[LinkState] = []
    async with SerialLink(url=str(stable), reconnect_s=0.02) as link:
        link.add_state_listener(states.append)
        await link.request(BY_NAME["GET_INFO"])
        first.close()
        await link.wait_state(LinkState.LOST, timeout_s=5)
        with pytest.raises(LinkDown, match="is down"):
            await link.request(BY_NAME["GET_INFO"])
        second = PtyDevice(answer_info, link_path=stable)
        second.open()
        await link.wait_state(LinkState.OPEN, timeout_s=5)
        body = await link.request(BY_NAME["GET_INFO"])
        second.close()
    assert layout_of(BoardInfo).unpack(body) == INFO
    assert link.stats.losses >= 1
    assert link.stats.reopens >= 1
    assert states[0] is LinkState.LOST


@pytest.mark.req("HAL-09")
async def test_link_open_unknown_port_names_it(tmp_path: Path) -> None:
    missing = str(tmp_path / "ttyUSB9")
    with pytest.raises(PortError, match=r"ttyUSB9.*No such file") as info:
        async with SerialLink(url=missing):
            pass
    assert info.value.url == missing


@pytest.mark.req("HAL-09")
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("socket://", "host and port"),
        ("nonsense://x", "protocol 'nonsense' not known"),
        ("socket://127.0.0.1:1", "Connect call failed"),
    ],
)
async def test_link_open_malformed_url_raises_port_error(url: str, reason: str) -> None:
    with pytest.raises(PortError, match=reason):
        async with SerialLink(url=url):
            pass


def test_link_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        SerialLink(url="/dev/null", timeout_s=0)
    with pytest.raises(ValueError, match="url"):
        SerialLink(url="")
