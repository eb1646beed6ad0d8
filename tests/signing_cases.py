"""Shared by the signing tests: the worked example of docs/mqtt.md, a test key, hypothesis
strategies for command arguments, every single change to a command, and key files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from interface import signing

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


def write_key_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="ascii")
    path.chmod(mode)
    return path
