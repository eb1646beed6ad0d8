"""The ``isru`` command as a user runs it: subcommand dispatch and the SIL demo."""

from __future__ import annotations

import subprocess
import sys

import pytest

from isru.children import ChildProcess
from isru.cli import main


def run_isru(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "isru.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_cli_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "sim" in out
    assert "sil" in out


def test_cli_unknown_command_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fly"]) == 2
    assert "unknown command 'fly'" in capsys.readouterr().err


async def test_cli_sil_shows_the_live_view_and_stops_cleanly() -> None:
    sil = ChildProcess([sys.executable, "-m", "isru.cli", "sil", "--time-scale", "10"], name="sil")
    async with sil:
        # The live view shows telemetry from the vehicle.
        await sil.wait_for_line(lambda line: line.startswith("mode SAFE"), timeout_s=60)
        code = await sil.stop(timeout_s=30)
    assert code == 0, sil.output()
    assert any(line.startswith("broker  mqtt://127.0.0.1:") for line in sil.stdout_lines)
    assert "stopped: flight, simulator and broker closed" in sil.stdout_lines
    assert not any("Traceback" in line for line in sil.stderr_lines)


def test_cli_sil_seconds_counts_from_online_and_exits_0() -> None:
    result = run_isru("sil", "--seconds", "1", "--time-scale", "10")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    online = lines.index("flight  online; Ctrl-C stops everything")
    assert lines[online + 1 :], "no status line between online and the stop"
    assert lines[-1] == "stopped: flight, simulator and broker closed"
    assert "Traceback" not in result.stderr


def test_cli_sim_bad_flag_is_one_line_without_traceback() -> None:
    result = run_isru("sim", "--corrupt", "2")
    assert result.returncode == 2
    assert "--corrupt" in result.stderr
    assert "Traceback" not in result.stderr
