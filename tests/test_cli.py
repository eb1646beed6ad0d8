"""The ``isru`` command as a user runs it: subcommand dispatch and the SIL demo."""

from __future__ import annotations

import subprocess
import sys

import pytest

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


def test_cli_sil_shows_the_live_view_and_stops_cleanly() -> None:
    result = run_isru("sil", "--seconds", "2", "--time-scale", "10")
    assert result.returncode == 0, result.stderr
    assert "broker  mqtt://127.0.0.1:" in result.stdout
    assert "mode SAFE" in result.stdout  # the live view shows telemetry from the vehicle
    assert "stopped: flight, simulator and broker closed" in result.stdout
    assert "Traceback" not in result.stderr


def test_cli_sim_bad_flag_is_one_line_without_traceback() -> None:
    result = run_isru("sim", "--corrupt", "2")
    assert result.returncode == 2
    assert "--corrupt" in result.stderr
    assert "Traceback" not in result.stderr
