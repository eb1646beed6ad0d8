"""``isru ground`` end to end: each verb as an operator types it, against the SIL stack."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest

import ground.cli.online
from ground.cli import main
from ground.cli.parser import severity
from interface.catalog import DICTIONARY
from isru.children import ChildProcess
from isru.testing import Sil
from tests.hung import exit_code

ROOT = Path(__file__).resolve().parents[1]
WAITING = "WAIT core.mode == OPERATING TIMEOUT 00:05:00\nR00:00:00 CORE.NOOP\n"


class GroundCli:
    """``python -m isru.cli ground ...`` against one SIL stack: runs to their end, and
    streams as child processes."""

    def __init__(self, sil: Sil) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ISRU_")}
        self.env.update(ISRU_BROKER=sil.stack.broker, ISRU_VEHICLE=sil.stack.vehicle)
        self.env["PYTHONFAULTHANDLER"] = "1"  # a stream that does not end shows its stacks
        self.started: list[ChildProcess] = []

    def argv(self, *argv: str) -> list[str]:
        return [sys.executable, "-m", "isru.cli", "ground", *argv]

    async def start(self, *argv: str) -> ChildProcess:
        """A stream (``watch``, ``events``) running until it ends or is stopped."""
        name = f"isru ground {argv[0]}"
        process = ChildProcess(self.argv(*argv), name=name, env=self.env, cwd=ROOT)
        self.started.append(process)
        await process.start()
        return process

    async def run(self, *argv: str) -> tuple[int, str, str]:
        """A verb run to its end (killed after 30 s): its exit status, stdout and stderr."""
        result = await asyncio.to_thread(
            subprocess.run,
            self.argv(*argv),
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return result.returncode, result.stdout, result.stderr

    async def subscribed(self, process: ChildProcess) -> None:
        """Once a stream says it is watching (it has subscribed): its first line on stderr."""
        line = await process.wait_for_line(lambda line: "watching" in line, timeout_s=30)
        assert process.stderr_lines[0] == line, process.output()

    async def ended(self, process: ChildProcess) -> tuple[int, str, str]:
        """A stream that ends by itself: its exit status, stdout and stderr."""
        code = await exit_code(process, timeout_s=30.0)  # a bound for a loaded machine
        await process.stop()  # exited: the rest of its output
        return code, lines(process.stdout_lines), lines(process.stderr_lines)

    async def stop(self) -> None:
        for process in self.started:
            await process.kill()


def lines(kept: Iterable[str]) -> str:
    return "".join(line + "\n" for line in kept)


@pytest.fixture
async def cli(sil: Sil) -> AsyncIterator[GroundCli]:
    runner = GroundCli(sil)
    yield runner
    await runner.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.req("GND-02", "GND-03")
async def test_ground_cli_send_reports_stages_refusals_and_bad_arguments(cli: GroundCli) -> None:
    noop, accepted, refused, bad, unknown, ghost = await asyncio.gather(
        cli.run("send", "CORE.NOOP"),
        cli.run("send", "CORE.NOOP", "--wait", "accepted", "--json"),
        cli.run("send", "SCOOP.HOME"),
        cli.run("send", "SCOOP.DIG", "depth_mm=500"),
        cli.run("send", "SCOOP.DIGG", "depth_mm=@"),
        cli.run("send", "CORE.NOOP", "--vehicle", "ghost", "--timeout", "0.5"),
    )
    code, out, _ = noop
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == ["ACCEPTED", "STARTED", "COMPLETED"]
    assert "CORE.NOOP" in out and "T" in out.split()[1]  # the time of each stage
    code, out, _ = accepted
    assert code == 0
    assert [json.loads(line)["stage"] for line in out.splitlines()] == ["ACCEPTED"]
    code, _, err = refused
    assert code == 1
    assert err.startswith("FAILED NOT_ALLOWED_IN_MODE: ") and "SAFE" in err
    for _, out, err in (bad, unknown, ghost):
        assert "Traceback" not in out + err and len(err.splitlines()) == 1, err
    assert bad[0] == 2 and "depth_mm" in bad[2] and bad[1] == ""
    assert unknown[0] == 2 and "depth_mm" in unknown[2]
    assert ghost[0] == 4 and "ghost" in ghost[2]


@pytest.mark.req("GND-15")
async def test_ground_cli_watch_and_events_stream_what_was_asked(sil: Sil, cli: GroundCli) -> None:
    as_json, chosen, unknown = await asyncio.gather(
        cli.run("watch", "--count", "3", "--json"),
        cli.run("watch", "elec.h2_pressure_kpa", "core.mode", "--count", "2"),
        cli.run("watch", "elec.h2_pressure"),
    )
    code, out, _ = as_json
    assert code == 0
    messages = [json.loads(line) for line in out.splitlines()]
    assert len(messages) == 3 and all({"time", "seq", "values"} <= m.keys() for m in messages)
    code, out, _ = chosen
    assert code == 0 and len(out.splitlines()) == 2
    for line in out.splitlines():
        assert "elec.h2_pressure_kpa=" in line or "core.mode=" in line
        assert "elec.h2_pressure_kpa=" not in line or " kPa" in line
        assert "scoop." not in line
    code, _, err = unknown
    assert code == 2 and "'elec.h2_pressure'" in err and "Traceback" not in err

    everything = await cli.start("events", "--count", "1")
    # The severity as the console prints it (WARN), in any case.
    warnings = await cli.start("events", "--count", "1", "--min-severity", "warn", "--json")
    endless = await cli.start("watch", "core.mode")
    for process in (everything, warnings, endless):
        await cli.subscribed(process)
    await sil.send_and_await("MODE.IDLE")  # MODE_CHANGED: INFO
    await sil.send_and_await("MODE.SAFE")
    await sil.send_expect_failure("SCOOP.HOME")  # COMMAND_FAILED: WARNING
    code, out, _ = await cli.ended(everything)
    assert code == 0
    assert "INFO" in out and "MODE_CHANGED" in out
    code, out, _ = await cli.ended(warnings)
    assert code == 0
    assert json.loads(out)["id"] == "COMMAND_FAILED"
    first = await endless.wait_for_line(lambda line: "core.mode=" in line, timeout_s=10)
    # The core packet (1 Hz) may come while the mode is IDLE, between the two commands.
    assert first == endless.stdout_lines[0]
    assert re.fullmatch(r"\S+Z  core\.mode=(SAFE|IDLE)", first), first
    endless.send_signal(signal.SIGINT)  # Ctrl-C: the stream ends normally
    code, _, err = await cli.ended(endless)
    assert code == 0
    assert "Traceback" not in err


@pytest.mark.req("GND-16")
async def test_ground_cli_seq_verbs_check_upload_start_status_abort(
    cli: GroundCli, tmp_path: Path
) -> None:
    good, bad = tmp_path / "waiting.seq", tmp_path / "bad.seq"
    good.write_text(WAITING)
    bad.write_text("CORE.NOOP\nSCOOP.DIG depth_mm=500\n")
    assert await cli.run("seq", "check", str(good)) == (0, f"{good}: ok (2 steps)\n", "")
    code, out, _ = await cli.run("seq", "check", str(good), str(bad))
    assert code == 1 and f"{bad}:2: " in out and "depth_mm" in out
    code, out, _ = await cli.run("seq", "upload", str(bad))
    assert code == 1 and f"{bad}:2: " in out  # checked before it is sent

    code, out, err = await cli.run("seq", "upload", str(good))
    assert (code, err) == (0, ""), err
    assert out.splitlines()[-1].startswith("COMPLETED")
    code, out, err = await cli.run("seq", "upload", str(good), "--name", "again", "--json")
    assert (code, err) == (0, ""), err
    acks = [json.loads(line) for line in out.splitlines()]  # one JSON object a line: an ack
    assert [a["stage"] for a in acks] == ["ACCEPTED", "STARTED", "COMPLETED"]
    assert {a["name"] for a in acks} == {"SEQ.UPLOAD"} and len({a["id"] for a in acks}) == 1
    code, out, _ = await cli.run("seq", "start", "waiting", "--json")
    assert code == 0 and json.loads(out.splitlines()[-1])["stage"] == "COMPLETED"
    code, out, _ = await cli.run("seq", "status")
    assert code == 0 and "state=RUNNING" in out and "name=waiting" in out
    code, out, _ = await cli.run("seq", "abort", "--json")
    assert code == 0
    assert [json.loads(line)["name"] for line in out.splitlines()] == ["SEQ.ABORT"] * 3
    code, out, _ = await cli.run("seq", "status", "--json")
    assert json.loads(out)["outcome"] == "ABORTED"
    code, _, err = await cli.run("seq", "start", "nothing")
    assert code == 1 and "FAILED INVALID_ARGUMENT" in err and "nothing" in err


@pytest.mark.req("GND-01")
async def test_ground_cli_send_dictionary_mismatch_is_refused(
    sil: Sil, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    other = DICTIONARY.model_copy(update={"version": "0.0.0-other"})
    monkeypatch.setattr(
        ground.cli.online, "DICTIONARY", type(DICTIONARY).model_validate(other.model_dump())
    )
    argv = ["--broker", sil.stack.broker, "--vehicle", sil.stack.vehicle]
    assert await asyncio.to_thread(main, [*argv, "send", "CORE.NOOP"]) == 3
    assert "runs dictionary" in capsys.readouterr().err
    # Watching only reads: it still works with another dictionary.
    assert await asyncio.to_thread(main, [*argv, "watch", "--count", "1"]) == 0


@pytest.mark.req("GND-02")
def test_ground_cli_unreachable_broker_exits_4(capsys: pytest.CaptureFixture[str]) -> None:
    broker = f"mqtt://127.0.0.1:{free_port()}"
    assert main(["--broker", broker, "send", "CORE.NOOP"]) == 4
    err = capsys.readouterr().err
    assert broker in err and len(err.splitlines()) == 1


@pytest.mark.req("GND-14", "GND-15")
def test_ground_cli_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    loose = tmp_path / "key"
    loose.write_text("ab" * 32)
    loose.chmod(0o644)
    assert main(["--key", str(loose), "send", "CORE.NOOP"]) == 2
    assert "chmod 600" in capsys.readouterr().err
    assert main(["--broker", "http://x", "watch"]) == 2
    assert main(["send", "CORE.NOOP", "depth=1", "depth=2"]) == 2
    assert main(["send", "CORE.NOOP", "--wait", "soon"]) == 2
    capsys.readouterr()
    assert main(["events", "--min-severity", "loud"]) == 2
    err = capsys.readouterr().err
    assert "'loud' is not a severity (one of DIAGNOSTIC, INFO, WARNING, ERROR, FATAL)" in err
    assert "Severity." not in err
    assert main(["seq", "check", str(tmp_path / "missing.seq")]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.req("GND-14")
def test_ground_cli_help_documents_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for verb in ("send", "watch", "events", "seq", "record", "archive", "plot"):
        assert verb in out
    assert "exit status" in out and "3  the vehicle runs another dictionary" in out
    assert main(["send", "--help"]) == 0
    assert "4  broker or vehicle unreachable" in capsys.readouterr().out


@pytest.mark.req("GND-14")
def test_ground_cli_hands_archive_verbs_to_the_archive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.db"
    assert main(["--vehicle", "sil", "archive", "gaps", "--archive", str(missing)]) == 1
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.req("GND-15")
@pytest.mark.parametrize(
    ("given", "meant"),
    [("WARNING", "WARNING"), ("warn", "WARNING"), ("ERRO", "ERROR"), ("Diag", "DIAGNOSTIC")],
)
def test_ground_cli_severity_takes_names_as_printed_in_any_case(given: str, meant: str) -> None:
    assert severity(given) == meant


def test_ground_cli_severity_unknown_or_empty_is_refused() -> None:
    for word in ("", "X", "WARNINGS"):
        with pytest.raises(argparse.ArgumentTypeError, match="is not a severity"):
            severity(word)
