"""The worked example of docs/mqtt.md "## Command authentication": its values by value, by
OpenSSL, and by the doc's own Python and JavaScript snippets against interface.signing."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from flight.mqtt import Authenticator
from interface.signing import (
    canonical_command,
    sign,
)
from tests.signing_cases import (
    DOC,
    DOC_ARGS,
    DOC_CANONICAL,
    DOC_COUNTER,
    DOC_KEY_HEX,
    DOC_MAC,
    DOC_MESSAGE,
    DOC_NAME,
    DOC_VEHICLE,
    KEY,
    VEHICLE,
    counters,
    json_args,
    names,
)


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


def test_signing_doc_canonical_command_example_bytes() -> None:
    canonical = canonical_command(
        vehicle=DOC_VEHICLE, counter=DOC_COUNTER, name=DOC_NAME, args=DOC_ARGS
    )
    assert canonical == DOC_CANONICAL.encode("utf-8")
    assert len(canonical) == 75


def test_signing_doc_sign_example_mac() -> None:
    key = bytes.fromhex(DOC_KEY_HEX)
    mac = sign(key, vehicle=DOC_VEHICLE, counter=DOC_COUNTER, name=DOC_NAME, args=DOC_ARGS)
    assert mac == DOC_MAC


def test_signing_doc_example_values_appear_verbatim() -> None:
    section = auth_section()
    for value in (DOC_KEY_HEX, DOC_CANONICAL, DOC_MAC, DOC_MESSAGE, "(75 bytes)"):
        assert value in section, value
    message = json.loads(DOC_MESSAGE)
    assert message["counter"] == DOC_COUNTER
    assert (message["name"], message["args"]) == (DOC_NAME, DOC_ARGS)


def test_signing_doc_example_message_is_accepted() -> None:
    message = json.loads(DOC_MESSAGE)
    authenticator = Authenticator(
        key=bytes.fromhex(DOC_KEY_HEX), vehicle=DOC_VEHICLE, highest_counter=0, persist=[].append
    )
    authenticator.check(
        counter=message["counter"], mac=message["mac"], name=message["name"], args=message["args"]
    )
    assert authenticator.highest_counter == DOC_COUNTER


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_signing_doc_openssl_command_gives_doc_mac() -> None:
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


def test_signing_doc_python_snippet_signs_doc_example() -> None:
    doc_sign = doc_python_sign()
    assert doc_sign(DOC_KEY_HEX, DOC_VEHICLE, DOC_COUNTER, DOC_NAME, DOC_ARGS) == DOC_MAC


@given(name=names, counter=counters, args=json_args)
def test_signing_doc_python_snippet_signs_like_flight(
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
def test_signing_doc_js_snippet_signs_like_flight(tmp_path: Path) -> None:
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
