"""interface.signing, flight.auth and ``isru key``: canonical bytes, signing, the replay
counter, key files, and the worked example in docs/mqtt.md (checked by value, by OpenSSL, and
by the doc's own snippets)."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import stat
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flight.auth import Authenticator, AuthError
from interface import signing
from interface.signing import (
    KeyFileError,
    canonical_command,
    fingerprint,
    generate_key_file,
    load_key,
    sign,
)
from isru.key_cli import main as key_main

DOC = Path(__file__).resolve().parents[1] / "docs" / "mqtt.md"

# The worked example of docs/mqtt.md "## Command authentication"; each must appear verbatim.
DOC_KEY_HEX = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
DOC_VEHICLE = "rover1"
DOC_COUNTER = 42
DOC_NAME = "SCOOP.DIG"
DOC_ARGS: dict[str, Any] = {"depth_mm": 30}
DOC_CANONICAL = '{"args":{"depth_mm":30},"counter":42,"name":"SCOOP.DIG","vehicle":"rover1"}'
DOC_MAC = "7a09959e761c2ad8a68cbb65c43738b1af7a7c3b4beff1b73f30a7fc07c2bc55"
DOC_MESSAGE = (
    '{"id": "c-42", "name": "SCOOP.DIG", "args": {"depth_mm": 30}, "counter": 42, '
    '"mac": "7a09959e761c2ad8a68cbb65c43738b1af7a7c3b4beff1b73f30a7fc07c2bc55"}'
)

KEY = bytes(range(32))
VEHICLE = "rover1"


def auth_section() -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("## Command authentication")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def code_block(language: str, containing: str = "") -> str:
    blocks = re.findall(rf"^```{language}\n(.*?)^```$", auth_section(), re.M | re.S)
    blocks = [block for block in blocks if containing in block]
    assert len(blocks) == 1, f"expected one {language} block in the doc, found {len(blocks)}"
    return str(blocks[0])


class Persisted:
    """A ``persist`` callback that records what it was given and what the checker knew then."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.authenticator: Authenticator | None = None
        self.highest_seen: list[int] = []

    def __call__(self, counter: int) -> None:
        self.calls.append(counter)
        if self.authenticator is not None:
            self.highest_seen.append(self.authenticator.highest_counter)


def make_auth(highest: int = 0) -> tuple[Authenticator, Persisted]:
    persisted = Persisted()
    authenticator = Authenticator(
        key=KEY, vehicle=VEHICLE, highest_counter=highest, persist=persisted
    )
    persisted.authenticator = authenticator
    return authenticator, persisted


def signed(counter: int, name: str = "CORE.NOOP", args: Mapping[str, Any] | None = None) -> Any:
    args = {} if args is None else args
    mac = sign(KEY, vehicle=VEHICLE, counter=counter, name=name, args=args)
    return {"counter": counter, "mac": mac, "name": name, "args": args}


# --- JSON-able values, as a command's args can hold them ----------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
json_args = st.dictionaries(st.text(min_size=1, max_size=12), json_values, max_size=5)
names = st.text(min_size=1, max_size=64)
counters = st.integers(min_value=1, max_value=signing.MAX_COUNTER - 1)  # +1 stays in range


# --- canonical bytes and the doc's worked example --------------------------------------


def test_canonical_command_doc_example_bytes() -> None:
    canonical = canonical_command(
        vehicle=DOC_VEHICLE, counter=DOC_COUNTER, name=DOC_NAME, args=DOC_ARGS
    )
    assert canonical == DOC_CANONICAL.encode("utf-8")
    assert len(canonical) == 75


def test_sign_doc_example_mac() -> None:
    key = bytes.fromhex(DOC_KEY_HEX)
    mac = sign(key, vehicle=DOC_VEHICLE, counter=DOC_COUNTER, name=DOC_NAME, args=DOC_ARGS)
    assert mac == DOC_MAC


def test_doc_example_values_appear_verbatim() -> None:
    section = auth_section()
    for value in (DOC_KEY_HEX, DOC_CANONICAL, DOC_MAC, DOC_MESSAGE, "(75 bytes)"):
        assert value in section, value
    message = json.loads(DOC_MESSAGE)
    assert message["counter"] == DOC_COUNTER
    assert (message["name"], message["args"]) == (DOC_NAME, DOC_ARGS)


def test_doc_example_message_is_accepted() -> None:
    message = json.loads(DOC_MESSAGE)
    authenticator = Authenticator(
        key=bytes.fromhex(DOC_KEY_HEX), vehicle=DOC_VEHICLE, highest_counter=0, persist=[].append
    )
    authenticator.check(
        counter=message["counter"], mac=message["mac"], name=message["name"], args=message["args"]
    )
    assert authenticator.highest_counter == DOC_COUNTER


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_doc_openssl_command_gives_doc_mac() -> None:
    block = code_block("sh", "openssl dgst")
    lines = [line for line in block.splitlines() if "openssl dgst" in line]
    assert len(lines) == 1
    command = lines[0]
    assert DOC_CANONICAL in command
    assert f"hexkey:{DOC_KEY_HEX}" in command
    result = subprocess.run(
        ["sh", "-c", command], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == DOC_MAC


def doc_python_sign() -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(code_block("python"), "docs/mqtt.md", "exec"), namespace)
    return namespace["sign"]


def test_doc_python_snippet_signs_doc_example() -> None:
    doc_sign = doc_python_sign()
    assert doc_sign(DOC_KEY_HEX, DOC_VEHICLE, DOC_COUNTER, DOC_NAME, DOC_ARGS) == DOC_MAC


@given(name=names, counter=counters, args=json_args)
def test_doc_python_snippet_signs_like_flight(
    name: str, counter: int, args: dict[str, Any]
) -> None:
    expected = sign(KEY, vehicle=VEHICLE, counter=counter, name=name, args=args)
    assert DOC_PYTHON_SIGN(KEY.hex(), VEHICLE, counter, name, args) == expected


DOC_PYTHON_SIGN = doc_python_sign()

# Arguments whose JavaScript and Python texts must agree: escapes, non-ASCII, nesting, numbers
# JSON.stringify writes like Python does (not floats below 1e-4, which the doc warns about).
JS_CASES: list[tuple[str, dict[str, Any]]] = [
    (DOC_NAME, DOC_ARGS),
    ("ELEC.START", {"current_a": 2.5}),
    ("CORE.NOOP", {}),
    ("X.Y", {"b": [1, 2.25, -3, 0.1, 1e21, 1.5e300], "a": {"z": None, "y": True, "x": False}}),
    ("X.Y", {"text": 'quote " back \\ slash / nl \n tab \t cr \r bs \b ff \f nul \x00 \x1f'}),
    ("X.Y", {"text": "\x7f é ü 月 😀 \u2028 \u2029", "ключ": "значение"}),
    ("X.Y", {"big": 9007199254740991, "neg": -12, "zero": 0, "list": [[], {}, [[]]]}),
]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_doc_js_snippet_signs_like_flight(tmp_path: Path) -> None:
    script = tmp_path / "sign.js"
    cases = json.dumps([[name, args] for name, args in JS_CASES], ensure_ascii=True)
    script.write_text(
        code_block("js")
        + f"\nconst cases = {cases};\n"
        + f'for (const [name, args] of cases) console.log(sign("{KEY.hex()}", "{VEHICLE}", '
        + "7, name, args));\n"
        + f'console.log(sign("{DOC_KEY_HEX}", "{DOC_VEHICLE}", {DOC_COUNTER}, "{DOC_NAME}", '
        + f"{json.dumps(DOC_ARGS)}));\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        ["node", str(script)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    expected = [sign(KEY, vehicle=VEHICLE, counter=7, name=n, args=a) for n, a in JS_CASES]
    assert result.stdout.split() == [*expected, DOC_MAC]


def test_canonical_command_is_compact_sorted_utf8() -> None:
    canonical = canonical_command(
        vehicle="v", counter=1, name="N", args={"b": 1, "a": {"d": "é", "c": [1.0, True]}}
    )
    expected = '{"args":{"a":{"c":[1.0,true],"d":"é"},"b":1},"counter":1,"name":"N","vehicle":"v"}'
    assert canonical == expected.encode()


@pytest.mark.parametrize(
    "args",
    [{"x": math.nan}, {"x": math.inf}, {"x": [-math.inf]}, {"x": object()}, {"x": "\ud800"}],
)
def test_canonical_command_refuses_values_without_canonical_form(args: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        canonical_command(vehicle="v", counter=1, name="N", args=args)


def test_sign_is_lowercase_hex_sha256() -> None:
    mac = sign(KEY, vehicle=VEHICLE, counter=1, name="CORE.NOOP", args={})
    assert re.fullmatch(r"[0-9a-f]{64}", mac)


def test_sign_type_of_a_value_is_covered() -> None:
    def mac(args: dict[str, Any]) -> str:
        return sign(KEY, vehicle=VEHICLE, counter=1, name="N", args=args)

    assert len({mac({"x": 30}), mac({"x": 30.0}), mac({"x": "30"})}) == 3
    assert mac({"x": 1}) != mac({"x": True})
    assert mac({"x": 0}) != mac({"x": False}) != mac({"x": None})


# --- Authenticator --------------------------------------------------------------------------


@given(name=names, counter=counters, args=json_args)
def test_authenticator_round_trip_accepts_and_persists(
    name: str, counter: int, args: dict[str, Any]
) -> None:
    authenticator, persisted = make_auth()
    authenticator.check(**signed(counter, name, args))
    assert persisted.calls == [counter]
    assert authenticator.highest_counter == counter


def mutations(
    name: str, counter: int, args: dict[str, Any]
) -> Iterator[tuple[str, str, int, str, dict[str, Any]]]:
    """Every kind of single change to a command: (what, vehicle, counter, name, args)."""
    yield "vehicle", VEHICLE + "x", counter, name, args
    yield "vehicle case", VEHICLE.upper(), counter, name, args
    yield "counter", VEHICLE, counter + 1, name, args
    yield "name", VEHICLE, counter, name + "x", args
    yield "added arg", VEHICLE, counter, name, {**args, "\x00new": 0}
    for key, value in args.items():
        others = {k: v for k, v in args.items() if k != key}
        yield f"removed {key!r}", VEHICLE, counter, name, others
        yield f"changed {key!r}", VEHICLE, counter, name, {**args, key: [value]}
        yield f"renamed {key!r}", VEHICLE, counter, name, {**others, key + "x": value}


@given(name=names, counter=counters, args=json_args)
def test_sign_any_single_change_breaks_mac(name: str, counter: int, args: dict[str, Any]) -> None:
    mac = sign(KEY, vehicle=VEHICLE, counter=counter, name=name, args=args)
    for what, vehicle, c, n, a in mutations(name, counter, args):
        assert sign(KEY, vehicle=vehicle, counter=c, name=n, args=a) != mac, what


@given(name=names, counter=counters, args=json_args)
def test_authenticator_tampered_command_is_bad_mac(
    name: str, counter: int, args: dict[str, Any]
) -> None:
    mac = sign(KEY, vehicle=VEHICLE, counter=counter, name=name, args=args)
    for what, vehicle, c, n, a in mutations(name, counter, args):
        calls: list[int] = []
        checker = Authenticator(key=KEY, vehicle=vehicle, highest_counter=0, persist=calls.append)
        with pytest.raises(AuthError, match=r"^bad_mac") as refused:
            checker.check(counter=c, mac=mac, name=n, args=a)
        assert refused.value.reason == "bad_mac", what
        assert calls == [], what
        assert checker.highest_counter == 0


def test_authenticator_accepts_rising_counters_with_gaps() -> None:
    authenticator, persisted = make_auth()
    for counter in (1, 2, 10, 1_700_000_000_000):
        authenticator.check(**signed(counter))
    assert persisted.calls == [1, 2, 10, 1_700_000_000_000]
    assert authenticator.highest_counter == 1_700_000_000_000


def test_authenticator_replayed_command_refused() -> None:
    authenticator, persisted = make_auth()
    command = signed(5, "SCOOP.DIG", {"depth_mm": 30})
    authenticator.check(**command)
    with pytest.raises(AuthError, match=r"^replayed: counter 5 was already used") as refused:
        authenticator.check(**command)
    assert refused.value.reason == "replayed"
    assert persisted.calls == [5]


def test_authenticator_counter_zero_on_fresh_vehicle_is_malformed() -> None:
    authenticator, persisted = make_auth(highest=0)
    with pytest.raises(AuthError, match=r"^malformed: counter must be an integer from 1 to"):
        authenticator.check(**signed(0))
    assert persisted.calls == []


@pytest.mark.parametrize("counter", [2**53, 2**70, 10**5000], ids=["2^53", "2^70", "10^5000"])
def test_authenticator_counter_above_2_53_is_refused_and_not_consumed(counter: int) -> None:
    authenticator, persisted = make_auth(highest=10)
    with pytest.raises(AuthError, match=r"^malformed: counter must be an integer from 1 to 9007"):
        # Checked before the mac (10^5000 has no canonical form to sign at all).
        authenticator.check(counter=counter, mac="a" * 64, name="CORE.NOOP", args={})
    assert persisted.calls == []
    assert authenticator.highest_counter == 10
    authenticator.check(**signed(11))  # nobody is locked out
    assert persisted.calls == [11]


def test_authenticator_largest_counter_is_2_53_minus_1() -> None:
    authenticator, persisted = make_auth()
    authenticator.check(**signed(2**53 - 1))
    assert persisted.calls == [signing.MAX_COUNTER] == [2**53 - 1]


def test_authenticator_reads_the_counter_where_it_is_kept() -> None:
    kept = {"highest": 0}

    def persist(counter: int) -> None:
        kept["highest"] = counter

    authenticator = Authenticator(
        key=KEY, vehicle=VEHICLE, highest_counter=lambda: kept["highest"], persist=persist
    )
    kept["highest"] = 41  # loaded after the checker was made
    with pytest.raises(AuthError, match=r"^stale: counter 40 .* highest accepted counter 41"):
        authenticator.check(**signed(40))
    authenticator.check(**signed(42))
    assert authenticator.highest_counter == kept["highest"] == 42


def test_authenticator_stale_counter_names_both_numbers() -> None:
    authenticator, persisted = make_auth(highest=100)
    with pytest.raises(AuthError, match=r"^stale: counter 99 .* highest accepted counter 100"):
        authenticator.check(**signed(99))
    assert persisted.calls == []
    assert authenticator.highest_counter == 100


def test_authenticator_persisted_counter_survives_restart() -> None:
    first, persisted = make_auth()
    command = signed(7)
    first.check(**command)
    restarted, _ = make_auth(highest=persisted.calls[-1])
    with pytest.raises(AuthError, match=r"^replayed"):
        restarted.check(**command)


@pytest.mark.parametrize(
    ("counter", "mac", "missing"),
    [(None, "0" * 64, "no counter:"), (1, None, "no mac:"), (None, None, "no counter and no mac")],
)
def test_authenticator_unsigned_refused(counter: int | None, mac: str | None, missing: str) -> None:
    authenticator, persisted = make_auth()
    with pytest.raises(AuthError, match=f"^unsigned: {missing}") as refused:
        authenticator.check(counter=counter, mac=mac, name="CORE.NOOP", args={})
    assert refused.value.reason == "unsigned"
    assert persisted.calls == []


def test_authenticator_bad_mac_does_not_consume_counter() -> None:
    authenticator, persisted = make_auth()
    good = signed(3)
    with pytest.raises(AuthError, match=r"^bad_mac") as refused:
        authenticator.check(**{**good, "mac": "0" * 64})
    assert refused.value.reason == "bad_mac"
    assert persisted.calls == []
    authenticator.check(**good)
    assert persisted.calls == [3]


def test_authenticator_wrong_key_is_bad_mac() -> None:
    authenticator, persisted = make_auth()
    mac = sign(bytes(32), vehicle=VEHICLE, counter=1, name="CORE.NOOP", args={})
    with pytest.raises(AuthError, match=r"^bad_mac: mac does not match CORE.NOOP counter 1"):
        authenticator.check(counter=1, mac=mac, name="CORE.NOOP", args={})
    assert persisted.calls == []


def test_authenticator_stale_or_replayed_with_bad_mac_is_bad_mac() -> None:
    authenticator, persisted = make_auth(highest=10)
    for counter in (9, 10):
        with pytest.raises(AuthError, match=r"^bad_mac"):
            authenticator.check(counter=counter, mac="1" * 64, name="CORE.NOOP", args={})
    assert persisted.calls == []


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"counter": -1}, "counter must be an integer"),
        ({"counter": True}, "counter must be an integer"),
        ({"counter": 1.0}, "counter must be an integer"),
        ({"counter": "1"}, "counter must be an integer"),
        ({"mac": "A" * 64}, "mac must be 64 lowercase hex digits"),
        ({"mac": "a" * 63}, "mac must be 64 lowercase hex digits"),
        ({"mac": "a" * 64 + "\n"}, "mac must be 64 lowercase hex digits"),
        ({"args": {"x": math.nan}}, "no canonical JSON form"),
        ({"args": {"x": {1, 2}}}, "no canonical JSON form"),
    ],
)
def test_authenticator_malformed_refused(changes: dict[str, Any], match: str) -> None:
    authenticator, persisted = make_auth()
    with pytest.raises(AuthError, match=f"^malformed: .*{match}") as refused:
        authenticator.check(**{**signed(1), **changes})
    assert refused.value.reason == "malformed"
    assert persisted.calls == []


def test_authenticator_persists_counter_before_check_returns() -> None:
    authenticator, persisted = make_auth(highest=4)
    authenticator.check(**signed(5))
    # persist ran while the checker still held the old highest: before check returned.
    assert persisted.calls == [5]
    assert persisted.highest_seen == [4]
    assert authenticator.highest_counter == 5


def test_authenticator_persist_failure_refuses_and_keeps_counter() -> None:
    def broken(counter: int) -> None:
        raise OSError("disk full")

    authenticator = Authenticator(key=KEY, vehicle=VEHICLE, highest_counter=4, persist=broken)
    with pytest.raises(OSError, match="disk full"):
        authenticator.check(**signed(5))
    assert authenticator.highest_counter == 4


def test_authenticator_refusals_never_contain_the_key() -> None:
    authenticator, _ = make_auth(highest=5)
    attempts = [
        {**signed(6), "mac": None},
        {**signed(6), "mac": "zz"},
        {**signed(6), "mac": "0" * 64},
        signed(5),
        signed(4),
    ]
    for attempt in attempts:
        with pytest.raises(AuthError) as refused:
            authenticator.check(**attempt)
        assert KEY.hex() not in str(refused.value)
        assert KEY.hex() not in refused.value.detail
    assert KEY.hex() not in repr(authenticator)
    assert fingerprint(KEY) in repr(authenticator)


def test_authenticator_short_key_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        Authenticator(key=bytes(31), vehicle=VEHICLE, highest_counter=0, persist=[].append)


def test_fingerprint_is_first_8_hex_of_sha256() -> None:
    assert fingerprint(bytes.fromhex(DOC_KEY_HEX)) == "630dcd29"
    assert fingerprint(KEY) == "630dcd29"  # the same bytes


# --- key files ------------------------------------------------------------------------------


def write_key_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="ascii")
    path.chmod(mode)
    return path


def test_load_key_accepts_owner_only_file(tmp_path: Path) -> None:
    path = write_key_file(tmp_path / "k", f"  {DOC_KEY_HEX}\n\n")
    assert load_key(path) == bytes.fromhex(DOC_KEY_HEX)


@pytest.mark.parametrize("mode", [0o400, 0o600, 0o700])
def test_load_key_owner_modes_accepted(tmp_path: Path, mode: int) -> None:
    path = write_key_file(tmp_path / "k", DOC_KEY_HEX.upper(), mode)
    assert load_key(path) == bytes.fromhex(DOC_KEY_HEX)


def test_load_key_longer_key_accepted(tmp_path: Path) -> None:
    path = write_key_file(tmp_path / "k", "ab" * 64)
    assert load_key(path) == bytes([0xAB]) * 64


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o610, 0o601, 0o666])
def test_load_key_group_or_other_access_refused(tmp_path: Path, mode: int) -> None:
    path = write_key_file(tmp_path / "k", DOC_KEY_HEX, mode)
    with pytest.raises(KeyFileError, match=rf"permissions {mode:04o} let group or others") as err:
        load_key(path)
    assert str(path) in str(err.value)
    assert "chmod 600" in str(err.value)
    assert DOC_KEY_HEX not in str(err.value)


def test_load_key_missing_refused(tmp_path: Path) -> None:
    path = tmp_path / "absent.key"
    with pytest.raises(KeyFileError, match=rf"^key file {re.escape(str(path))}: does not exist"):
        load_key(path)


def test_load_key_directory_refused(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    directory.mkdir(mode=0o700)
    with pytest.raises(KeyFileError, match="is a directory"):
        load_key(directory)


def test_load_key_unreadable_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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
def test_load_key_bad_content_refused(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "k"
    path.write_bytes(text.encode("utf-8"))
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match=match) as err:
        load_key(path)
    assert str(path) in str(err.value)
    assert DOC_KEY_HEX not in str(err.value)
    assert DOC_KEY_HEX[:62] not in str(err.value)


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_generate_key_file_mode_is_0600(tmp_path: Path, umask: int) -> None:
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


def test_generate_key_file_keys_differ(tmp_path: Path) -> None:
    generate_key_file(tmp_path / "a")
    generate_key_file(tmp_path / "b")
    assert load_key(tmp_path / "a") != load_key(tmp_path / "b")


def test_generate_key_file_never_overwrites(tmp_path: Path) -> None:
    path = write_key_file(tmp_path / "k", DOC_KEY_HEX, 0o644)
    with pytest.raises(KeyFileError, match="already exists; refusing to overwrite"):
        generate_key_file(path)
    assert path.read_text(encoding="ascii") == DOC_KEY_HEX
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_generate_key_file_missing_directory_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"directory .* does not exist"):
        generate_key_file(tmp_path / "no" / "k")


# --- isru key -------------------------------------------------------------------------------


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
