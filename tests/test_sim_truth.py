"""The control port's read-only queries: the simulator's truth of the oven and the cell, which
a run's report balances its mass and energy against."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hal.commands import DumpTarget
from isru.sim_child import SimChild
from sim.control import ControlServer
from sim.launcher import SimBoards
from sim.truth import answer_query


def _server(sim: SimBoards) -> ControlServer:
    return ControlServer(sim.apply_fault, query=lambda name: answer_query(sim, name))


def _ask(server: ControlServer, request: object) -> dict[str, Any]:
    return server.answer(json.dumps(request).encode())


def _heated(ice_wt_pct: float = 5.6) -> SimBoards:
    """Regolith dumped into the open oven, then sealed and heated for 20 minutes with the
    trap cold, part of the catch melted and pumped into the cell, and the cell run."""
    sim = SimBoards(ice_wt_pct=ice_wt_pct)
    sim.oven.lid.position = 1.0  # open
    sim._dumped(DumpTarget.OVEN, 150.0)
    sim._dumped(DumpTarget.GROUND, 40.0)
    oven = sim.oven.physics
    oven.lid_sealed, oven.trap_w = True, 150.0
    for _ in range(1200):
        oven.heater_w = 100.0
        oven.step(1.0)
    oven.heater_w, oven.trap_w = 0.0, -30.0
    while oven.trap_liquid_g < 1.0:
        oven.step(1.0)
    sim._to_cell(oven.pump(1.0))  # what the oven board's pump does
    cell = sim.elec.cell
    cell.source_on, cell.setpoint_a = True, 5.0
    for _ in range(600):
        cell.step(1.0)
    return sim


def test_sim_truth_oven_accounts_for_every_gram_of_water() -> None:
    sim = _heated()
    answer = _ask(_server(sim), {"query": "oven"})
    assert answer["ok"] is True
    oven = answer["oven"]
    assert oven["loaded_g"] == 150.0 and oven["ice_wt_pct"] == 5.6  # not what fell beside it
    assert oven["water_in_g"] == pytest.approx(150.0 * (5.6 + 0.15) / 100)
    assert oven["collected_g"] > 5.0 and oven["pumped_g"] == pytest.approx(1.0)
    where = ("ice_g", "bound_water_g", "vapour_g", "collected_g", "lost_g")
    assert sum(oven[k] for k in where) == pytest.approx(oven["water_in_g"], rel=1e-9)
    on_trap = oven["trap_ice_g"] + oven["trap_liquid_g"] + oven["pumped_g"]
    assert on_trap == pytest.approx(oven["collected_g"], rel=1e-9)
    ledger = oven["ledger"]
    assert ledger["heater_j"] == oven["heater_energy_j"] == pytest.approx(1200 * 100.0)
    assert abs(ledger["imbalance_j"]) < 1e-6 * ledger["heater_j"]


def test_sim_truth_elec_counts_the_water_fed_and_split() -> None:
    sim = _heated()
    elec = _ask(_server(sim), {"query": "elec"})["elec"]
    assert elec["fed_g"] == pytest.approx(1.0)
    assert elec["water_g"] == pytest.approx(200.0 + 1.0 - elec["electrolysed_g"])
    faraday_g = 5.0 * 600 / (2 * 96485.33212) * 18.015  # 100 % Faradaic efficiency
    assert 0.9 * faraday_g < elec["electrolysed_g"] <= faraday_g


@pytest.mark.parametrize(
    ("request_obj", "error"),
    [
        ({"query": "cell"}, "query: must be one of oven, elec, got 'cell'"),
        ({"query": "oven", "board": "oven"}, "board: a query takes no other key"),
        ({"query": None}, "query: must be one of oven, elec, got None"),
    ],
)
def test_sim_truth_bad_query_gets_an_error_line(request_obj: object, error: str) -> None:
    assert _ask(_server(SimBoards()), request_obj) == {"ok": False, "error": error}


def test_sim_truth_server_without_queries_says_so() -> None:
    server = ControlServer(SimBoards().apply_fault)
    answer = _ask(server, {"query": "oven"})
    assert answer == {"ok": False, "error": "query: this server answers no queries"}


async def test_sim_truth_isru_sim_answers_queries_on_its_control_port(tmp_path: Path) -> None:
    args = ["--link-dir", str(tmp_path), "--control-port", "0", "--ice-wt-pct", "3.5"]
    async with SimChild(args=args) as sim:
        oven = await sim.query("oven")
        assert (oven["ice_wt_pct"], oven["loaded_g"], oven["water_in_g"]) == (3.5, 0.0, 0.0)
        assert (await sim.query("elec"))["electrolysed_g"] == 0.0
        with pytest.raises(RuntimeError, match="query scoop: query: must be one of oven, elec"):
            await sim.query("scoop")
        # A query changes nothing: a fault request still works after it.
        assert json.loads(await sim.send_control('{"board": "oven", "fault": "clear"}')) == {
            "ok": True
        }
