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


async def test_children_ready_line_returns_and_keeps_output() -> None:
    code = "import sys, time\nprint('warming up')\nprint('ready', flush=True)\ntime.sleep(60)"
    async with ChildProcess(
        python(code), name="sleeper", ready=lambda line: line == "ready"
    ) as child:
        assert child.running
        assert list(child.stdout_lines)[:2] == ["warming up", "ready"]
    assert child.returncode is not None and not child.running
    assert not child.forced  # SIGTERM was enough


async def test_children_exit_before_ready_raises_with_its_output() -> None:
    code = "import sys\nsys.stderr.write('config is broken\\n')\nsys.exit(3)"
    child = ChildProcess(python(code), name="broken", ready=lambda line: line == "ready")
    with pytest.raises(ChildStartError, match=r"broken did not start: exited with code 3") as info:
        await child.start()
    assert "config is broken" in info.value.output
    assert child.returncode == 3


async def test_children_exit_before_ready_waits_for_the_rest_of_stderr() -> None:
    # The stdout reader could see its end, and the exit, before the stderr reader had read the
    # line that says why (1 suite in 7 under load). Here a grandchild holds both streams after
    # the child has exited: it ends stdout first, and writes the reason to stderr later.
    grandchild = (
        "import os, sys, time\ntime.sleep(0.2)\nos.close(1)\ntime.sleep(0.3)\n"
        "sys.stderr.write('config is broken\\n')"
    )
    code = (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', {grandchild!r}])\nsys.exit(3)"
    )
    child = ChildProcess(python(code), name="broken", ready=lambda line: line == "ready")
    with pytest.raises(ChildStartError, match=r"broken did not start: exited with code 3") as info:
        await child.start()
    assert "config is broken" in info.value.output


async def test_children_silent_past_timeout_is_killed() -> None:
    child = ChildProcess(
        python("import time\ntime.sleep(60)"),
        name="silent",
        ready=lambda line: line == "ready",
        start_timeout_s=0.5,
    )
    with pytest.raises(ChildStartError, match=r"silent did not start: not ready within 0.5 s"):
        await child.start()
    assert child.returncode is not None and not child.running


async def test_children_ignoring_sigterm_is_killed_after_the_grace() -> None:
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


async def test_children_output_beyond_a_pipe_never_blocks_it() -> None:
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


async def test_children_stderr_to_a_file_and_bad_argv_is_refused(tmp_path: Path) -> None:
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


async def test_children_stdin_pipe_is_written_and_closed_by_stop() -> None:
    # The child echoes what it reads and says "eof" when its stdin ends: stop() ends it.
    code = (
        "import sys\nprint('ready', flush=True)\nfor line in sys.stdin:\n"
        "    print('got', line.strip(), flush=True)\nprint('eof', flush=True)\n"
        "import time\ntime.sleep(60)"
    )
    child = ChildProcess(
        python(code), name="reader", ready=lambda line: line == "ready", stdin="pipe"
    )
    await child.start()
    assert child.stdin is not None
    child.stdin.write(b"one\ntwo\n")
    await child.stdin.drain()
    assert await child.wait_for_line(lambda line: line == "got two", timeout_s=10) == "got two"
    await child.stop()
    assert child.stdin.is_closing()
    assert list(child.stdout_lines)[1:3] == ["got one", "got two"]


async def test_children_default_stdin_is_empty() -> None:
    code = "import sys\nprint(repr(sys.stdin.read()), flush=True)"
    async with ChildProcess(python(code), name="empty") as child:
        assert child.stdin is None
        assert await child.wait_for_line(lambda line: True, timeout_s=10) == "''"


async def test_children_wait_for_line_finds_kept_lines_and_new_ones_on_stderr() -> None:
    code = (
        "import sys\nprint('ready', flush=True)\nsys.stdin.readline()\n"
        "sys.stderr.write('watching\\n')\nsys.stderr.flush()\nimport time\ntime.sleep(60)"
    )
    async with ChildProcess(
        python(code), name="stream", ready=lambda line: line == "ready", stdin="pipe"
    ) as child:
        assert await child.wait_for_line(lambda line: line == "ready", timeout_s=10) == "ready"
        assert child.stdin is not None
        child.stdin.write(b"go\n")
        line = await child.wait_for_line(lambda line: "watching" in line, timeout_s=10)
        assert line == "watching"
        with pytest.raises(TimeoutError):
            await child.wait_for_line(lambda line: line == "never", timeout_s=0.2)


async def test_children_wait_for_line_after_the_output_ended_raises() -> None:
    code = "print('only line', flush=True)"
    async with ChildProcess(python(code), name="brief") as child:
        assert await child.wait() == 0
        with pytest.raises(RuntimeError, match=r"brief: output ended without the line\nonly line"):
            await child.wait_for_line(lambda line: line == "another", timeout_s=10)
        assert await child.stop() == 0  # exited: nothing signalled, its code kept
