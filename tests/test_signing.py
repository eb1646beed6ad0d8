"""interface.signing: canonical bytes, the MAC, the fingerprint and key files."""

from __future__ import annotations

import math
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from interface import signing
from interface.signing import (
    KeyFileError,
    canonical_command,
    fingerprint,
    generate_key_file,
    load_key,
    sign,
)
from tests.signing_cases import (
    DOC_KEY_HEX,
    KEY,
    VEHICLE,
    counters,
    json_args,
    mutations,
    names,
    write_key_file,
)


def test_signing_canonical_command_is_compact_sorted_utf8() -> None:
    canonical = canonical_command(
        vehicle="v", counter=1, name="N", args={"b": 1, "a": {"d": "é", "c": [1.0, True]}}
    )
    expected = '{"args":{"a":{"c":[1.0,true],"d":"é"},"b":1},"counter":1,"name":"N","vehicle":"v"}'
    assert canonical == expected.encode()


@pytest.mark.parametrize(
    "args",
    [{"x": math.nan}, {"x": math.inf}, {"x": [-math.inf]}, {"x": object()}, {"x": "\ud800"}],
)
def test_signing_canonical_command_refuses_values_without_canonical_form(
    args: dict[str, Any],
) -> None:
    with pytest.raises((ValueError, TypeError)):
        canonical_command(vehicle="v", counter=1, name="N", args=args)


def test_signing_sign_is_lowercase_hex_sha256() -> None:
    mac = sign(KEY, vehicle=VEHICLE, counter=1, name="CORE.NOOP", args={})
    assert re.fullmatch(r"[0-9a-f]{64}", mac)


def test_signing_sign_type_of_a_value_is_covered() -> None:
    def mac(args: dict[str, Any]) -> str:
        return sign(KEY, vehicle=VEHICLE, counter=1, name="N", args=args)

    assert len({mac({"x": 30}), mac({"x": 30.0}), mac({"x": "30"})}) == 3
    assert mac({"x": 1}) != mac({"x": True})
    assert mac({"x": 0}) != mac({"x": False}) != mac({"x": None})


@given(name=names, counter=counters, args=json_args)
def test_signing_sign_any_single_change_breaks_mac(
    name: str, counter: int, args: dict[str, Any]
) -> None:
    mac = sign(KEY, vehicle=VEHICLE, counter=counter, name=name, args=args)
    for what, vehicle, c, n, a in mutations(name, counter, args):
        assert sign(KEY, vehicle=vehicle, counter=c, name=n, args=a) != mac, what


def test_signing_fingerprint_is_first_8_hex_of_sha256() -> None:
    assert fingerprint(bytes.fromhex(DOC_KEY_HEX)) == "630dcd29"
    assert fingerprint(KEY) == "630dcd29"  # the same bytes


def test_signing_load_key_accepts_owner_only_file(tmp_path: Path) -> None:
    path = write_key_file(tmp_path / "k", f"  {DOC_KEY_HEX}\n\n")
    assert load_key(path) == bytes.fromhex(DOC_KEY_HEX)


@pytest.mark.parametrize("mode", [0o400, 0o600, 0o700])
def test_signing_load_key_owner_modes_accepted(tmp_path: Path, mode: int) -> None:
    path = write_key_file(tmp_path / "k", DOC_KEY_HEX.upper(), mode)
    assert load_key(path) == bytes.fromhex(DOC_KEY_HEX)


def test_signing_load_key_longer_key_accepted(tmp_path: Path) -> None:
    path = write_key_file(tmp_path / "k", "ab" * 64)
    assert load_key(path) == bytes([0xAB]) * 64


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o610, 0o601, 0o666])
def test_signing_load_key_group_or_other_access_refused(tmp_path: Path, mode: int) -> None:
    path = write_key_file(tmp_path / "k", DOC_KEY_HEX, mode)
    with pytest.raises(KeyFileError, match=rf"permissions {mode:04o} let group or others") as err:
        load_key(path)
    assert str(path) in str(err.value)
    assert "chmod 600" in str(err.value)
    assert DOC_KEY_HEX not in str(err.value)


def test_signing_load_key_missing_refused(tmp_path: Path) -> None:
    path = tmp_path / "absent.key"
    with pytest.raises(KeyFileError, match=rf"^key file {re.escape(str(path))}: does not exist"):
        load_key(path)


def test_signing_load_key_directory_refused(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    directory.mkdir(mode=0o700)
    with pytest.raises(KeyFileError, match="is a directory"):
        load_key(directory)


def test_signing_load_key_unreadable_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_key_file(tmp_path / "k", DOC_KEY_HEX)

    def denied(*args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(signing.os, "open", denied)
    with pytest.raises(KeyFileError, match="not readable: permission denied"):
        load_key(path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("xyz" + DOC_KEY_HEX, "is not hex: only 0-9 and a-f"),
        (DOC_KEY_HEX[:32] + " " + DOC_KEY_HEX[32:], "is not hex: only 0-9 and a-f"),
        ("0x" + DOC_KEY_HEX, "is not hex: only 0-9 and a-f"),
        (DOC_KEY_HEX + "0", "odd number of digits"),
        ("", "key too short: 0 bytes"),
        (DOC_KEY_HEX[:62], "key too short: 31 bytes, at least 32"),
        ("é" + DOC_KEY_HEX, "non-ASCII"),
        ("00" * 3000, "is over 4096 bytes"),
    ],
)
def test_signing_load_key_bad_content_refused(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "k"
    path.write_bytes(text.encode("utf-8"))
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match=match) as err:
        load_key(path)
    assert str(path) in str(err.value)
    assert DOC_KEY_HEX not in str(err.value)
    assert DOC_KEY_HEX[:62] not in str(err.value)


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_signing_generate_key_file_mode_is_0600(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "command.key"
    old = os.umask(umask)
    try:
        generate_key_file(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = load_key(path)
    assert len(key) == 32
    assert path.read_text(encoding="ascii") == key.hex() + "\n"


def test_signing_generate_key_file_keys_differ(tmp_path: Path) -> None:
    generate_key_file(tmp_path / "a")
    generate_key_file(tmp_path / "b")
    assert load_key(tmp_path / "a") != load_key(tmp_path / "b")


def test_signing_generate_key_file_never_overwrites(tmp_path: Path) -> None:
    path = write_key_file(tmp_path / "k", DOC_KEY_HEX, 0o644)
    with pytest.raises(KeyFileError, match="already exists; refusing to overwrite"):
        generate_key_file(path)
    assert path.read_text(encoding="ascii") == DOC_KEY_HEX
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_signing_generate_key_file_missing_directory_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"directory .* does not exist"):
        generate_key_file(tmp_path / "no" / "k")
