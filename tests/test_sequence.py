"""Sequence files: the format, every problem reported by line, and ``isru seq check``."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interface.catalog import DICTIONARY
from interface.sequence import (
    MAX_BYTES,
    MAX_LINES,
    AbsoluteTag,
    CommandStep,
    Problem,
    RelativeTag,
    Sequence,
    SequenceError,
    WaitStep,
    format_problems,
    format_sequence,
    parse_sequence,
)
from isru.sequence_cli import main

ROOT = Path(__file__).resolve().parent.parent
DESIGN_EXAMPLE = """\
# collect a sample and make hydrogen
R00:00:00 SCOOP.HOME
R00:00:02 SCOOP.DIG depth_mm=30
WAIT scoop.state == IDLE TIMEOUT 00:01:00
R00:00:00 SCOOP.WEIGH
R00:00:00 ELEC.START current_a=2.0
WAIT elec.h2_pressure_kpa >= 150 TIMEOUT 00:10:00
R00:00:00 ELEC.STOP
"""


def parse(text: str) -> Sequence:
    return parse_sequence(text, name="test", dictionary=DICTIONARY)


def problems_of(text: str) -> list[Problem]:
    with pytest.raises(SequenceError) as info:
        parse(text)
    return info.value.problems


def only_problem(text: str) -> Problem:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


def test_sequence_parse_design_example_gives_its_steps() -> None:
    sequence = parse(DESIGN_EXAMPLE)
    assert sequence.name == "test"
    assert [s.line for s in sequence.steps] == [2, 3, 4, 5, 6, 7, 8]
    home, dig, wait, weigh, start, wait_h2, stop = sequence.steps
    assert home == CommandStep(2, "R00:00:00 SCOOP.HOME", RelativeTag(0.0), "SCOOP.HOME", {})
    assert isinstance(dig, CommandStep)
    assert (dig.tag, dig.name, dig.args) == (RelativeTag(2.0), "SCOOP.DIG", {"depth_mm": 30.0})
    assert isinstance(wait, WaitStep)
    assert str(wait.condition) == "scoop.state == IDLE"
    assert wait.timeout_s == 60.0
    assert wait.text == "WAIT scoop.state == IDLE TIMEOUT 00:01:00"
    assert isinstance(start, CommandStep) and start.args == {"current_a": 2.0}
    assert isinstance(wait_h2, WaitStep) and wait_h2.timeout_s == 600.0
    assert wait_h2.condition.evaluate({"elec.h2_pressure_kpa": 151.0})
    assert isinstance(weigh, CommandStep) and isinstance(stop, CommandStep)
    assert stop.name == "ELEC.STOP"


def test_sequence_parse_tags_comments_and_blank_lines() -> None:
    text = (
        "\ufeff# a header comment\n"
        "\n"
        "CORE.NOOP   # a bare command runs at once\r\n"
        "R01:02:03.25 CORE.NOOP\n"
        "A2026-11-21T12:00:00Z CORE.NOOP\n"
        "A2026-11-21T12:00:00.5+00:00 CORE.TM_RATE board=elec rate_hz=2\n"
        "   \t\n"
        "ELEC.WATER open=true\n"
    )
    steps = parse(text).steps
    assert [s.line for s in steps] == [3, 4, 5, 6, 8]
    tags = [s.tag for s in steps if isinstance(s, CommandStep)]
    assert tags[:2] == [RelativeTag(0.0), RelativeTag(3723.25)]
    assert tags[2] == AbsoluteTag(datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC))
    assert tags[3] == AbsoluteTag(datetime(2026, 11, 21, 12, 0, 0, 500000, tzinfo=UTC))
    assert steps[0].text == "CORE.NOOP"
    assert steps[3].args == {"board": "elec", "rate_hz": 2.0}  # type: ignore[union-attr]
    assert steps[4].args == {"open": True}  # type: ignore[union-attr]


def test_sequence_parse_hazardous_after_arm_is_accepted() -> None:
    text = "CORE.ARM command=SCOOP.DUMP\n# the dump itself\nSCOOP.DUMP target=GROUND\n"
    assert [s.line for s in parse(text).steps] == [1, 3]
    text = "CORE.ARM command=ELEC.START\nELEC.START current_a=6\n"
    assert len(parse(text).steps) == 2


@pytest.mark.parametrize(
    ("text", "line", "match"),
    [
        ("CORE.NOOP\nSCOOP.DIGG depth_mm=3", 2, r"unknown command 'SCOOP.DIGG' \(did you mean"),
        (
            "SCOOP.DIG depth_mm=300",
            1,
            r"SCOOP.DIG: depth_mm: Input should be less than or equal to 100 \(got 300\)",
        ),
        ("SCOOP.DIG depth_mm=30 speed=2", 1, "SCOOP.DIG: speed: not an argument of this command"),
        ("SCOOP.DIG", 1, "SCOOP.DIG: depth_mm: missing"),
        ("SCOOP.DIG depth_mm=30 depth_mm=40", 1, "depth_mm: given twice"),
        ("SCOOP.DIG depth_mm", 1, "expected name=value, got 'depth_mm'"),
        ("SCOOP.DIG depth_mm=1e999", 1, "depth_mm: 1e999 is out of range"),
        ("SCOOP.DIG depth_mm=nan", 1, "depth_mm: expected float, got 'nan'"),
        ("SCOOP.DIG depth_mm=true", 1, "depth_mm: expected float, got 'true'"),
        ("ELEC.WATER open=1", 1, "open: expected bool, got '1'"),
        ("ELEC.VENT_CLOSE gas=N2", 1, "gas: Input should be 'H2' or 'O2'"),
        ("ELEC.VENT_CLOSE gas=H\u00b2", 1, "gas: 'H\u00b2' is not a number, true/false or a word"),
        ("R0:00:01 CORE.NOOP", 1, r"bad time tag 'R0:00:01': use Rhh:mm:ss"),
        ("R00:61:00 CORE.NOOP", 1, "bad time tag 'R00:61:00'"),
        ("R\u0660\u0660:00:00 CORE.NOOP", 1, "bad time tag"),
        ("T00:00:01 CORE.NOOP", 1, "bad time tag 'T00:00:01'"),
        ("A2026-11-21T12:00:00 CORE.NOOP", 1, "bad time tag"),
        ("A2026-11-21T12:00:00+01:00 CORE.NOOP", 1, "bad time tag"),
        ("A2026-02-30T12:00:00Z CORE.NOOP", 1, "bad time tag 'A2026-02-30T12:00:00Z': day"),
        ("R00:00:01", 1, "a time tag needs a command after it"),
        ("R00:00:01 WAIT scoop.homed == true TIMEOUT 00:00:01", 1, "WAIT takes no time tag"),
        ("CORE.NOOP\nWAIT scoop.homed == true", 2, "WAIT needs 'TIMEOUT hh:mm:ss'"),
        ("WAIT scoop.homed == true TIMEOUT 1:00", 1, "bad TIMEOUT '1:00': use hh:mm:ss"),
        ("WAIT scoop.homed == true TIMEOUT", 1, "TIMEOUT takes one duration"),
        ("WAIT scoop.homed == true TIMEOUT 00:00:00", 1, "TIMEOUT must be longer than"),
        (
            "WAIT scoop.state == IDLEX TIMEOUT 00:00:05",
            1,
            "WAIT: IDLEX is not one of scoop.state's values: IDLE, HOMING",
        ),
        (
            "WAIT elec.h2_pressure >= 1 TIMEOUT 00:00:05",
            1,
            "WAIT: unknown channel 'elec.h2_pressure'",
        ),
        ("WAIT TIMEOUT 00:00:05", 1, "WAIT: empty condition"),
        (
            "SCOOP.DUMP target=GROUND",
            1,
            "SCOOP.DUMP is hazardous: the step before it must be 'CORE.ARM command=SCOOP.DUMP'",
        ),
        ("ELEC.START current_a=6", 1, "ELEC.START is hazardous with current_a=6"),
        ("CORE.ARM command=ELEC.VENT\nSCOOP.DUMP target=GROUND", 2, "SCOOP.DUMP is hazardous"),
        (
            "CORE.ARM command=SCOOP.DUMP\nCORE.NOOP\nSCOOP.DUMP target=GROUND",
            3,
            "SCOOP.DUMP is hazardous",
        ),
        ("CORE.ARM command=SCOOP.DUMPX\nSCOOP.DUMP target=GROUND", 2, "SCOOP.DUMP is hazardous"),
        ("CORE.NOOP\n" + "#" * 501, 2, "line is 501 characters long; the limit is 500"),
        ("CORE.NOOP\x00", 1, "control or invisible character U\\+0000"),
        ("CORE.NOOP # \u202e hidden", 1, "control or invisible character U\\+202E"),
    ],
)
def test_sequence_parse_error_names_line(text: str, line: int, match: str) -> None:
    problems = [p for p in problems_of(text) if p.line == line]
    assert len(problems) == 1, problems_of(text)
    with pytest.raises(SequenceError, match=f"(?m)^line {line}: (.*: )?{match}"):
        parse(text)


def test_sequence_parse_absolute_tags_going_backwards() -> None:
    text = "A2026-11-21T12:00:00Z CORE.NOOP\nA2026-11-21T11:59:59Z CORE.NOOP\n"
    problem = only_problem(text)
    assert problem.line == 2
    assert "goes back in time: line 1 is A2026-11-21T12:00:00Z" in problem.message
    assert len(parse("A2026-11-21T12:00:00Z CORE.NOOP\nA2026-11-21T12:00:00Z CORE.NOOP").steps)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n   # and another\n"])
def test_sequence_parse_empty_file_is_a_problem(text: str) -> None:
    with pytest.raises(SequenceError, match="no steps"):
        parse(text)


def test_sequence_parse_over_line_limit() -> None:
    with pytest.raises(SequenceError, match=f"the limits are {MAX_BYTES} bytes, {MAX_LINES} lines"):
        parse("CORE.NOOP\n" * (MAX_LINES + 1))
    assert len(parse("CORE.NOOP\n" * MAX_LINES).steps) == MAX_LINES


def test_sequence_parse_over_byte_limit() -> None:
    line = "# " + "\u00e9" * 240 + "\n"  # 482 bytes, 243 characters
    with pytest.raises(SequenceError, match="bytes and"):
        parse("CORE.NOOP\n" + line * (MAX_BYTES // len(line.encode()) + 1))


def test_sequence_parse_reports_every_problem() -> None:
    text = (
        "MODE.IDLE\n"
        "SCOOP.HOMEX\n"
        "SCOOP.DIG depth_mm=300\n"
        "WAIT scoop.state == IDLEX TIMEOUT 00:01:00\n"
        "SCOOP.DUMP target=GROUND\n"
        "R0:00:00 SCOOP.WEIGH\n"
        "WAIT elec.h2_pressure_kpa >= 150\n"
        "ELEC.STOP\n"
    )
    with pytest.raises(SequenceError) as info:
        parse(text)
    assert [p.line for p in info.value.problems] == [2, 3, 4, 5, 6, 7]
    assert info.value.name == "test"
    rendered = format_problems(info.value.problems)
    first = "line 2: unknown command 'SCOOP.HOMEX' (did you mean SCOOP.HOME?)"
    assert rendered.splitlines()[0] == first
    assert rendered in str(info.value)


def test_sequence_parse_bad_parameter_names_it() -> None:
    with pytest.raises(TypeError, match="text must be a str"):
        parse_sequence(b"CORE.NOOP", name="x", dictionary=DICTIONARY)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name must be a non-empty str"):
        parse_sequence("CORE.NOOP", name="", dictionary=DICTIONARY)
    with pytest.raises(TypeError, match="dictionary must be a Dictionary"):
        parse_sequence("CORE.NOOP", name="x", dictionary=None)  # type: ignore[arg-type]


def test_sequence_parse_demo_file_is_clean() -> None:
    sequence = parse((ROOT / "sequences" / "demo.seq").read_text())
    names = [s.name for s in sequence.steps if isinstance(s, CommandStep)]
    assert names[0] == "MODE.IDLE"
    assert names.index("SCOOP.DUMP") == names.index("CORE.ARM") + 1
    assert names[-1] == "ELEC.STOP"
    assert any(
        isinstance(s, WaitStep)
        and str(s.condition) == "elec.h2_pressure_kpa >= 150"
        and s.timeout_s == 600
        for s in sequence.steps
    )


def _without_lines(sequence: Sequence) -> list[tuple[object, ...]]:
    return [
        (s.condition, s.timeout_s) if isinstance(s, WaitStep) else (s.tag, s.name, s.args)
        for s in sequence.steps
    ]


def test_sequence_format_round_trips_design_example() -> None:
    sequence = parse(DESIGN_EXAMPLE)
    assert _without_lines(parse(format_sequence(sequence))) == _without_lines(sequence)


@settings(max_examples=300)
@given(st.text(max_size=400))
def test_sequence_parse_arbitrary_text_raises_only_sequence_error(text: str) -> None:
    try:
        parse(text)
    except SequenceError as exc:
        assert exc.problems
        assert all(p.line >= 0 and p.message for p in exc.problems)


def _argument(command: str) -> st.SearchStrategy[str]:
    args = DICTIONARY.command_index[command].args
    values = st.one_of(
        st.integers(-1000, 1000).map(str),
        st.floats().map(repr),
        st.sampled_from(["true", "false", "1e999", "-0", "x=y", "", "H2", "elec"]),
        st.sampled_from([c for a in args for c in a.choices] or ["IDLE"]),
    )
    names = st.sampled_from([a.name for a in args] + ["bogus"])
    return st.builds(lambda n, v: f"{n}={v}", names, values)


_TAGS = st.one_of(
    st.just(""),
    st.sampled_from(["R00:00:00", "R00:00:02.5", "R99:59:59", "R1:00", "A2026-11-21T12:00:00Z"]),
    st.datetimes(timezones=st.just(UTC)).map(lambda t: "A" + t.isoformat()),
)
_COMMAND_LINES = st.sampled_from(sorted(DICTIONARY.command_index)).flatmap(
    lambda name: st.builds(
        lambda tag, args: " ".join([tag, name, *args]),
        _TAGS,
        st.lists(_argument(name), max_size=4),
    )
)
_WAIT_LINES = st.builds(
    lambda ch, op, value, timeout: f"WAIT {ch} {op} {value} TIMEOUT {timeout}",
    st.sampled_from([c.name for c in DICTIONARY.channels]),
    st.sampled_from(["==", "!=", "<", ">=", "=", "and"]),
    st.sampled_from(["IDLE", "true", "150", "1e999", "-3.5", '""']),
    st.sampled_from(["00:01:00", "00:00:00", "1:00", "00:00:00.250"]),
)


@settings(max_examples=300)
@given(st.lists(st.one_of(_COMMAND_LINES, _WAIT_LINES, st.just("# c"), st.just("")), max_size=12))
def test_sequence_parse_near_valid_lines_parse_or_raise_sequence_error(lines: list[str]) -> None:
    text = "\n".join(lines)
    try:
        sequence = parse(text)
    except SequenceError as exc:
        assert all(1 <= p.line <= len(lines) for p in exc.problems if p.line)
        return
    assert _without_lines(parse(format_sequence(sequence))) == _without_lines(sequence)


def _lines_of(text: str) -> int:
    lines = text.removeprefix("\ufeff").split("\n")
    return len(lines) - (lines[-1] == "")


def _parses_or_names_lines(text: str) -> None:
    """The parser's contract on any text: a Sequence that formats and parses back the same,
    or a SequenceError whose every problem has a message and a line of the file (0: all)."""
    try:
        sequence = parse(text)
    except SequenceError as exc:
        assert exc.problems
        assert all(0 <= p.line <= _lines_of(text) and p.message for p in exc.problems)
        format_problems(exc.problems)
        return
    assert _without_lines(parse(format_sequence(sequence))) == _without_lines(sequence)


@settings(max_examples=300)
@given(st.binary(max_size=600), st.sampled_from(["surrogateescape", "replace", "latin-1"]))
def test_sequence_parse_any_bytes_parse_or_raise_sequence_error(raw: bytes, how: str) -> None:
    # Bytes as a file or an upload could bring them: lone surrogates, controls, a BOM.
    text = raw.decode("latin-1") if how == "latin-1" else raw.decode("utf-8", how)
    _parses_or_names_lines(text)


_TOKENS = st.sampled_from(
    [
        "WAIT", "TIMEOUT", "and", "or", "not", "(", ")", "==", "!=", "<=", ">", "=", "#",
        "R00:00:01", "R", "R99:99:99", "A2026-01-01T00:00:00Z", "A2026-02-30T00:00:00Z",
        "00:00:00", "00:01:00.5", "1e999", "-0", "nan", "true", "false", '""', "'",
        "\ufeff", "\t", "\r", "\u00a0", "\u200b", "\u2028", "\x00", "\ud800", "é",
        "depth_mm=30", "current_a=2.0", "command=SCOOP.DUMP", "x=", "=1", "a==b",
        *sorted(DICTIONARY.command_index),
        *(c.name for c in DICTIONARY.channels),
    ]
)  # fmt: skip
_SEPARATORS = st.sampled_from([" ", " ", "  ", "\t", "\n", "\r\n", ""])


@settings(max_examples=500)
@given(st.lists(st.tuples(_TOKENS, _SEPARATORS), max_size=40))
def test_sequence_parse_token_soup_parses_or_names_its_lines(
    pieces: list[tuple[str, str]],
) -> None:
    _parses_or_names_lines("".join(token + separator for token, separator in pieces))


# --- isru seq check ------------------------------------------------------------------


def test_sequence_main_check_clean_files_exit_0(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "design.seq"
    path.write_text(DESIGN_EXAMPLE)
    demo = ROOT / "sequences" / "demo.seq"
    assert main(["check", str(path), str(demo)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{path}: ok (7 steps)"
    assert out[1].startswith(f"{demo}: ok (")


def test_sequence_main_check_problems_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good = tmp_path / "good.seq"
    good.write_text("CORE.NOOP\n")
    bad = tmp_path / "bad.seq"
    bad.write_text("CORE.NOOP\nSCOOP.DIG depth_mm=300\nSCOOP.DUMP target=GROUND\n")
    empty = tmp_path / "empty.seq"
    empty.write_text("# nothing\n")
    assert main(["check", str(good), str(bad), str(empty)]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"{good}: ok (1 steps)",
        f"{bad}:2: SCOOP.DIG: depth_mm: Input should be less than or equal to 100 (got 300)",
        f"{bad}:3: SCOOP.DUMP is hazardous: the step before it must be "
        "'CORE.ARM command=SCOOP.DUMP'",
        f"{empty}: no steps: the file has only comments and blank lines",
    ]
    assert captured.err == ""


def test_sequence_main_check_not_utf8_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "latin1.seq"
    path.write_bytes(b"CORE.NOOP\n# caf\xe9\n")
    assert main(["check", str(path)]) == 1
    assert capsys.readouterr().out == f"{path}:2: not UTF-8 text (byte 15)\n"


def test_sequence_main_check_unreadable_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good = tmp_path / "good.seq"
    good.write_text("CORE.NOOP\n")
    missing = tmp_path / "missing.seq"
    assert main(["check", str(missing), str(good), str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == f"{good}: ok (1 steps)\n"
    assert f"isru seq: cannot read {missing}: No such file or directory" in captured.err
    assert f"isru seq: cannot read {tmp_path}: " in captured.err


@pytest.mark.parametrize("argv", [[], ["check"], ["lint", "x.seq"], ["check", "--bogus", "x"]])
def test_sequence_main_usage_error_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert main(argv) == 2
    assert "usage: isru seq" in capsys.readouterr().err


def test_sequence_main_help_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--help"]) == 0
    assert "usage: isru seq check" in capsys.readouterr().out


def test_sequence_main_subprocess_reports_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.seq"
    bad.write_bytes(b"WAIT scoop.state == IDLEX TIMEOUT 00:01:00\n\x00\xff\n")
    code = "import sys; from isru.sequence_cli import main; sys.exit(main())"
    for path, status in ((bad, 1), (tmp_path / "missing.seq", 2)):
        result = subprocess.run(
            [sys.executable, "-c", code, "check", str(path)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            check=False,
        )
        assert result.returncode == status, result
        assert "Traceback" not in result.stdout + result.stderr
        assert str(path) in result.stdout + result.stderr


def test_sequence_parse_str_word_may_hold_hyphens_as_sample_ids_do() -> None:
    sequence = parse("SAMPLE.NOTE sample=rover1-0002 text=re-weighed\n")
    step = sequence.steps[0]
    assert isinstance(step, CommandStep)
    assert step.args == {"sample": "rover1-0002", "text": "re-weighed"}
