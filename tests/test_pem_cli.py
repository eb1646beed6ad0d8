"""``isru sim model pem`` as a user runs it: the curve, its parts, H2, and bad arguments."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.test_pem_model import reference_rows
from tests.test_pem_params import own_file

MASS_TRANSPORT = """[mass_transport]
limiting_current_a_cm2 = 2.5
coefficient_v = 0.05
"""


def test_pem_cli_shows_the_mass_transport_part_when_the_set_has_one(tmp_path: Path) -> None:
    limited = own_file(tmp_path, "[thermal]", MASS_TRANSPORT + "\n[thermal]")
    args = ("--temperature-c", "60", "--current-density", "0,1.25", "--params", str(limited))
    idle, half = pem_json(*args)["points"]
    assert idle["mass_transport_v"] == 0.0
    assert half["mass_transport_v"] == pytest.approx(0.05 * math.log(2))
    assert idle["faradaic_efficiency"] == idle["h2_mg_per_h"] == 0.0


def isru(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "isru.cli", "sim", "model", "pem", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def pem_json(*args: str) -> dict[str, Any]:
    result = isru(*args, "--json")
    assert result.returncode == 0, result.stderr
    out: dict[str, Any] = json.loads(result.stdout)
    return out


@pytest.mark.req("SIM-07")
def test_pem_cli_prints_simses_curve_with_its_parts_and_the_stacks_h2() -> None:
    out = pem_json("--temperature-c", "60", "--current-density", "0.1,1,2")
    assert (out["params"], out["temperature_c"], out["cells"]) == ("tjarks2017", 60.0, 1)
    simses = {
        row["current_density_a_cm2"]: row
        for row in reference_rows()
        if row["temperature_c"] == 60.0
    }
    assert [p["current_density_a_cm2"] for p in out["points"]] == [0.1, 1.0, 2.0]
    for point in out["points"]:
        ref = simses[point["current_density_a_cm2"]]
        assert point["cell_voltage_v"] == pytest.approx(ref["cell_voltage_v"], abs=5e-3)
        parts = ("reversible_v", "activation_v", "ohmic_v", "mass_transport_v")
        assert sum(point[k] for k in parts) == pytest.approx(point["cell_voltage_v"])
        assert point["faradaic_efficiency"] == pytest.approx(ref["faradaic_efficiency"], abs=1e-5)
        amps = point["current_density_a_cm2"] * 25.0
        want = 37.607 * amps * point["faradaic_efficiency"]
        assert point["h2_mg_per_h"] == pytest.approx(want, rel=1e-4)


def test_pem_cli_a_teams_stack_scales_the_hydrogen(tmp_path: Path) -> None:
    path = own_file(tmp_path, "cells = 1", "cells = 3")
    base = pem_json("--temperature-c", "80", "--current-density", "1")["points"][0]
    team = pem_json("--temperature-c", "80", "--current-density", "1", "--params", str(path))
    point = team["points"][0]
    assert point["h2_mg_per_h"] == pytest.approx(3 * base["h2_mg_per_h"])
    assert point["cell_voltage_v"] == base["cell_voltage_v"]


def test_pem_cli_higher_pressure_raises_the_voltage_and_lowers_the_efficiency() -> None:
    one = pem_json("--temperature-c", "60", "--current-density", "0.2")["points"][0]
    args = ("--temperature-c", "60", "--current-density", "0.2", "--cathode-bar", "30")
    thirty = pem_json(*args)["points"][0]
    assert thirty["reversible_v"] > one["reversible_v"] + 0.02
    assert thirty["faradaic_efficiency"] < one["faradaic_efficiency"] - 0.02


def test_pem_cli_without_json_prints_a_table() -> None:
    result = isru("--temperature-c", "30", "--current-density", "0.5,1.5")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["params", "tjarks2017"]
    header = next(i for i, line in enumerate(lines) if "cell_voltage_v" in line)
    assert lines[header].split()[:2] == ["current_density_a_cm2", "cell_voltage_v"]
    assert [line.split()[0] for line in lines[header + 1 :]] == ["0.5", "1.5"]


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--temperature-c", "95", "--current-density", "1"], "--temperature-c"),
        (["--temperature-c", "hot", "--current-density", "1"], "--temperature-c"),
        (["--temperature-c", "60", "--current-density", "1,,2"], "--current-density"),
        (["--temperature-c", "60", "--current-density", "-1"], "--current-density"),
        (["--temperature-c", "60", "--current-density", "11"], "--current-density"),
        (["--current-density", "1"], "--temperature-c"),
        (["--temperature-c", "60", "--current-density", "1", "--params", "x"], "--params"),
        (["--temperature-c", "80", "--current-density", "1", "--anode-bar", "0.3"], "boils"),
        (["--temperature-c", "60", "--current-density", "0.5,2.5", "--params", "MT"], "limiting"),
    ],
)
def test_pem_cli_bad_argument_exits_2_with_one_line(
    args: list[str], flag: str, tmp_path: Path
) -> None:
    limited = own_file(tmp_path, "[thermal]", MASS_TRANSPORT + "\n[thermal]")
    result = isru(*(str(limited) if arg == "MT" else arg for arg in args))
    assert result.returncode == 2
    assert flag in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
