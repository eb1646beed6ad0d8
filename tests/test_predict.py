"""``isru seq predict``: a sequence's dry run on the simulator, on virtual time.

The prediction runs the flight software's own core (interlocks, limits, the sequencer) and
the SIL firmware in one process; it must agree with a real SIL run of the same sequence.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from isru.chain_report import CHAIN_FIELDS
from isru.predict.vtime import AutojumpLoop
from isru.sequence_cli import main as seq_main
from tests.prediction import agree, predict_text, steps_of

DEMO_SEQ = Path(__file__).parents[1] / "sequences" / "demo.seq"


def _seq(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "probe.seq"
    path.write_text(text)
    return path


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = seq_main(["predict", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_predict_demo_seq_prints_every_figure_of_the_report(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = _cli(capsys, str(DEMO_SEQ), "--json")
    assert status == 0 and err == ""
    p = json.loads(out)
    assert p["outcome"] == "COMPLETED" and p["events"] == []
    assert 100 < p["duration_s"] < 600  # home, dig, dump, then H2 to 150 kPa at 2 A
    for name, *_ in CHAIN_FIELDS:
        assert isinstance(p[name], float), name
    parts = ("oven_energy_wh", "cell_energy_wh", "cell_heater_energy_wh", "scoop_energy_wh")
    assert "energy_wh" not in p  # the SIL report's name of old, for the cell alone
    assert p["total_energy_wh"] == pytest.approx(sum(p[name] for name in parts), abs=1e-3)
    assert p["scoop_energy_wh"] > 0 and p["cell_energy_wh"] > 0
    assert p["oven_energy_wh"] == 0.0  # the demo never heats the oven
    assert p["peak_power_w"] > 0
    assert p["sample_mass_g"] > 50 and p["regolith_g"] == 0.0  # dumped on the ground
    assert p["h2_g"] > 0 and p["o2_g"] == pytest.approx(p["h2_g"] * 7.94, rel=0.01)


def test_predict_text_says_how_the_sequence_would_end(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = _cli(capsys, str(DEMO_SEQ))
    assert status == 0
    assert "sequence   demo: would end COMPLETED" in out and "duration" in out and "peak" in out


def test_predict_interlock_refusal_is_reported_with_its_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _seq(tmp_path, "MODE.IDLE\nR00:00:05 SCOOP.DIG depth_mm=30\n")  # never homed
    status, out, _ = _cli(capsys, str(path), "--json")
    p = json.loads(out)
    assert status == 1 and p["outcome"] == "ABORTED" and p["cause"] == "step"
    interlock, aborted = p["events"]
    assert interlock["kind"] == "INTERLOCK" and "SCOOP_NOT_HOMED" in interlock["what"]
    assert 5.0 <= interlock["time_s"] < 6.0
    assert aborted["kind"] == "FAILED" and aborted["time_s"] >= interlock["time_s"]
    assert p["duration_s"] == pytest.approx(interlock["time_s"], abs=0.5)


def test_predict_limit_trips_are_reported_with_their_times(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "MODE.IDLE\nELEC.START current_a=2.0\n"
        "WAIT elec.h2_pressure_kpa >= 150 TIMEOUT 00:10:00\nELEC.STOP\n"
    )
    path = _seq(tmp_path, text)
    limits = ("elec.h2_pressure_kpa.yellow_high=115", "elec.h2_pressure_kpa.red_high=125")
    status, out, _ = _cli(capsys, str(path), "--json", "--limit", limits[0], "--limit", limits[1])
    p = json.loads(out)
    assert status == 1 and p["outcome"] == "ABORTED" and p["cause"] == "limit"
    yellow, red, aborted = p["events"]
    assert (yellow["kind"], red["kind"], aborted["kind"]) == ("LIMIT", "LIMIT", "FAILED")
    assert "115" in yellow["what"] and "125" in red["what"]
    assert 0 < yellow["time_s"] < red["time_s"] <= aborted["time_s"]
    assert p["duration_s"] == pytest.approx(red["time_s"], abs=1.0)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["nosuch.seq"], "cannot read nosuch.seq"),
        ([str(DEMO_SEQ), "--limit", "nosuch.chan.red_high=1"], "not a channel of the dictionary"),
        ([str(DEMO_SEQ), "--limit", "elec.h2_pressure_kpa=1"], "must be CHANNEL.FIELD=VALUE"),
        ([str(DEMO_SEQ), "--ice-wt-pct", "100"], "from 0 to under 99.85"),
        ([str(DEMO_SEQ), "--cell-params", "nosuch"], "no such file"),
        ([str(DEMO_SEQ), "--max-wall-s", "0"], "--max-wall-s: must be a number of seconds above 0"),
    ],
)
def test_predict_bad_input_is_one_clear_line(args: list[str], error: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "isru.cli", "seq", "predict", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 2 and error in run.stderr and "Traceback" not in run.stderr


def test_predict_runaway_stops_at_its_wall_time_cap_with_exit_3(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = _cli(capsys, str(DEMO_SEQ), "--json", "--max-wall-s", "0.01")
    assert status == 3 and out == ""
    assert err.startswith(f"isru seq: no prediction of {DEMO_SEQ}: stopped after 0.01 s of real")
    assert "(--max-wall-s)" in err and "s into the mission; nothing predicted" in err
    assert len(err.splitlines()) == 1


def test_predict_sequence_with_problems_names_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _cli(capsys, str(_seq(tmp_path, "SCOOP.FLY\n")))
    assert status == 1 and "line 1" in err and "SCOOP.FLY" in err


def _sil_report(tmp_path: Path, seq: Path, *args: str) -> dict[str, Any]:
    """The ``--report-json`` report of ``isru sil --run seq``, whatever the run's outcome."""
    report = tmp_path / f"{seq.stem}.json"
    run = subprocess.run(
        [
            sys.executable, "-m", "isru.cli", "sil", "--headless", "--run", str(seq),
            "--report-json", str(report), *args,
        ],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert report.is_file(), f"isru sil exited {run.returncode}:\n{run.stdout}\n{run.stderr}"
    document: dict[str, Any] = json.loads(report.read_text())
    return document


#: The demo is short and many of its steps are commands: in SIL each command's round trip
#: takes real milliseconds, which a time scale of 100 turns into seconds of mission time
#: (11 s of its 236 s). At a scale of 10 they are a tenth of that, as on the vehicle, and
#: the SIL run takes about 25 s.
DEMO_SIL_SCALE = 10.0


def test_predict_demo_agrees_with_its_sil_run(tmp_path: Path) -> None:
    sil = _sil_report(tmp_path, DEMO_SEQ, "--time-scale", str(DEMO_SIL_SCALE))
    p = predict_text(DEMO_SEQ.read_text(), name="demo", time_scale=DEMO_SIL_SCALE).as_dict()
    assert p["outcome"] == "COMPLETED"
    names = ("sample_mass_g", "charge_ah", "cell_energy_wh", "h2_g", "o2_g")
    agree(p, sil, names, steps=steps_of(DEMO_SEQ.read_text()), time_scale=DEMO_SIL_SCALE)


def test_predict_virtual_loop_jumps_over_idle_waits_in_order() -> None:
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        woke.append((name, asyncio.get_running_loop().time()))

    async def main() -> float:
        start = asyncio.get_running_loop().time()
        await asyncio.gather(sleeper("hour", 3600.0), sleeper("minute", 60.0))
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await asyncio.Event().wait()  # nothing will ever set it
        return asyncio.get_running_loop().time() - start

    with asyncio.Runner(loop_factory=AutojumpLoop) as runner:
        elapsed = runner.run(main())
    assert [name for name, _ in woke] == ["minute", "hour"]
    assert [t for _, t in woke] == pytest.approx([60.0, 3600.0])
    assert elapsed == pytest.approx(3600.2)


def test_predict_virtual_loop_waits_for_loopback_replies_without_time_passing() -> None:
    async def main() -> tuple[bytes, float]:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(await reader.readexactly(5))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        start = asyncio.get_running_loop().time()
        writer.write(b"hello")
        async with asyncio.timeout(0.2):  # would expire if the loop jumped while bytes flew
            reply = await reader.readexactly(5)
        took = asyncio.get_running_loop().time() - start
        writer.close()
        server.close()
        return reply, took

    with asyncio.Runner(loop_factory=AutojumpLoop) as runner:
        reply, took = runner.run(main())
    assert reply == b"hello" and took == 0.0


def test_predict_virtual_loop_stands_still_while_a_thread_works() -> None:
    """pyserial-asyncio opens its ports in a thread: the boards' clocks must not race ahead."""
    release = threading.Event()

    def blocking_open() -> str:  # stands for serial_for_url: blocks until the "port" answers
        assert release.wait(timeout=10.0)
        return "open"

    async def main() -> tuple[str, float, list[float]]:
        loop = asyncio.get_running_loop()
        ticks: list[float] = []

        def tick() -> None:  # a board's timer every virtual second
            ticks.append(loop.time())
            loop.call_later(1.0, tick)

        loop.call_later(1.0, tick)
        opening = loop.run_in_executor(None, blocking_open)
        loop.call_soon(lambda: threading.Timer(0.05, release.set).start())
        result = await opening
        return result, loop.time(), list(ticks)

    with asyncio.Runner(loop_factory=AutojumpLoop) as runner:
        result, when, ticks = runner.run(main())
    assert result == "open" and when == 0.0 and ticks == []
