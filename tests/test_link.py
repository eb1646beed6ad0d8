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


def test_link_rejects_a_read_hold_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"read_hold_s: must be 0 to 0\.25 s, got -0\.1"):
        SerialLink(url="/dev/null", read_hold_s=-0.1)
    with pytest.raises(ValueError, match=r"read_hold_s: must be 0 to 0\.25 s, got 1\.0"):
        SerialLink(url="/dev/null", read_hold_s=1.0)


class Arrivals:
    """The telemetry sequence numbers a link delivers; :meth:`wait` for a count of them."""

    def __init__(self, link: SerialLink) -> None:
        self.seqs: list[int] = []
        self._changed = asyncio.Event()
        link.add_listener(self._arrived)

    def _arrived(self, message: Message) -> None:
        self.seqs.append(message.seq)
        self._changed.set()

    async def wait(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self.seqs) < count:
                self._changed.clear()
                await self._changed.wait()


async def _first_telemetry(link: SerialLink, device: PtyDevice) -> Arrivals:
    """Start the link's telemetry with one frame: its read starts a hold."""
    arrivals = Arrivals(link)
    device.send(Message(MsgType.TELEMETRY, 1, 0x01, b"\x01"))
    await arrivals.wait(1)
    return arrivals


async def test_link_with_a_read_hold_reads_what_came_meanwhile_in_one_read(
    device: PtyDevice,
) -> None:
    async with SerialLink(url=device.path, read_hold_s=0.25) as link:
        arrivals = await _first_telemetry(link, device)
        reads = link.stats.reads
        for seq in range(2, 6):  # during the hold that the first frame's read began
            device.send(Message(MsgType.TELEMETRY, seq, 0x01, bytes([seq])))
            for _ in range(3):  # turns in which a link without a hold would read it
                await asyncio.sleep(0)
        await arrivals.wait(5)
    assert arrivals.seqs == [1, 2, 3, 4, 5]
    assert link.stats.reads - reads == 1
    assert link.stats.telemetry == 5 and link.stats.telemetry_gaps == 0


async def test_link_with_a_read_hold_does_not_hold_a_reply(device: PtyDevice) -> None:
    # The hold is longer than the request's timeout: a held reply would time out and be
    # asked for again.
    async with SerialLink(url=device.path, read_hold_s=0.25, timeout_s=0.2) as link:
        await _first_telemetry(link, device)
        body = await link.request(BY_NAME["GET_INFO"])
        device.send(Message(MsgType.TELEMETRY, 2, 0x01, b"\x02"))  # a hold after the reply
        body_again = await link.request(BY_NAME["GET_INFO"])
    assert layout_of(BoardInfo).unpack(body) == INFO == layout_of(BoardInfo).unpack(body_again)
    assert (link.stats.retries, link.stats.timeouts) == (0, 0)


async def test_link_with_a_read_hold_notices_the_port_going(tmp_path: Path) -> None:
    device = PtyDevice(answer_info, link_path=tmp_path / "scoop")
    device.open()
    async with SerialLink(url=str(tmp_path / "scoop"), read_hold_s=0.25) as link:
        await _first_telemetry(link, device)
        device.close()  # during the hold
        await link.wait_state(LinkState.LOST, timeout_s=5)
        with pytest.raises(LinkDown, match="is down"):
            await link.request(BY_NAME["GET_INFO"])


async def test_link_read_holds_of_two_boards_end_in_the_same_wake(
    device: PtyDevice, tmp_path: Path
) -> None:
    # Every board held alike is read again at the same moment, a multiple of the hold on the
    # loop's clock: one wake for all of them (a rate group), not one per board.
    other = PtyDevice(answer_info, link_path=tmp_path / "elec")
    other.open()
    try:
        async with (
            SerialLink(url=device.path, read_hold_s=0.25) as first,
            SerialLink(url=str(tmp_path / "elec"), read_hold_s=0.25) as second,
        ):
            for link, board in ((first, device), (second, other)):
                arrivals = Arrivals(link)
                for seq in range(1, 6):  # (a hold can end before we look: look at the next)
                    board.send(Message(MsgType.TELEMETRY, seq, 0x01, bytes([seq])))
                    await arrivals.wait(seq)
                    hold = link._protocol._hold  # type: ignore[union-attr]
                    if hold is not None:
                        break
                assert hold is not None
                ends = hold.when()
                assert ends / 0.25 == round(ends / 0.25), "on the grid: the same for both"
                assert 0 < ends - asyncio.get_running_loop().time() <= 0.25
    finally:
        other.close()
