"""``isru sil``: the whole stack from one command, and nothing left behind when it stops."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from flight.schemas import parse_broker
from tests.ground_probe import ground_probe

START_S = 60.0


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("broker_flag", [[], ["--embedded-broker"]], ids=["mosquitto", "amqtt"])
async def test_sil_runs_the_stack_and_leaves_nothing_behind(broker_flag: list[str]) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "isru.cli",
        "sil",
        "--headless",
        "--vehicle",
        "demo",
        *broker_flag,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    lines: dict[str, str] = {}
    async with asyncio.timeout(START_S):
        while "flight" not in lines:
            line = (await process.stdout.readline()).decode()
            assert line, (await process.stderr.read()).decode()
            word, _, rest = line.strip().partition(" ")
            lines[word] = rest.strip()
    broker = lines["broker"].split()[0]
    assert lines["vehicle"] == "demo"
    children = children_of(process.pid)
    assert len(children) >= 2  # simulator and flight (and mosquitto, unless embedded)
    host, port = parse_broker(broker)
    async with ground_probe(host, port, "demo") as ground:
        command_id = await ground.command("CORE.NOOP")
        assert (await ground.final_ack(command_id))["stage"] == "COMPLETED"
        process.send_signal(signal.SIGTERM)
        offline = await ground.wait_for(
            lambda m: m.topic.endswith("/status") and m.payload["state"] == "offline"
        )
    assert offline.payload["mode"] == "SAFE"
    async with asyncio.timeout(START_S):
        rest = (await process.stdout.read()).decode()
        assert await process.wait() == 0
    assert "stopped: flight, simulator and broker closed" in rest
    assert not [pid for pid in children if alive(pid)], "a child process was left running"
    with pytest.raises(OSError):
        _, writer = await asyncio.open_connection(host, port)  # the broker's port is free
        writer.close()
    assert "Traceback" not in (await process.stderr.read()).decode()


def test_sil_bad_broker_url_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from isru.sil import main

    assert main(["--broker", "http://x"]) == 2
    assert "is not mqtt://host:port" in capsys.readouterr().err


def run_sil(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "isru.cli", "sil", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_sil_runs_the_demo_sequence_and_reports(tmp_path: Path) -> None:
    demo = Path(__file__).parents[1] / "sequences" / "demo.seq"
    report_file = tmp_path / "report.json"
    result = run_sil(
        "--headless", "--run", str(demo), "--time-scale", "40", "--report-json", str(report_file)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sequence   demo: COMPLETED" in result.stdout
    report = json.loads(report_file.read_text())
    assert report["outcome"] == "COMPLETED"
    assert report["sample_mass_g"] == pytest.approx(112.5, abs=2.0)
    # 2 A until 150 kPa of H2: about 200 s, so about 400 C and 4 mg of hydrogen.
    assert 3.0e-3 < report["h2_produced_g"] < 6.0e-3
    assert report["o2_produced_g"] == pytest.approx(report["h2_produced_g"] * 7.94, rel=0.01)
    assert report["energy_wh"] > 0


def test_sil_failed_sequence_exits_non_zero_with_the_reason(tmp_path: Path) -> None:
    seq = tmp_path / "hopeless.seq"
    seq.write_text("MODE.IDLE\nSCOOP.DIG depth_mm=30\n")  # not homed: the interlock refuses
    result = run_sil("--headless", "--run", str(seq), "--time-scale", "20")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "hopeless: ABORTED" in result.stdout
    assert "SCOOP_NOT_HOMED" in result.stdout


def test_sil_bad_sequence_file_is_refused_before_starting(tmp_path: Path) -> None:
    seq = tmp_path / "bad.seq"
    seq.write_text("SCOOP.DIG depth_mm=300\nWAIT scoop.nothing == 1 TIMEOUT 00:00:01\n")
    result = run_sil("--headless", "--run", str(seq))
    assert result.returncode == 2
    assert "line 1" in result.stderr and "line 2" in result.stderr
    assert "Traceback" not in result.stderr


async def gone(pid: int, *, timeout_s: float) -> bool:
    """Whether process ``pid`` exits within ``timeout_s`` (a pidfd turns readable at exit)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    loop = asyncio.get_running_loop()
    exited = loop.create_future()
    loop.add_reader(fd, lambda: exited.done() or exited.set_result(True))
    try:
        async with asyncio.timeout(timeout_s):
            return bool(await exited)
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(fd)
        os.close(fd)


async def test_sil_killed_outright_takes_its_children_with_it() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "isru.cli", "sil", "--headless", stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    async with asyncio.timeout(START_S):
        while b"flight" not in await process.stdout.readline():
            pass
    children = children_of(process.pid)
    assert len(children) == 3  # broker, simulator, flight
    process.kill()
    await process.wait()
    for pid in children:
        assert await gone(pid, timeout_s=20), f"child {pid} outlived a killed isru sil"
