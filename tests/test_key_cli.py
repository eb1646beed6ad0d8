"""``isru key``: generate and fingerprint a command key file; refusals and usage."""

from __future__ import annotations

from pathlib import Path

import pytest

from interface.custody.keys import (
    generate_signing_key_file,
    key_id,
    load_public_key,
    load_signing_key,
    public_pem,
)
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


def test_key_cli_generate_signing_key_is_private_pem_and_fingerprint_agrees(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "vehicle.pem"
    assert key_main(["generate", "--kind", "signing", str(path)]) == 0
    out = capsys.readouterr().out
    key = load_signing_key(path)
    fp = key_id(key.public_key())
    assert out == f"wrote {path} (Ed25519 signing key; public key fingerprint {fp})\n"
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert key_main(["fingerprint", str(path)]) == 0
    assert capsys.readouterr().out == f"{fp}\n"
    assert key_main(["generate", "--kind", "signing", str(path)]) == 1
    assert "already exists; refusing to overwrite it" in capsys.readouterr().err


def test_key_cli_public_prints_or_writes_the_public_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "vehicle.pem"
    public = generate_signing_key_file(path)
    assert key_main(["public", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.encode() == public_pem(public)
    assert "PRIVATE" not in out
    target = tmp_path / "vehicle.pub.pem"
    assert key_main(["public", str(path), "--out", str(target)]) == 0
    assert capsys.readouterr().out == f"wrote {target} (public key fingerprint {key_id(public)})\n"
    assert key_id(load_public_key(target)) == key_id(public)
    assert key_main(["fingerprint", str(target)]) == 0
    assert capsys.readouterr().out == f"{key_id(public)}\n"
    assert key_main(["public", str(path), "--out", str(target)]) == 1
    assert "refusing to overwrite" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("verb", "mode", "why"),
    [
        ("fingerprint", 0o644, "permissions 0644 let group or others read or write it"),
        ("public", 0o640, "permissions 0640 let group or others read or write it"),
    ],
)
def test_key_cli_readable_signing_key_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], verb: str, mode: int, why: str
) -> None:
    path = tmp_path / "vehicle.pem"
    generate_signing_key_file(path)
    path.chmod(mode)
    assert key_main([verb, str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"isru key: key file {path}: {why}; run: chmod 600 {path}\n"


def test_key_cli_public_of_a_command_key_says_it_is_not_a_signing_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_key_file(tmp_path / "k", DOC_KEY_HEX)
    assert key_main(["public", str(path)]) == 1
    assert "is not a PEM key file (make one with: isru key generate --kind signing)" in (
        capsys.readouterr().err
    )
