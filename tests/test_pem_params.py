"""PEM parameter sets: the shipped TOML files, a team's own file, and errors naming the key."""

from __future__ import annotations

import random
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hal.commands import CellCurrent, Valve, ValveCommand
from hal.telemetry import ElecFlags, ElecState
from sim.boot_store import BootStore
from sim.clock import ManualClock
from sim.elec_board import ElecFirmware
from sim.electrolysis import CellParams
from sim.launcher import SimBoards
from sim.pem_model import cell_voltage
from sim.pem_params import (
    ParamsError,
    load_params,
    parse_params,
    resolve_params,
    shipped_params,
    shipped_sets,
)
from tests.firmware_requests import acked, elec_tm, request

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEXT = (resources.files("sim") / "params" / "tjarks2017.toml").read_text(encoding="utf-8")


def own_file(tmp_path: Path, old: str, new: str) -> Path:
    """The default set with ``old`` replaced by ``new``, as a team would write it."""
    assert old in DEFAULT_TEXT
    path = tmp_path / "team.toml"
    path.write_text(DEFAULT_TEXT.replace(old, new, 1), encoding="utf-8")
    return path


def test_pem_params_shipped_sets_load_and_cite_their_source() -> None:
    assert "tjarks2017" in shipped_sets()
    for name in shipped_sets():
        params = shipped_params(name)
        assert params.name == name
        assert len(params.source) > 40
    assert resolve_params("tjarks2017") == shipped_params()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("water_content = 25.0", "water_content = -1.0", "membrane.water_content: Input should"),
        ("cells = 1", "cells = 1\ncolour = 'red'", "stack.colour: unknown key"),
        ('form = "exp_sum"', 'form = "magic"', "kinetics.anode: Input tag 'magic'"),
        ("heat_capacity_j_k = 250.0", "", "thermal.heat_capacity_j_k: Field required"),
        ("[0.02934, -0.00454]]", "[-0.02934, -0.00454]]", "kinetics.anode.tafel_slope_v: not"),
        ("area_cm2 = 25.0", "area_cm2 = 'big'", "stack.area_cm2: Input should be a valid n"),
        ("area_cm2 = 25.0", "area_cm2 = 25.0 +", "not valid TOML"),
        ("[20.0, 90.0]", "[90.0, 20.0]", "kinetics.temperature_range_c: must be"),
    ],
)
def test_pem_params_bad_file_names_the_file_and_the_key(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = own_file(tmp_path, old, new)
    with pytest.raises(ParamsError, match="^" + str(path) + ": .*" + message.replace("[", r"\[")):
        load_params(path)


def test_pem_params_missing_file_or_unknown_set_says_so(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="cannot read"):
        load_params(tmp_path / "nothing.toml")
    with pytest.raises(ParamsError, match=r"no such file, nor a shipped parameter set \(tjarks"):
        resolve_params("tjarks1999")


def test_pem_params_a_teams_own_file_changes_the_simulated_cell(tmp_path: Path) -> None:
    team = load_params(own_file(tmp_path, "area_cm2 = 25.0", "area_cm2 = 50.0"))
    sim = SimBoards(cell_params=team)
    assert sim.elec.cell.p.pem.stack.area_cm2 == 50.0
    assert cell_voltage(team, 0.2, 60.0) == cell_voltage(shipped_params(), 0.2, 60.0)
    with pytest.raises(ValueError, match="cell_params"):
        SimBoards(cell_params="tjarks2017")  # type: ignore[arg-type]


def test_pem_params_isru_sim_refuses_a_bad_file_with_one_line(tmp_path: Path) -> None:
    path = own_file(tmp_path, "loss_w_k = 0.3", "loss_w_k = -0.3")
    result = subprocess.run(
        [sys.executable, "-m", "sim", "--cell-params", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("isru sim: error: argument --cell-params: ")
    assert "thermal.loss_w_k" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.req("SIM-09")
async def test_pem_params_a_poorly_cooled_cell_trips_overtemp_from_its_own_heat(
    tmp_path: Path,
) -> None:
    hot = own_file(tmp_path, "heat_capacity_j_k = 250.0", "heat_capacity_j_k = 10.0")
    hot.write_text(hot.read_text().replace("loss_w_k = 0.3", "loss_w_k = 0.005"))
    clock = ManualClock()
    elec = ElecFirmware(
        clock=clock,
        boot_store=BootStore("elec"),
        rng=random.Random(1),
        host_timeout_s=None,
        cell_params=CellParams(pem=load_params(hot)),
    )
    elec.start()
    for valve in (Valve.H2_VENT, Valve.O2_VENT):  # keep the tanks near ambient
        acked(request(elec, "SET_VALVE", ValveCommand(valve, 1)))
    acked(request(elec, "SET_CURRENT", CellCurrent(10.0)))
    acked(request(elec, "START"))
    await clock.advance(60.0)
    assert elec_tm(elec).state is ElecState.RUNNING
    for _ in range(120):  # 1.5..3.5 W into 10 J/K, 5 mW/K out: past 90 degC in minutes
        await clock.advance(10.0)
        if elec_tm(elec).state is ElecState.FAULT:
            break
    tm = elec_tm(elec)
    assert tm.state is ElecState.FAULT
    assert tm.flags & ElecFlags.OVERTEMP
    assert not tm.flags & (ElecFlags.H2_OVERPRESSURE | ElecFlags.CURRENT_ON)
    assert 88.0 < tm.cell_temp_c < 91.0  # tripped at 90 degC, cooling since (< 10 s)


toml_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@given(
    st.dictionaries(
        st.sampled_from(["name", "stack", "kinetics", "membrane", "thermal", "x"]), toml_values
    )
)
@settings(max_examples=200, deadline=None)
def test_pem_params_any_document_gives_a_set_or_a_params_error(data: dict[str, Any]) -> None:
    try:
        parse_params(data, "doc.toml")
    except ParamsError as exc:
        assert str(exc).startswith("doc.toml: ")


@given(st.text(max_size=300))
@settings(max_examples=200, deadline=None)
def test_pem_params_any_file_text_gives_a_set_or_a_params_error(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    path = tmp_path_factory.mktemp("p") / "any.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ParamsError, match=r"any\.toml: "):
        load_params(path)
