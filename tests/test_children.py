"""isru.children.ChildProcess with real child processes: ready lines, early exits, stopping a
child that ignores SIGTERM, and output that would fill a pipe."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from isru.children import ChildProcess, ChildStartError

PY = sys.executable


def python(code: str) -> list[str]:
    return [PY, "-c", code]


async def test_child_process_ready_line_returns_and_keeps_output() -> None:
    code = "import sys, time\nprint('warming up')\nprint('ready', flush=True)\ntime.sleep(60)"
    async with ChildProcess(
        python(code), name="sleeper", ready=lambda line: line == "ready"
    ) as child:
        assert child.running
        assert list(child.stdout_lines)[:2] == ["warming up", "ready"]
    assert child.returncode is not None and not child.running
    assert not child.forced  # SIGTERM was enough


async def test_child_process_exit_before_ready_raises_with_its_output() -> None:
    code = "import sys\nsys.stderr.write('config is broken\\n')\nsys.exit(3)"
    child = ChildProcess(python(code), name="broken", ready=lambda line: line == "ready")
    with pytest.raises(ChildStartError, match=r"broken did not start: exited with code 3") as info:
        await child.start()
    assert "config is broken" in info.value.output
    assert child.returncode == 3


async def test_child_process_silent_past_timeout_is_killed() -> None:
    child = ChildProcess(
        python("import time\ntime.sleep(60)"),
        name="silent",
        ready=lambda line: line == "ready",
        start_timeout_s=0.5,
    )
    with pytest.raises(ChildStartError, match=r"silent did not start: not ready within 0.5 s"):
        await child.start()
    assert child.returncode is not None and not child.running


async def test_child_process_ignoring_sigterm_is_killed_after_the_grace() -> None:
    code = (
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\ntime.sleep(60)"
    )
    child = ChildProcess(
        python(code), name="stubborn", ready=lambda line: line == "ready", stop_timeout_s=0.5
    )
    await child.start()
    status = await child.stop()
    assert child.forced
    assert status == -9  # killed


async def test_child_process_output_beyond_a_pipe_never_blocks_it() -> None:
    # 1 MiB on stderr before the ready line: a pipe nobody reads would block the child.
    code = (
        "import sys\nfor _ in range(1024):\n    sys.stderr.write('x' * 1023 + '\\n')\n"
        "print('ready', flush=True)"
    )
    child = ChildProcess(
        python(code), name="chatty", ready=lambda line: line == "ready", keep_lines=10
    )
    await child.start()
    assert await child.wait() == 0
    await child.stop()
    assert len(child.stderr_lines) == 10  # the last lines kept


async def test_child_process_stderr_to_a_file_and_bad_argv_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    child = ChildProcess(
        python("import sys\nsys.stderr.write('to the log\\n')"), name="logger", stderr=log
    )
    await child.start()
    assert await child.wait() == 0
    await child.stop()
    assert log.read_text() == "to the log\n"
    with pytest.raises(ValueError, match="argv: must name a program"):
        ChildProcess([], name="nothing")
