"""``--ice-wt-pct`` means the same in isru sim, isru sil and isru seq predict, and in SimBoards."""

from __future__ import annotations

import argparse
import contextlib
import io
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isru import sequence_cli, sil
from sim import cli as sim_cli
from sim.ice_content import MAX_ICE_WT_PCT, check_ice_wt_pct, ice_wt_pct_argument
from sim.launcher import SimBoards

PARSERS: dict[str, Callable[[], argparse.ArgumentParser]] = {
    "isru sim": sim_cli.build_parser,
    "isru sil": sil.parser,
}


def _parse(command: str, value: str) -> tuple[float | None, str]:
    """The ice content ``command`` parses from ``--ice-wt-pct value``, or None and its error."""
    err = io.StringIO()
    args = ["--ice-wt-pct", value]
    with contextlib.redirect_stderr(err):
        try:
            if command == "isru seq predict":
                options = sequence_cli._parser().parse_args(["predict", "x.seq", *args])
            else:
                options = PARSERS[command]().parse_args(args)
        except SystemExit:
            return None, err.getvalue()
    return options.ice_wt_pct, ""


COMMANDS = (*PARSERS, "isru seq predict")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("value", ["100", "99.85", "-0.1", "nan", "lots"])
def test_ice_content_out_of_range_is_refused_alike_by_every_command(
    command: str, value: str
) -> None:
    parsed, error = _parse(command, value)
    assert parsed is None
    assert (
        f"argument --ice-wt-pct: must be a percentage from 0 to under 99.85, got {value!r}" in error
    )


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("value", ["0", "5.6", "99.8"])
def test_ice_content_in_range_is_taken_by_every_command(command: str, value: str) -> None:
    assert _parse(command, value) == (float(value), "")


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_ice_content_check_and_argument_agree(value: float) -> None:
    try:
        checked: float | None = check_ice_wt_pct(value)
    except ValueError:
        checked = None
    try:
        argued: float | None = ice_wt_pct_argument(repr(value))
    except argparse.ArgumentTypeError:
        argued = None
    assert checked == argued
    assert (checked is not None) == (0 <= value < MAX_ICE_WT_PCT)


def test_ice_content_simboards_refuses_what_the_commands_refuse() -> None:
    with pytest.raises(ValueError, match=r"ice_wt_pct: .* from 0 to under 99\.85"):
        SimBoards(ice_wt_pct=100.0)
    with pytest.raises(ValueError, match="ice_wt_pct"):
        SimBoards(ice_wt_pct=True)
