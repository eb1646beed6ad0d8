"""``isru key``: generate and fingerprint a command key file; refusals and usage."""

from __future__ import annotations

from pathlib import Path

import pytest

from interface.signing import (
    fingerprint,
    load_key,
)
from isru.key_cli import main as key_main
from tests.signing_cases import DOC_KEY_HEX, write_key_file


def test_key_cli_generate_prints_path_and_fingerprint_not_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "command.key"
    assert key_main(["generate", str(path)]) == 0
    out, err = capsys.readouterr()
    key = load_key(path)
    assert out == f"wrote {path} (key fingerprint {fingerprint(key)})\n"
    assert key.hex() not in out + err


def test_key_cli_fingerprint_prints_fingerprint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_key_file(tmp_path / "k", DOC_KEY_HEX)
    assert key_main(["fingerprint", str(path)]) == 0
    assert capsys.readouterr().out == "630dcd29\n"


@pytest.mark.parametrize("verb", ["generate", "fingerprint"])
def test_key_cli_refused_file_is_one_line_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], verb: str
) -> None:
    path = write_key_file(tmp_path / "k", DOC_KEY_HEX, 0o644)
    assert key_main([verb, str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"isru key: key file {path}: ")
    assert "Traceback" not in err
    assert DOC_KEY_HEX not in err


@pytest.mark.parametrize("argv", [[], ["rotate", "k"], ["generate"]])
def test_key_cli_usage_error_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert key_main(argv) == 2
    assert "usage: isru key" in capsys.readouterr().err
