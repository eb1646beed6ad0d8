"""Telemetry conditions: parsing against the dictionary, evaluation for every op and type."""

from __future__ import annotations

import enum

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interface.catalog import DICTIONARY
from interface.condition import Condition, ConditionError, parse_condition


def parse(text: str) -> Condition:
    return parse_condition(text, DICTIONARY)


class _State(enum.IntEnum):
    IDLE = 0
    DIGGING = 4


def test_condition_parse_reads_channel_op_value() -> None:
    condition = parse("elec.h2_pressure_kpa >= 150")
    assert condition.channels == ("elec.h2_pressure_kpa",)
    assert str(condition) == "elec.h2_pressure_kpa >= 150"
    assert condition.clauses[0].value == 150.0


def test_condition_parse_conjunction_lists_channels_once() -> None:
    condition = parse("scoop.state == IDLE and scoop.homed == true and scoop.state != FAULT")
    assert condition.channels == ("scoop.state", "scoop.homed")
    assert len(condition.clauses) == 3


def test_condition_parse_without_spaces_is_canonicalised() -> None:
    condition = parse("elec.cell_temp_c<=-5.50")
    assert str(condition) == "elec.cell_temp_c <= -5.5"
    assert parse(str(condition)) == condition


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty condition"),
        ("elec.h2_pressure >= 150", r"unknown channel 'elec.h2_pressure' \(did you mean"),
        ("scoop.state == IDLEX", "IDLEX is not one of scoop.state's values: IDLE, HOMING, "),
        ("scoop.state < IDLE", "< does not apply to enum channel scoop.state"),
        ("scoop.homed > false", "> does not apply to bool channel scoop.homed"),
        ("core.armed >= x", ">= does not apply to str channel core.armed"),
        ("scoop.homed == yes", "yes is not true or false"),
        ("scoop.homed == 1", "1 is not true or false"),
        ("elec.h2_pressure_kpa >= high", "high is not a number"),
        ("elec.h2_pressure_kpa >= 1e999", "1e999 is out of range"),
        ("elec.h2_pressure_kpa >= nan", "nan is not a number"),
        ("core.seq_line == 2.5", "2.5 is not a whole number"),
        ("elec.h2_pressure_kpa = 150", "unknown operator '='"),
        ("elec.h2_pressure_kpa => 150", "expected '<channel> <op> <value>'"),
        ("elec.h2_pressure_kpa >= 150 and", "expected '<channel> <op> <value>', got 'nothing'"),
        ("scoop.homed == true or scoop.homed == false", "only 'and' is supported"),
    ],
)
def test_condition_parse_rejects_bad_text(text: str, match: str) -> None:
    with pytest.raises(ConditionError, match=match) as info:
        parse(text)
    assert info.value.text == text
    assert info.value.detail in str(info.value)


def test_condition_parse_bad_parameter_names_it() -> None:
    with pytest.raises(TypeError, match="text must be a str"):
        parse_condition(b"x", DICTIONARY)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="dictionary must be a Dictionary"):
        parse_condition("scoop.homed == true", {})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("==", 150, True),
        ("!=", 150, False),
        ("<", 150, False),
        ("<=", 150, True),
        (">", 150, False),
        (">=", 150, True),
        ("==", 149.5, False),
        ("!=", 149.5, True),
        ("<", 151, True),
        ("<=", 149, False),
        (">", 149.9, True),
        (">=", 150.1, False),
    ],
)
def test_condition_evaluate_float_channel_every_op(op: str, value: float, expected: bool) -> None:
    condition = parse(f"elec.h2_pressure_kpa {op} {value}")
    assert condition.evaluate({"elec.h2_pressure_kpa": 150.0}) is expected
    assert condition.evaluate({"elec.h2_pressure_kpa": 150}) is expected  # an int reading too


@pytest.mark.parametrize(
    ("op", "reading", "expected"),
    [("==", 3, True), ("!=", 3, False), ("<", 2, True), ("<=", 4, False), (">", 4, True)],
)
def test_condition_evaluate_int_channel_every_op(op: str, reading: int, expected: bool) -> None:
    assert parse(f"core.seq_line {op} 3").evaluate({"core.seq_line": reading}) is expected


@pytest.mark.parametrize(
    ("text", "reading", "expected"),
    [
        ("scoop.homed == true", True, True),
        ("scoop.homed == true", False, False),
        ("scoop.homed != true", False, True),
        ("scoop.homed == false", 0, True),
        ("scoop.homed == true", 1, True),
        ("scoop.homed == true", 2, False),
        ("scoop.homed == true", "true", False),
    ],
)
def test_condition_evaluate_bool_channel(text: str, reading: object, expected: bool) -> None:
    assert parse(text).evaluate({"scoop.homed": reading}) is expected


@pytest.mark.parametrize(
    ("text", "reading", "expected"),
    [
        ("scoop.state == IDLE", "IDLE", True),
        ("scoop.state == IDLE", "DIGGING", False),
        ("scoop.state != IDLE", "DIGGING", True),
        ("scoop.state == IDLE", _State.IDLE, True),
        ("scoop.state == DIGGING", _State.IDLE, False),
        ("scoop.state == IDLE", 0, False),
    ],
)
def test_condition_evaluate_enum_channel(text: str, reading: object, expected: bool) -> None:
    assert parse(text).evaluate({"scoop.state": reading}) is expected


def test_condition_evaluate_str_channel_and_empty_string() -> None:
    assert parse("core.armed == SCOOP.DUMP").evaluate({"core.armed": "SCOOP.DUMP"})
    assert parse('core.armed == ""').evaluate({"core.armed": ""})
    assert parse('core.armed != ""').evaluate({"core.armed": "SCOOP.DUMP"})
    assert str(parse('core.armed == ""')) == 'core.armed == ""'


def test_condition_evaluate_missing_or_bad_value_is_false() -> None:
    condition = parse("elec.h2_pressure_kpa != 150")
    assert condition.evaluate({}) is False
    assert condition.evaluate({"elec.h2_pressure_kpa": None}) is False
    assert condition.evaluate({"elec.h2_pressure_kpa": "151"}) is False
    assert condition.evaluate({"elec.h2_pressure_kpa": float("nan")}) is False
    assert condition.evaluate({"elec.h2_pressure_kpa": True}) is False


def test_condition_evaluate_conjunction_needs_every_clause() -> None:
    condition = parse("scoop.state == IDLE and elec.h2_pressure_kpa < 100")
    assert condition.evaluate({"scoop.state": "IDLE", "elec.h2_pressure_kpa": 50.0})
    assert not condition.evaluate({"scoop.state": "IDLE", "elec.h2_pressure_kpa": 150.0})
    assert not condition.evaluate({"scoop.state": "IDLE"})


@given(st.text(max_size=200))
def test_condition_parse_arbitrary_text_raises_only_condition_error(text: str) -> None:
    try:
        condition = parse(text)
    except ConditionError:
        return
    assert parse(str(condition)) == condition


_CHANNELS = [c.name for c in DICTIONARY.channels]
_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers().map(str),
    st.sampled_from(["true", "false", "IDLE", "FAULT", '""', "x", "1e999", "-0"]),
)


@given(
    st.lists(
        st.tuples(st.sampled_from(_CHANNELS), st.sampled_from(["==", "!=", "<", ">="]), _VALUES),
        min_size=1,
        max_size=4,
    )
)
def test_condition_parse_near_valid_round_trips_or_raises(
    clauses: list[tuple[str, str, str]],
) -> None:
    text = " and ".join(" ".join(clause) for clause in clauses)
    try:
        condition = parse(text)
    except ConditionError:
        return
    assert parse(str(condition)) == condition
    assert condition.evaluate({}) is False
