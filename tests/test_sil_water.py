"""The water chain in SIL, end to end: ``isru sil --run`` of ``sequences/water.seq`` (made
shorter: half the regolith, a shorter hold, ten minutes of electrolysis) on the whole stack
at a time scale of 100, and its report: mass and energy balances and consistent figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from interface.catalog import DICTIONARY
from interface.sequence import parse_sequence
from isru.chain_report import CHAIN_FIELDS, H2_G_PER_MOL, O2_G_PER_MOL, WATER_G_PER_MOL
from sim.scoop_arm import sample_mass_g
from tests.prediction import AGREEMENT, agree, predict_text, steps_of

WATER_SEQ = Path(__file__).parents[1] / "sequences" / "water.seq"
#: water.seq shortened for the suite: (text, replacement, times it is in the file).
SHORTER = (
    ("SCOOP.DIG depth_mm=60", "SCOOP.DIG depth_mm=40", 2),  # 2 x 126.9 g of regolith
    ("R00:15:00 OVEN.HEATER_OFF", "R00:02:00 OVEN.HEATER_OFF", 1),
    ("OVEN.TRANSFER water_g=17.2", "OVEN.TRANSFER water_g=8", 1),  # 8 + 3 g of about 13.3
    ("R01:00:00 ELEC.STOP", "R00:10:00 ELEC.STOP", 1),
)
ICE_WT_PCT = 6.0
#: The time scale of the chain's SIL run.
WATER_SIL_SCALE = 100.0
CELL_A, CELL_S = 5.0, 600.0
#: Real seconds the whole run may take (it takes about 35 s on a 2-core machine).
RUN_TIMEOUT_S = 300.0


def _shorter_water_seq() -> str:
    text = WATER_SEQ.read_text()
    for old, new, times in SHORTER:
        assert text.count(old) == times, f"water.seq no longer has {old!r} {times} time(s)"
        text = text.replace(old, new)
    return text


def _run_sil(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "isru.cli", "sil", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


@pytest.fixture(scope="module")
def water_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run of the shortened chain for every test here: the report, its text and plot."""
    tmp = tmp_path_factory.mktemp("water")
    seq, report, plot = tmp / "water.seq", tmp / "report.json", tmp / "chain.png"
    seq.write_text(_shorter_water_seq())
    run = _run_sil(
        "--headless", "--run", str(seq), "--time-scale", str(WATER_SIL_SCALE),
        "--ice-wt-pct", str(ICE_WT_PCT),
        "--report-json", str(report), "--report-plot", str(plot),
    )  # fmt: skip
    assert run.returncode == 0, f"isru sil exited {run.returncode}:\n{run.stdout}\n{run.stderr}"
    return {"report": json.loads(report.read_text()), "text": run.stdout, "plot": plot}


def test_sil_water_seq_is_a_checked_sequence_and_so_is_the_shorter_one() -> None:
    for text in (WATER_SEQ.read_text(), _shorter_water_seq()):
        sequence = parse_sequence(text, name="water", dictionary=DICTIONARY)
        names = [getattr(step, "name", None) for step in sequence.steps]
        for command in ("SCOOP.DIG", "SCOOP.DUMP", "OVEN.HEAT", "OVEN.TRANSFER", "ELEC.START"):
            assert command in names


@pytest.mark.req("GND-18")
def test_sil_water_chain_completes_with_every_figure_of_the_report(
    water_run: dict[str, Any],
) -> None:
    report = water_run["report"]
    assert report["outcome"] == "COMPLETED" and report["events"] == []  # not even a warning
    for name, _unit, _what, source in CHAIN_FIELDS:
        assert isinstance(report[name], float), name
        assert report["sources"][name] == source
    assert report["regolith_g"] == pytest.approx(2 * sample_mass_g(40.0))
    assert report["ice_wt_pct"] == ICE_WT_PCT  # --ice-wt-pct reached the simulator
    for line in ("regolith_g", "water_extracted_g", "h2_g", "mass balance:", "cell energy:"):
        assert line in water_run["text"]


@pytest.mark.req("GND-18")
def test_sil_water_chain_mass_balance_holds_to_a_tenth_of_a_percent(
    water_run: dict[str, Any],
) -> None:
    r = water_run["report"]
    balance = r["mass_balance"]
    parts = ("water_extracted_g", "water_lost_g", "water_vapour_g", "water_left_in_sample_g")
    accounted = sum(r[p] for p in parts)
    assert accounted == pytest.approx(r["water_in_g"], rel=1e-3)
    assert balance["ok"] is True and abs(balance["residual_pct"]) <= 0.1
    assert r["water_in_g"] > r["regolith_g"] * ICE_WT_PCT / 100  # its ice, and bound water
    assert r["water_left_in_sample_g"] < 0.01 * r["water_in_g"]  # 300 degC drove it out
    assert 0.8 * r["water_in_g"] < r["water_extracted_g"] < 0.9 * r["water_in_g"]
    # What the vehicle saw pumped is what left the trap and what reached the cell.
    assert r["water_transferred_g"] == pytest.approx(11.0, abs=0.1)
    assert balance["water_pumped_g"] == pytest.approx(r["water_transferred_g"], abs=0.05)
    assert balance["water_fed_to_cell_g"] == pytest.approx(balance["water_pumped_g"])
    on_trap = balance["water_on_trap_g"] + balance["water_pumped_g"]
    assert on_trap == pytest.approx(r["water_extracted_g"], rel=1e-6)


@pytest.mark.req("GND-18")
def test_sil_water_chain_gases_follow_the_water_split(water_run: dict[str, Any]) -> None:
    r = water_run["report"]
    split = r["water_electrolysed_g"]
    assert split == pytest.approx(CELL_A * CELL_S / 96485.332 / 2 * WATER_G_PER_MOL, rel=0.03)
    assert r["h2_g"] == pytest.approx(split / WATER_G_PER_MOL * H2_G_PER_MOL, rel=1e-9)
    assert r["o2_g"] == pytest.approx(split / WATER_G_PER_MOL / 2 * O2_G_PER_MOL, rel=1e-9)
    assert r["h2_g"] + r["o2_g"] == pytest.approx(split, rel=1e-3)  # mass is conserved
    assert r["charge_ah"] == pytest.approx(CELL_A * CELL_S / 3600, rel=0.02)
    assert 0.9 < r["faradaic_efficiency"] <= 1.0
    assert r["h2_g"] == pytest.approx(r["faradaic_efficiency"] * r["h2_faraday_g"])


@pytest.mark.req("GND-18")
def test_sil_water_chain_energy_balances(water_run: dict[str, Any]) -> None:
    r = water_run["report"]
    e = r["energy_balance"]
    parts = e["oven_sensible_wh"] + e["oven_latent_wh"] + e["oven_losses_wh"]
    assert e["oven_heater_wh"] == pytest.approx(parts, rel=1e-9)
    assert abs(e["oven_imbalance_wh"]) < 1e-6 * e["oven_heater_wh"]
    # The vehicle's heater energy (telemetry) is the simulator's.
    assert r["oven_energy_wh"] == pytest.approx(e["oven_heater_wh"], rel=0.01)
    assert r["wh_per_g_water"] == pytest.approx(r["oven_energy_wh"] / r["water_extracted_g"])
    # The cell: electrical = the H2's heating value + heat, and never below the former.
    assert r["cell_energy_wh"] == e["cell_electrical_wh"] and "energy_wh" not in r
    assert e["cell_chemical_wh"] == pytest.approx(
        r["h2_g"] / H2_G_PER_MOL * 285.83e3 / 3600, rel=1e-9
    )
    assert e["cell_heat_wh"] > 0
    assert e["cell_electrical_wh"] == pytest.approx(e["cell_chemical_wh"] + e["cell_heat_wh"])
    assert 1.48 < r["cell_energy_wh"] / r["charge_ah"] < 2.2  # the mean cell voltage, V
    assert e["total_wh"] == pytest.approx(r["oven_energy_wh"] + r["cell_energy_wh"])


@pytest.mark.req("GND-18")
def test_sil_water_chain_plots_the_oven_against_time(water_run: dict[str, Any]) -> None:
    series = water_run["report"]["oven_series"]
    assert len(series["t_s"]) > 50
    assert {len(v) for v in series.values()} == {len(series["t_s"])}
    assert max(series["sample_temp_c"]) == pytest.approx(300.0, abs=5.0)
    assert min(series["trap_temp_c"]) < -55.0
    assert max(series["water_collected_g"]) == pytest.approx(
        water_run["report"]["water_extracted_g"], rel=0.05
    )
    assert water_run["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--ice-wt-pct", "100"], "--ice-wt-pct: must be a percentage from 0 to under 99.85"),
        (["--report-plot", "x.png"], "--report-plot needs --run and a FILE ending in .png"),
        (["--headless", "--run", "w.seq", "--report-plot", "x.svg"], "ending in .png"),
    ],
)
def test_sil_water_bad_chain_options_are_one_line(args: list[str], error: str) -> None:
    run = _run_sil(*args)
    assert run.returncode == 2 and error in run.stderr and "Traceback" not in run.stderr


def test_sil_water_status_line_shows_the_oven() -> None:
    from isru.sil_status import status_line

    values = {
        "core.mode": "OPERATING", "scoop.state": "IDLE", "elec.state": "IDLE",
        "oven.state": "HEATING", "oven.sample_temp_c": -35.25, "oven.chamber_pressure_kpa": 0.042,
        "oven.water_collected_g": 12.345,
    }  # fmt: skip
    line = status_line(values)
    assert "oven HEATING" in line and "-35.2 degC" in line
    assert "0.042 kPa" in line and "water 12.35 g" in line


@pytest.mark.req("GND-18")
def test_sil_water_chain_agrees_with_its_prediction(water_run: dict[str, Any]) -> None:
    """``isru seq predict`` of the same shortened chain agrees with this SIL run."""
    sil = water_run["report"]
    p = predict_text(_shorter_water_seq(), name="water", ice_wt_pct=ICE_WT_PCT).as_dict()
    names = (
        "regolith_g", "water_in_g", "water_extracted_g", "water_transferred_g",
        "water_electrolysed_g", "h2_g", "o2_g", "oven_energy_wh", "cell_energy_wh", "charge_ah",
    )  # fmt: skip
    agree(p, sil, names, steps=steps_of(_shorter_water_seq()), time_scale=WATER_SIL_SCALE)
    assert p["oven_energy_wh"] + p["cell_energy_wh"] == pytest.approx(
        sil["energy_balance"]["total_wh"], rel=AGREEMENT
    )
