"""`isru conform` against the simulated boards: every rule passes on the reference firmware,
a firmware that breaks a rule gets that row FAIL, and the ICD lists exactly the kit's rules."""

from __future__ import annotations

import asyncio
import re
import struct
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isru.children import ChildProcess
from isru.cli import main as isru_main
from isru.conform import RULES, rules_for, run
from isru.conform.cli import main as conform_main
from isru.conform.kit import PLANS
from isru.conform.rules import render_rule_table
from isru.conform.whole_run import WHOLE_RUN
from isru.conform.wire_values import f32, f32_step
from isru.sim_child import SimChild
from sim import RealClock, SimBoards
from tests import icd_tables

ROOT = Path(__file__).resolve().parent.parent
DOC_TEXT = icd_tables.DOC.read_text(encoding="utf-8")
#: Board seconds per real second of the simulators here: the kit times rules on the board's
#: clock, so a faster clock only shortens the run.
TIME_SCALE = 4.0
ROW = re.compile(r"^(PASS|FAIL)\s+([A-Z][A-Z-]+)\s+(§[\d.]+)\s+(.+)$")


async def _cli(*args: str, timeout_s: float = 120.0) -> tuple[int, str, str]:
    """``isru conform ARGS...`` run to its end (stopped after ``timeout_s``): its exit
    status, stdout and stderr."""
    argv = [sys.executable, "-m", "isru.cli", "conform", *args]
    async with ChildProcess(argv, name="isru conform", cwd=ROOT) as process:
        async with asyncio.timeout(timeout_s):
            code = await process.wait()
        await process.stop()  # exited: the rest of its output
    return code, "\n".join(process.stdout_lines), "\n".join(process.stderr_lines)


def _rows(table: str) -> dict[str, tuple[str, str, str]]:
    """Rule id -> (PASS/FAIL, section, requirement text) of a printed table."""
    rows = {}
    for line in table.splitlines():
        match = ROW.match(line)
        if match:
            verdict, rule, section, text = match.groups()
            rows[rule] = (verdict, section, text)
    return rows


@pytest.mark.parametrize(("board", "transport"), [("scoop", "pty"), ("elec", "tcp")])
async def test_conform_every_rule_passes_on_the_simulated_board(board: str, transport: str) -> None:
    args = ["--time-scale", str(TIME_SCALE)] + (["--tcp"] if transport == "tcp" else [])
    async with SimChild(args=args) as sim:
        code, out, err = await _cli("--port", sim.urls[board], "--board", board)
    rows = _rows(out)
    failed = {rule: row for rule, row in rows.items() if row[0] != "PASS"}
    assert code == 0, f"{failed}\n{out}\n{err}"
    assert set(rows) == {rule.id for rule in rules_for(board)}
    assert f"{len(rows)} rules: {len(rows)} pass, 0 fail" in out
    # Measured from two GET_INFOs 0.4 s apart: their round trips jitter on a loaded machine.
    clock = re.search(r"board clock ([0-9.]+) s per wall s", out)
    assert clock is not None and abs(float(clock[1]) - TIME_SCALE) <= 0.05 * TIME_SCALE, out
    assert err == ""


@pytest.fixture
async def sim() -> AsyncIterator[SimBoards]:
    async with SimBoards(clock=RealClock(TIME_SCALE)) as boards:
        yield boards


HEADER_RULES = ["VERSION-NACK", "VERSION-FIRST", "UNKNOWN", "LENGTH", "NACK-ORDER", "DUP-BODY"]


async def test_conform_flags_a_board_that_never_nacks_a_bad_version(
    sim: SimBoards, monkeypatch: pytest.MonkeyPatch
) -> None:
    firmware = sim.scoop
    handle = firmware.handle_payload

    def ignores_other_versions(payload: bytes) -> bytes | None:
        if payload and payload[0] >> 4 != 1:
            return None  # silently ignored instead of NACK BAD_VERSION
        return handle(payload)

    monkeypatch.setattr(firmware, "handle_payload", ignores_other_versions)
    report = await run(sim.urls["scoop"], "scoop", only=HEADER_RULES)
    failed = {o.rule.id for o in report.failed}
    assert failed == {"VERSION-NACK", "VERSION-FIRST"}
    assert "GET_INFO v0: no reply" in report.outcome("VERSION-NACK").detail
    assert re.search(r"^FAIL\s+VERSION-NACK\s+§4\.4\s", report.table(), re.MULTILINE)
    assert not report.passed


async def test_conform_flags_a_board_that_executes_a_retried_reset_twice(
    sim: SimBoards, monkeypatch: pytest.MonkeyPatch
) -> None:
    firmware = sim.elec
    handle = firmware.handle_payload

    def forgets_its_replies(payload: bytes) -> bytes | None:
        firmware._last_request = None  # no reply cache: every retry runs again
        return handle(payload)

    monkeypatch.setattr(firmware, "handle_payload", forgets_its_replies)
    boot = firmware.boot_count
    report = await run(sim.urls["elec"], "elec", only=["DUP-ONCE"])
    (outcome,) = report.outcomes
    assert not outcome.passed
    assert f"boot_count {boot} -> {boot + 2}" in outcome.detail


async def test_conform_the_other_board_on_the_port_fails_and_checks_nothing_else(
    sim: SimBoards,
) -> None:
    report = await run(sim.urls["elec"], "scoop", only=["INFO-BOARD", "FRAME-CRC", "HOME"])
    verdicts = {o.rule.id: o for o in report.outcomes}
    assert "board elec" in verdicts["INFO-BOARD"].detail
    assert not any(o.passed for o in report.outcomes)
    assert "the port has the elec board" in verdicts["HOME"].detail


async def test_conform_cli_exit_1_and_fail_row_when_a_rule_fails(
    sim: SimBoards, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command as a user runs it (in-process, so the board can be broken): exit 1."""
    handle = sim.scoop.handle_payload
    monkeypatch.setattr(
        sim.scoop,
        "handle_payload",
        lambda p: None if p and p[0] >> 4 != 1 else handle(p),
    )
    url = sim.urls["scoop"]
    code = await asyncio.to_thread(
        conform_main, ["--port", url, "--board", "scoop", "--rules", "VERSION-NACK,UNKNOWN"]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert _rows(out) == {
        "VERSION-NACK": ("FAIL", "§4.4", _text("VERSION-NACK")),
        "UNKNOWN": ("PASS", "§4.4", _text("UNKNOWN")),
    }


def _text(rule_id: str) -> str:
    return next(r.text for r in RULES if r.id == rule_id)


def test_conform_cli_port_that_cannot_be_opened_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "ttyUSB9"
    assert isru_main(["conform", "--port", str(missing), "--board", "scoop"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"isru conform: error: cannot open '{missing}'")
    assert captured.err.count("\n") == 1
    assert "Traceback" not in captured.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "/dev/null", "--board", "drill"], "argument --board: invalid choice"),
        (["--board", "scoop"], "the following arguments are required: --port"),
        (["--port", "x", "--board", "elec", "--rules", "HOME"], "HOME not a rule of the elec"),
        (["--port", "x", "--board", "elec", "--baud", "0"], "argument --baud: must be positive"),
    ],
)
def test_conform_cli_bad_argument_exits_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert isru_main(["conform", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.startswith("isru conform: error:")


def test_conform_is_an_isru_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert isru_main(["--help"]) == 0
    assert "conform" in capsys.readouterr().out


# --- the kit and the ICD agree ------------------------------------------------------------


def test_conform_rule_table_in_icd_matches_the_kit() -> None:
    documented = icd_tables.generated_block(DOC_TEXT, icd_tables.RULES_BEGIN, icd_tables.RULES_END)
    assert documented == render_rule_table(), (
        f"docs/icd.md §11's rule table differs from isru/conform/rules.py; "
        f"regenerate it with `{icd_tables.REGENERATE}`"
    )


def test_conform_example_in_icd_shows_the_kit_s_rules() -> None:
    example = DOC_TEXT[DOC_TEXT.index("### Example") :]
    rows = _rows(example)
    assert len(rows) >= 5
    for rule_id, (_verdict, section, text) in rows.items():
        rule = next(r for r in RULES if r.id == rule_id)
        assert (section, text) == (rule.section, rule.text)


def test_conform_every_rule_names_a_section_of_the_icd() -> None:
    headings = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", DOC_TEXT, re.MULTILINE))
    for rule in RULES:
        assert rule.section.removeprefix("§") in headings, rule
        assert f"[{rule.id}]" in DOC_TEXT or rule.section == "§8", f"{rule.id} not cited"


@pytest.mark.parametrize("board", ["scoop", "elec", "oven"])
def test_conform_every_rule_of_a_board_is_decided_by_one_of_its_steps(board: str) -> None:
    _, steps = PLANS[board]
    decided = {rule for step in steps for rule in step.covers} | set(WHOLE_RUN)
    assert {r.id for r in rules_for(board)} <= decided
    names = [s.name for s in steps]
    for step in steps:
        assert set(step.needs) <= set(names[: names.index(step.name)]), step.name


def test_conform_rule_ids_are_unique() -> None:
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))


@given(st.floats(width=32, min_value=-(2.0**100), max_value=2.0**100))
def test_conform_f32_step_gives_the_adjacent_binary32(value: float) -> None:
    up, down = f32_step(value, 1), f32_step(value, -1)
    assert down < value < up
    assert f32(up) == up and f32(down) == down
    assert f32_step(up, -1) == value or value == 0
    assert f32_step(down, 1) == value or value == 0
    # Nothing between: the bit patterns are neighbours.
    bits = struct.unpack("<i", struct.pack("<f", value))[0]
    if value > 0:
        assert struct.unpack("<i", struct.pack("<f", up))[0] == bits + 1
