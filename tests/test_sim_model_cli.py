"""``isru sim model`` as a user runs it: the physics models' outputs, and bad arguments."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

M = 0.01801528  # kg/mol


def isru(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "isru.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def model_json(*args: str) -> dict[str, float]:
    result = isru("sim", "model", *args, "--json")
    assert result.returncode == 0, result.stderr
    outputs: dict[str, float] = json.loads(result.stdout)
    return outputs


@pytest.mark.req("SIM-15")
def test_sim_model_cli_thermal_gives_the_heat_per_kg_of_water() -> None:
    # 5.6 wt% ice from 100 K to 250 K: Hayne et al. 2017 Eq. A6 integrated (72.957 kJ/kg of
    # dry regolith, x 0.944/0.056), Murphy & Koop Eq. 1 integrated (209.88 kJ/kg) and Eq. 5
    # at 250 K (2838.20 kJ/kg): 4.2779 MJ per kg of water.
    out = model_json("thermal", "--ice-wt-pct", "5.6", "--from-k", "100", "--to-k", "250")
    assert out["heat_mj_per_kg_water"] == pytest.approx(4.2779, abs=2e-4)
    assert out["latent_mj_per_kg_water"] == pytest.approx(2.8382, abs=1e-4)
    assert out["water_sensible_mj_per_kg_water"] == pytest.approx(0.20988, abs=1e-4)
    # to 400 K the regolith's share grows: 6.592 MJ/kg, about 2.3 times the latent heat
    out = model_json("thermal", "--ice-wt-pct", "5.6", "--from-k", "100", "--to-k", "400")
    assert out["heat_mj_per_kg_water"] == pytest.approx(6.592, abs=1e-3)
    parts = ("regolith_sensible", "water_sensible", "latent")
    assert sum(out[f"{part}_mj_per_kg_water"] for part in parts) == pytest.approx(
        out["heat_mj_per_kg_water"]
    )


@pytest.mark.req("SIM-15")
def test_sim_model_cli_sublimation_matches_murphy_koop_and_hertz_knudsen() -> None:
    out = model_json("sublimation", "--temperature-k", "273.16")
    assert out["vapour_pressure_pa"] == pytest.approx(611.657, rel=1e-5)  # MK Table C1
    assert out["latent_heat_mj_per_kg"] == pytest.approx(2.834, abs=5e-4)
    out = model_json("sublimation", "--temperature-k", "240")
    assert out["vapour_pressure_pa"] == pytest.approx(27.272, rel=1e-4)  # MK Table C1
    out = model_json("sublimation", "--temperature-k", "200")
    assert out["vapour_pressure_pa"] == pytest.approx(0.162691, rel=1e-5)
    # Eq. 5 at 200 K: 51035.14 J/mol; J = p sqrt(M / (2 pi R T)), sticking 1
    assert out["latent_heat_mj_per_kg"] == pytest.approx(51035.14 / M / 1e6, rel=1e-6)
    assert out["flux_kg_per_m2_s"] == pytest.approx(2.13630e-4, rel=1e-5)
    half = model_json("sublimation", "--temperature-k", "200", "--sticking", "0.5")
    assert half["flux_kg_per_m2_s"] == pytest.approx(out["flux_kg_per_m2_s"] / 2)


def test_sim_model_cli_prints_a_table_without_json() -> None:
    result = isru("sim", "model", "sublimation", "--temperature-k", "200")
    assert result.returncode == 0, result.stderr
    lines = dict(line.split() for line in result.stdout.splitlines())
    assert float(lines["vapour_pressure_pa"]) == pytest.approx(0.162691, rel=1e-5)


def test_sim_model_cli_lists_its_models_and_python_m_sim_works_too() -> None:
    result = isru("sim", "model", "--help")
    assert result.returncode == 0
    assert "thermal" in result.stdout and "sublimation" in result.stdout
    direct = subprocess.run(
        [sys.executable, "-m", "sim", "model", "sublimation", "--temperature-k", "200", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert direct.returncode == 0, direct.stderr
    assert json.loads(direct.stdout)["vapour_pressure_pa"] == pytest.approx(0.162691, rel=1e-5)


@pytest.mark.req("SIM-15")
@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["thermal", "--ice-wt-pct", "0", "--from-k", "100", "--to-k", "400"], "--ice-wt-pct"),
        (["thermal", "--ice-wt-pct", "100", "--from-k", "100", "--to-k", "400"], "--ice-wt-pct"),
        (["thermal", "--ice-wt-pct", "lots", "--from-k", "100", "--to-k", "400"], "--ice-wt-pct"),
        (["thermal", "--ice-wt-pct", "5.6", "--from-k", "300", "--to-k", "400"], "--from-k"),
        (["thermal", "--ice-wt-pct", "5.6", "--from-k", "nan", "--to-k", "400"], "--from-k"),
        (["thermal", "--ice-wt-pct", "5.6", "--from-k", "200", "--to-k", "150"], "--to-k"),
        (["thermal", "--ice-wt-pct", "5.6", "--from-k", "100", "--to-k", "5000"], "--to-k"),
        (["thermal", "--ice-wt-pct", "5.6", "--from-k", "100"], "--to-k"),
        (["sublimation", "--temperature-k", "300"], "--temperature-k"),
        (["sublimation", "--temperature-k", "inf"], "--temperature-k"),
        (["sublimation", "--temperature-k", "200", "--sticking", "0"], "--sticking"),
        (["sublimation", "--temperature-k", "200", "--bogus"], "--bogus"),
        (["pem"], "pem"),
        ([], "thermal"),
    ],
)
def test_sim_model_cli_bad_argument_is_one_line_naming_it(args: list[str], flag: str) -> None:
    result = isru("sim", "model", *args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("isru sim model") and flag in lines[0]
    assert "Traceback" not in result.stderr
