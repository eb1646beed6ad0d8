"""The extraction chain's figures from the simulator's truth and the vehicle's telemetry: the
stable names, the balances, the table, and the oven counters across a board reboot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest

from ground import GroundClient
from isru.chain_recorder import SERIES_STEP_S, ChainRecorder
from isru.chain_report import CHAIN_FIELDS, ChainReport, chain_report

Listener = Callable[[str, dict[str, Any]], None]

ISSUE_FIELDS = (
    "regolith_g", "ice_wt_pct", "water_extracted_g", "water_transferred_g",
    "water_electrolysed_g", "h2_g", "o2_g", "oven_energy_wh", "cell_energy_wh",
    "wh_per_g_water",
)  # fmt: skip


def _oven(**changes: Any) -> dict[str, Any]:
    truth: dict[str, Any] = {
        "loaded_g": 200.0, "ice_wt_pct": 5.0, "water_in_g": 10.3, "ice_g": 0.05,
        "bound_water_g": 0.05, "vapour_g": 0.2, "trap_ice_g": 0.0, "trap_liquid_g": 0.5,
        "collected_g": 9.0, "pumped_g": 8.5, "lost_g": 1.0, "heater_energy_j": 180_000.0,
        "ledger": {
            "heater_j": 180_000.0, "sensible_change_j": 60_000.0, "latent_change_j": 30_000.0,
            "losses_j": 90_000.0, "imbalance_j": 0.0,
        },
    }  # fmt: skip
    return truth | changes


def _report(oven: dict[str, Any] | None = None) -> ChainReport:
    seen = {
        "water_transferred_g": 8.5,
        "oven_energy_wh": 50.0,
        "cell_charge_ah": 2.0,
        "cell_energy_wh": 3.5,
    }
    elec = {"water_g": 207.0, "fed_g": 8.5, "electrolysed_g": 0.6}
    return chain_report(oven=oven or _oven(), elec=elec, seen=seen)


def test_chain_report_names_every_figure_of_the_issue_in_a_stable_order() -> None:
    names = [name for name, _, _, _ in CHAIN_FIELDS]
    assert set(ISSUE_FIELDS) <= set(names)
    assert names[:3] == ["regolith_g", "ice_wt_pct", "water_in_g"]
    assert {source for *_, source in CHAIN_FIELDS} == {"sim", "vehicle", "derived"}


def test_chain_report_figures_follow_from_the_truth_and_telemetry() -> None:
    f = _report().figures
    assert (f.regolith_g, f.water_extracted_g, f.water_left_in_sample_g) == (200.0, 9.0, 0.1)
    assert f.h2_g == pytest.approx(0.6 / 18.015 * 2.016)
    assert f.o2_g == pytest.approx(0.6 / 18.015 / 2 * 31.998)
    assert f.h2_faraday_g == pytest.approx(2.0 * 3600 / (2 * 96485.332) * 2.016)
    assert f.faradaic_efficiency == pytest.approx(f.h2_g / f.h2_faraday_g)
    assert f.wh_per_g_water == pytest.approx(50.0 / 9.0)


def test_chain_report_mass_balance_within_a_tenth_of_a_percent_or_not() -> None:
    good = _report().mass_balance
    assert good["accounted_g"] == pytest.approx(10.3) and good["ok"] is True
    bad = _report(_oven(water_in_g=10.4)).mass_balance  # 0.1 g unaccounted: ~1 %
    assert bad["residual_g"] == pytest.approx(0.1) and bad["ok"] is False
    assert bad["residual_pct"] == pytest.approx(100 * 0.1 / 10.4)


def test_chain_report_energy_balance_and_table() -> None:
    report = _report()
    e = report.energy_balance
    assert e["oven_heater_wh"] == pytest.approx(50.0)
    assert e["cell_chemical_wh"] == pytest.approx(0.6 / 18.015 * 285.83e3 / 3600)
    assert e["cell_heat_wh"] == pytest.approx(3.5 - e["cell_chemical_wh"])
    table = report.table()
    for name in ISSUE_FIELDS:
        assert name in table
    assert "residual +0.0000 %, ok 0.1%" in table
    document = report.as_dict()
    assert document["sources"]["h2_g"] == "derived" and document["regolith_g"] == 200.0


def test_chain_report_is_inactive_when_the_run_used_neither_oven_nor_cell() -> None:
    idle = chain_report(
        oven=_oven(loaded_g=0.0, water_in_g=0.0, collected_g=0.0, lost_g=0.0, vapour_g=0.0,
                   ice_g=0.0, bound_water_g=0.0),
        elec={"water_g": 200.0, "fed_g": 0.0, "electrolysed_g": 0.0},
        seen={},
    )  # fmt: skip
    assert not idle.active and _report().active
    assert idle.figures.wh_per_g_water == 0.0 and idle.mass_balance["ok"] is True


class _Client:
    def __init__(self) -> None:
        self.listeners: list[Listener] = []

    def listen(self, listener: Listener) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def oven(self, t: float, boot: int, energy: float, collected: float, moved: float) -> None:
        values = {
            "oven.boot_count": boot, "oven.sample_temp_c": 20.0 + t, "oven.trap_temp_c": -60.0,
            "oven.chamber_pressure_kpa": 0.01, "oven.heater_energy_wh": energy,
            "oven.water_collected_g": collected, "oven.water_transferred_g": moved,
        }  # fmt: skip
        document = {"time": f"2030-01-01T00:{int(t // 60):02d}:{t % 60:06.3f}+00:00"}
        for listener in self.listeners:
            listener("tm/oven", document | {"values": values})


def test_chain_report_recorder_sums_counters_across_a_reboot_and_thins_the_series() -> None:
    client = _Client()
    recorder = ChainRecorder(cast(GroundClient, client))
    client.oven(0.0, 1, 10.0, 0.0, 0.0)  # the run starts with the board's counters at 10 Wh
    client.oven(1.0, 1, 12.0, 3.0, 0.0)
    client.oven(2.0, 1, 13.0, 2.5, 1.0)  # the trap gave 0.5 g back: collected is net
    client.oven(3.0, 2, 0.5, 0.0, 0.0)  # rebooted: its counters start again
    client.oven(40.0, 2, 1.5, 0.0, 2.0)
    recorder.close()
    client.oven(50.0, 2, 99.0, 9.0, 9.0)  # after close: not heard
    seen = recorder.seen()
    assert seen == {"oven_energy_wh": 4.5, "water_collected_g": 2.5, "water_transferred_g": 3.0}
    series = recorder.finish()
    assert series["t_s"] == [0.0, 40.0]  # one sample per SERIES_STEP_S at most
    assert SERIES_STEP_S > 3.0
    assert series["sample_temp_c"] == [20.0, 60.0]
    assert series["water_collected_g"] == [0.0, 2.5]
