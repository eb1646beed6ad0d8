"""tools/fuzz.py, the long fuzz runs of the frame decoder, the command intake and the sequence
parser: each target runs clean as an operator starts it, and a broken contract fails the run."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
FUZZ = ROOT / "tools" / "fuzz.py"


def fuzz(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(FUZZ), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )


def load_fuzz() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fuzz_tool", FUZZ)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("target", ["frame", "command", "sequence"])
def test_fuzz_target_runs_clean_with_hypothesis(target: str) -> None:
    result = fuzz(target, "--engine", "hypothesis", "-atheris_runs=150")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["target"], summary["engine"], summary["runs"]) == (target, "hypothesis", 150)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["frame", "-atheris_runs=many"], "-atheris_runs: must be a positive integer"),
        (["frame", "--engine", "hypothesis", "-max_len=9"], "takes no -max_len=9"),
        (["nothing"], "invalid choice: 'nothing'"),
    ],
)
def test_fuzz_usage_error_exits_2_naming_it(args: list[str], problem: str) -> None:
    result = fuzz(*args)
    assert result.returncode == 2
    assert problem in result.stderr
    assert "Traceback" not in result.stderr


def test_fuzz_broken_contract_fails_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    tool = load_fuzz()
    real = tool.load_targets

    def broken_frame(data: bytes) -> None:
        tool.check(b"\x00" not in data, "a delimiter got through")

    tool.load_targets = lambda: {**real(), "frame": broken_frame}
    assert tool.main(["frame", "--engine", "hypothesis", "-atheris_runs=200"]) == 1
    assert "FAILED: Broken: a delimiter got through" in capsys.readouterr().err


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris not installed")
def test_fuzz_with_atheris_runs_libfuzzer_for_the_runs_asked() -> None:
    result = fuzz("sequence", "-atheris_runs=300")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Done 300 " in result.stderr
