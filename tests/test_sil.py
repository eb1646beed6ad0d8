"""``isru sil``: the whole stack from one command, and nothing left behind when it stops."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from interface.broker import parse_broker
from isru.sil import EXIT_SIGNALLED, sil_stack
from sim.scoop_arm import sample_mass_g
from tests.ground_probe import Received, ground_probe
from tests.sil_process import START_S, banner, children_of, isru_sil


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
    lines = await banner(process)
    broker = lines["broker"].split()[0]
    assert lines["vehicle"] == "demo"
    children = children_of(process.pid)
    assert len(children) >= 2  # simulator and flight (and mosquitto, unless embedded)
    host, port = parse_broker(broker)
    async with ground_probe(host, port, "demo", topics=("cmd/ack", "status")) as ground:
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


@pytest.mark.req("GND-18")
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
    assert report["sample_mass_g"] == pytest.approx(sample_mass_g(30.0), abs=2.0)
    # 2 A until 150 kPa of H2: about 200 s, so about 400 C and 4 mg of hydrogen.
    assert 3.0e-3 < report["h2_produced_g"] < 6.0e-3
    assert report["o2_produced_g"] == pytest.approx(report["h2_produced_g"] * 7.94, rel=0.01)
    assert report["cell_energy_wh"] > 0 and "energy_wh" not in report


@pytest.mark.req("GND-18")
def test_sil_failed_sequence_exits_non_zero_with_the_reason(tmp_path: Path) -> None:
    seq = tmp_path / "hopeless.seq"
    seq.write_text("MODE.IDLE\nSCOOP.DIG depth_mm=30\n")  # not homed: the interlock refuses
    result = run_sil("--headless", "--run", str(seq), "--time-scale", "20")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "hopeless: ABORTED" in result.stdout
    assert "SCOOP_NOT_HOMED" in result.stdout


@pytest.mark.req("GND-18")
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


# --- stopping the stack, abort causes, mission time across restarts -------------------------

#: A sequence that waits (for a scoop that never homes) until something aborts it.
WAITING = "MODE.IDLE\nWAIT scoop.homed == true TIMEOUT 00:30:00\n"
#: Makes hydrogen until the red limit of the H2 tank (200 kPa, response SAFE) stops it.
OVERPRESSURE = (
    "MODE.IDLE\nELEC.START current_a=2.0\nWAIT elec.h2_pressure_kpa >= 300 TIMEOUT 00:30:00\n"
)


def sequence_running(line: int) -> Callable[[Received], bool]:
    return lambda m: (
        m.topic.endswith("/seq/status")
        and m.payload["state"] == "RUNNING"
        and m.payload["line"] == line
    )


def sequence_aborted(m: Received) -> bool:
    return m.topic.endswith("/evr") and m.payload["id"] == "SEQ_ABORTED"


#: Every mode, each stopping signal sent to `isru sil` alone and to its whole process group (as a
#: terminal's Ctrl-C, `timeout` or a CI runner would), and SIGHUP (the terminal went away).
SIGNAL_CASES = [
    *(
        (mode, signum, group)
        for mode in ("lines", "headless", "run")
        for signum in (signal.SIGINT, signal.SIGTERM)
        for group in (False, True)
    ),
    ("headless", signal.SIGHUP, True),
]


@pytest.mark.parametrize(
    ("mode", "signum", "group"),
    SIGNAL_CASES,
    ids=[f"{m}-{s.name.lower()}{'-group' if g else ''}" for m, s, g in SIGNAL_CASES],
)
async def test_sil_signal_stops_the_whole_stack(
    tmp_path: Path, mode: str, signum: signal.Signals, group: bool
) -> None:
    seq = tmp_path / "waiting.seq"
    seq.write_text(WAITING)
    args = {"headless": ["--headless"], "lines": [], "run": ["--headless", "--run", str(seq)]}
    async with isru_sil(*args[mode], "--time-scale", "20") as sil:
        assert len(sil.children) == 3  # broker, simulator, flight
        read = ("tm/core", "evr", "status", "seq/status")
        async with ground_probe(sil.host, sil.port, "sil", topics=read) as ground:
            if mode == "run":
                await ground.wait_for(sequence_running(2))
            else:
                await ground.wait_for(lambda m: m.topic.endswith("/tm/core"))
            if group:
                os.killpg(sil.process.pid, signum)
            else:
                sil.process.send_signal(signum)
            shutdown = await ground.wait_for(
                lambda m: m.topic.endswith("/evr") and m.payload["id"] == "SHUTDOWN"
            )
            offline = await ground.wait_for(
                lambda m: m.topic.endswith("/status") and m.payload["state"] == "offline"
            )
            if mode == "run":
                aborted = await ground.wait_for(sequence_aborted)
                assert aborted.payload["args"]["cause"] == "restart"
            status, out, err = await sil.finish()
    # The flight stopped first, safe, and its last words reached the ground while the broker
    # was up: SHUTDOWN, then the retained status "offline", and nothing said online after it.
    assert offline.payload["mode"] == "SAFE"
    assert ground.received.index(shutdown) < ground.received.index(offline)
    assert ground.on("status")[-1]["state"] == "offline"
    assert status == (EXIT_SIGNALLED + signum if mode == "run" else 0), out + err
    assert "stopped: flight, simulator and broker closed" in out
    assert "Traceback" not in err
    if mode == "run":
        assert f"stopped by {signum.name} before sequence waiting ended" in err
    assert not [pid for pid in sil.children if alive(pid)], "a child process was left running"


@pytest.mark.req("FLT-12")
@pytest.mark.parametrize("cause", ["command", "limit", "restart"])
async def test_sil_run_reports_what_aborted_the_sequence(tmp_path: Path, cause: str) -> None:
    seq = tmp_path / f"by-{cause}.seq"
    seq.write_text(OVERPRESSURE if cause == "limit" else WAITING)
    report_file = tmp_path / "report.json"
    run = ["--headless", "--run", str(seq), "--report-json", str(report_file)]
    # 20, not 50: at 50 a loaded machine's delays, fifty times over in mission time, let the
    # 30-minute WAIT run out before the H2 limit came (three stressed runs in three).
    async with isru_sil(*run, "--time-scale", "20") as sil:
        read = ("evr", "seq/status")
        async with ground_probe(sil.host, sil.port, "sil", topics=read) as ground:
            if cause == "command":
                await ground.wait_for(sequence_running(2))
                await ground.command("SEQ.ABORT")
            elif cause == "restart":
                await ground.wait_for(sequence_running(2))
                os.kill(sil.child("flight"), signal.SIGTERM)  # as systemctl restart would
            aborted = await ground.wait_for(sequence_aborted)
            status = await ground.wait_for(
                lambda m: m.topic.endswith("/seq/status") and m.payload.get("outcome") == "ABORTED"
            )
        code, out, err = await sil.finish()
    assert code == 1, out + err
    reason = aborted.payload["args"]["reason"]
    assert aborted.payload["args"]["cause"] == cause
    assert reason.startswith(f"{cause}: ")
    assert status.payload["reason"] == reason
    assert f"sequence   by-{cause}: ABORTED ({reason})" in out
    report = json.loads(report_file.read_text())
    assert (report["outcome"], report["cause"], report["reason"]) == ("ABORTED", cause, reason)
    expected = {
        "command": "command: SEQ.ABORT from mqtt",
        "limit": "limit: elec.h2_pressure_kpa = ",
        "restart": "restart: flight software stopped",
    }
    assert reason.startswith(expected[cause])


@pytest.mark.req("FLT-16")
async def test_sil_flight_restarts_keep_mission_time_monotonic() -> None:
    """At 50 times real speed mission time runs far ahead of the system clock: a restarted
    flight (stopped, then killed outright) goes on from there, never back. A sequence cut
    short by the crash is reported ABORTED by a restart once the flight is back."""
    async with sil_stack(time_scale=50) as stack:
        host, port = parse_broker(stack.broker)
        async with ground_probe(host, port, stack.vehicle) as ground:

            def core_of_boot(boot: int, uptime_s: float = 0.0) -> Callable[[Received], bool]:
                return lambda m: (
                    m.topic.endswith("/tm/core")
                    and m.payload["values"]["core.boot_count"] == boot
                    and m.payload["values"]["core.uptime_s"] >= uptime_s
                )

            await ground.wait_for(core_of_boot(1, uptime_s=100))  # 2 s: 100 s ahead
            await stack.restart_flight()
            await ground.wait_for(core_of_boot(2, uptime_s=100))
            await ground.command("SEQ.UPLOAD", {"name": "cut", "text": WAITING})
            await ground.command("SEQ.START", {"name": "cut"})
            await ground.wait_for(sequence_running(2))
            await stack.restart_flight(kill=True)
            await ground.wait_for(core_of_boot(3))
            status = await ground.wait_for(
                lambda m: m.topic.endswith("/seq/status") and m.payload.get("outcome") == "ABORTED"
            )
    assert status.payload["name"] == "cut"
    assert status.payload["reason"] == "restart: interrupted at line 2 by a restart; not resumed"
    times: dict[int, list[datetime]] = {1: [], 2: [], 3: []}
    for m in ground.received:
        if m.topic.endswith("/tm/core"):
            times[m.payload["values"]["core.boot_count"]].append(_time(m))
        elif m.topic.endswith("/evr") and m.payload["id"] == "BOOT":
            times[m.payload["args"]["boot_count"]].append(_time(m))
    assert all(times.values())
    assert max(times[1]) < min(times[2]), "mission time stepped back after a restart"
    assert max(times[2]) < min(times[3]), "mission time stepped back after a crash"


def _time(message: Received) -> datetime:
    return datetime.fromisoformat(message.payload["time"])
