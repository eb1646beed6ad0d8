"""``python -m sim`` (``isru sim``) as a real child process: banner, symlinks, signals, errors."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from hal.commands import BY_NAME, BoardInfo, BoardKind
from hal.framing import FrameDecoder, encode_frame
from hal.layout import layout_of
from hal.message import Message, MsgType
from hal.telemetry import OvenFlags, OvenState, OvenTelemetry
from isru.sim_child import SimChild

ROOT = Path(__file__).resolve().parent.parent


def ask(url: str, command: str | None) -> bytes:
    """The ACK body of one request without arguments (None: the next telemetry packet)."""
    port = serial.serial_for_url(url, timeout=2.0)
    want = MsgType.TELEMETRY if command is None else MsgType.ACK
    try:
        if command is not None:
            request = Message(MsgType.REQUEST, 1, BY_NAME[command].id)
            port.write(encode_frame(request.encode()))
        decoder = FrameDecoder()
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:  # on socket:// in_waiting says 1 at most
            for payload in decoder.feed(port.read(max(port.in_waiting, 16))):
                message = Message.decode(payload)
                if message.type is want:
                    return message.body
        raise AssertionError(f"no {command or 'telemetry'} reply")
    finally:
        port.close()


def get_info(url: str) -> BoardInfo:
    return layout_of(BoardInfo).unpack(ask(url, "GET_INFO"))


@pytest.mark.req("SIM-12")
async def test_sim_cli_prints_banner_keeps_symlinks_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    links = tmp_path / "dev"
    args = ["--link-dir", str(links), "--control-port", "0", "--seed", "4"]
    async with SimChild(args=args) as sim:  # the banner: a line per board, control, ready
        assert list(sim.urls) == ["scoop", "elec", "oven"]
        for board in ("scoop", "elec", "oven"):
            assert sim.urls[board] == str(links / board)
            assert os.readlink(links / board).startswith(f"/proc/{sim.pid}/fd/")
            assert str((links / board).resolve()).startswith("/dev/pts/")
        assert (await asyncio.to_thread(get_info, sim.urls["oven"])).board is BoardKind.OVEN
        info = await asyncio.to_thread(get_info, sim.urls["elec"])
        assert info.boot_count == 1
        assert sim.control is not None
        reader, writer = await asyncio.open_connection(*sim.control)
        writer.write(b'{"board": "scoop", "fault": "drop", "rate": 0.5}\nnonsense\n')
        answers = [json.loads(await reader.readline()) for _ in range(2)]
        writer.close()
        assert [a["ok"] for a in answers] == [True, False]
        assert await sim.stop() == 0  # SIGTERM
    assert not (links / "scoop").is_symlink()
    assert not (links / "elec").is_symlink()
    assert not (links / "oven").is_symlink()


@pytest.mark.req("SIM-12")
async def test_sim_cli_killed_leaves_symlinks_that_open_nothing(tmp_path: Path) -> None:
    # SIGKILL removes no symlink. One left pointing at /dev/pts/N would open whatever program
    # the system gives that pty number next: a host reconnecting would read its bytes.
    links = tmp_path / "dev"
    async with SimChild(args=["--link-dir", str(links)]) as sim:
        await sim.kill()
        for board in ("scoop", "elec", "oven"):
            assert (links / board).is_symlink()
            assert not (links / board).exists()
            with pytest.raises(serial.SerialException, match="No such file"):
                serial.Serial(str(links / board))
        await sim.start()  # the same links, pointing at the new ptys
        assert (await asyncio.to_thread(get_info, sim.urls["scoop"])).boot_count == 1


async def test_sim_cli_oven_fault_flags_are_in_place_from_the_start() -> None:
    args = ["--tcp", "--sensor-open", "wall_temp", "--heater-stuck", "--lid-leak", "60"]
    async with SimChild(args=[*args, "--pump-stall", "--ice-wt-pct", "8"]) as sim:
        tm = layout_of(OvenTelemetry).unpack(await asyncio.to_thread(ask, sim.urls["oven"], None))
        assert tm.state is OvenState.FAULT  # the open thermocouple latched on a control cycle
        assert tm.flags & OvenFlags.SENSOR_FAULT
        assert tm.wall_temp_c == 2000.0
        assert await sim.stop() == 0


@pytest.mark.req("SIM-05")
async def test_sim_cli_boot_count_persists_across_a_killed_process(tmp_path: Path) -> None:
    args = ["--tcp", "--state-dir", str(tmp_path / "state")]
    async with SimChild(args=args) as first:
        assert first.urls["scoop"].startswith("socket://127.0.0.1:")
        assert (await asyncio.to_thread(get_info, first.urls["scoop"])).boot_count == 1
        await first.kill()  # a crash: no clean shutdown
    async with SimChild(args=args) as second:
        assert (await asyncio.to_thread(get_info, second.urls["scoop"])).boot_count == 2
        assert await second.stop() == 0


@pytest.mark.req("SIM-12")
@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--corrupt", "1.5"], "--corrupt"),
        (["--drop", "lots"], "--drop"),
        (["--stall", "elbow"], "--stall"),
        (["--baud", "0"], "--baud"),
        (["--time-scale", "-1"], "--time-scale"),
        (["--link-dir", "/proc/no/such/dir"], "--link-dir"),
        (["--tcp", "--link-dir", "/tmp"], "--link-dir"),
        (["--oven-port", "70000"], "--oven-port"),
        (["--ice-wt-pct", "120"], "--ice-wt-pct"),
        (["--sensor-open", "load_cell"], "--sensor-open"),
        (["--lid-leak", "0"], "--lid-leak"),
        (["--bogus"], "--bogus"),
    ],
)
def test_sim_cli_bad_argument_exits_2_with_one_line_naming_the_flag(
    args: list[str], flag: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sim", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert flag in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_sim_cli_link_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    occupied = tmp_path / "file"
    occupied.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "sim", "--link-dir", str(occupied)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--link-dir" in result.stderr
    assert "Traceback" not in result.stderr
