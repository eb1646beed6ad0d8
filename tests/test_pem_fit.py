"""``isru sim fit``: measured polarization data in, a parameter file the simulator loads out."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.fit_cli import read_polarization
from sim.pem_fit import _written
from sim.pem_model import cell_voltage
from sim.pem_params import PemParams, load_params, shipped_params

TRUE = {
    "transfer_coefficient": 0.9,
    "exchange_current_log10_a_cm2": -6.5,
    "electronic_resistance_ohm_cm2": 0.08,
    "activation_energy_kj_mol": 45.0,
}
NOISE_V = 0.002


def truth(span_c: tuple[float, float] = (40.0, 80.0)) -> PemParams:
    return _written(shipped_params(), TRUE, 60.0, span_c, "truth", "known parameters")


def measured(path: Path, temperatures: tuple[float, ...], *, column: bool = True) -> Path:
    """A polarization curve from ``truth()`` with 2 mV of Gaussian noise, as a CSV."""
    rng = random.Random(11)
    params = truth()
    lines = ["# a bench run", "temperature_c,current_density_a_cm2,cell_voltage_v"]
    if not column:
        lines[1] = "current_density_a_cm2,cell_voltage_v"
    for t_c in temperatures:
        for k in range(1, 31):
            j = 0.1 * k
            volts = cell_voltage(params, j, t_c) + rng.gauss(0.0, NOISE_V)
            lines.append(f"{t_c},{j:.2f},{volts:.5f}" if column else f"{j:.2f},{volts:.5f}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def fit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "isru.cli", "sim", "fit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def fit_json(*args: str) -> dict[str, Any]:
    result = fit(*args, "--json")
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.mark.req("SIM-07")
def test_pem_fit_recovers_known_parameters_within_its_confidence(tmp_path: Path) -> None:
    data = measured(tmp_path / "bench.csv", (40.0, 60.0, 80.0))
    out = tmp_path / "team.toml"
    report = fit_json("--polarization", str(data), "--out", str(out))
    assert (report["points"], report["reference_c"]) == (90, 60.0)
    for key, want in TRUE.items():
        found, half = report["values"][key], report["ci95"][key]
        assert abs(found - want) <= half, key
        assert half < 0.1 * abs(want), key  # the data pin every parameter down
    assert report["rms_residual_v"] == pytest.approx(NOISE_V, rel=0.25)
    # the file is a parameter set the simulator loads, and it gives the true curve back
    params = load_params(out)
    assert params.name == "team"
    assert params.kinetics.temperature_range_c == (40.0, 80.0)
    assert params.fit is not None and params.fit["points"] == 90
    for t_c in (40.0, 55.0, 80.0):
        for j in (0.1, 1.0, 3.0):
            assert cell_voltage(params, j, t_c) == pytest.approx(
                cell_voltage(truth(), j, t_c), abs=3e-3
            )


def test_pem_fit_at_one_temperature_holds_the_kinetics_there(tmp_path: Path) -> None:
    data = measured(tmp_path / "bench.csv", (60.0,), column=False)
    out = tmp_path / "one.toml"
    result = fit("--polarization", str(data), "--temperature-c", "60", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "activation_energy_kj_mol        not fitted" in result.stdout
    assert "residuals: rms" in result.stdout
    params = load_params(out)
    assert params.kinetics.temperature_range_c == (60.0, 60.0)
    for j in (0.1, 1.0, 3.0):
        assert cell_voltage(params, j, 60.0) == pytest.approx(
            cell_voltage(truth(), j, 60.0), abs=3e-3
        )


HEAD = "current_density_a_cm2,cell_voltage_v\n"
AT_60 = ["--temperature-c", "60"]


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        ("current_density_a_cm2,volts\n1,2\n", AT_60, "no column cell_voltage_v"),
        (HEAD + "1,2\n", [], "--temperature-c: required"),
        ("temperature_c," + HEAD + "60,1,2\n", AT_60, "has a temperature_c column"),
        (HEAD + "1,2\n1,abc\n", AT_60, "line 3: cell_voltage_v: not a number: 'abc'"),
        (HEAD + "1,2\n2\n", AT_60, "line 3: 1 fields"),
        (HEAD + "-1,2\n", AT_60, "line 2: current_density_a_cm2: must be 0..10"),
        (HEAD + "1,0\n", AT_60, "line 2: cell_voltage_v: must be above 0"),
        (HEAD + "1,1.8\n2,2.0\n", AT_60, "at least 5 points"),
        ("# only a comment\n", AT_60, "no header line"),
        (HEAD + "1,2\n", ["--temperature-c", "hot"], "--temperature-c"),
        (HEAD + "1,2\n", ["--params", "nope.toml"], "--params"),
    ],
)
def test_pem_fit_bad_input_exits_2_with_one_line(
    tmp_path: Path, text: str, args: list[str], message: str
) -> None:
    data = tmp_path / "bench.csv"
    data.write_text(text, encoding="utf-8")
    result = fit("--polarization", str(data), "--out", str(tmp_path / "o.toml"), *args)
    assert result.returncode == 2, result.stdout
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o.toml").exists()


def test_pem_fit_unreadable_input_or_unwritable_output_says_so(tmp_path: Path) -> None:
    result = fit("--polarization", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o.toml"))
    assert result.returncode == 2
    assert "argument --polarization: cannot read" in result.stderr
    data = measured(tmp_path / "bench.csv", (60.0,))
    result = fit("--polarization", str(data), "--out", str(tmp_path / "no" / "dir" / "o.toml"))
    assert result.returncode == 2
    assert "argument --out: cannot write" in result.stderr


@given(st.text(alphabet="0123456789.,-e#\n xabcdeijmnprstuvwylo_", max_size=300))
@settings(max_examples=300, deadline=None)
def test_pem_fit_reading_any_csv_gives_rows_or_a_value_error(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    path = tmp_path_factory.mktemp("csv") / "any.csv"
    path.write_text(HEAD + text, encoding="utf-8")
    try:
        j, t_c, volts = read_polarization(path, 60.0)
    except ValueError as exc:
        assert "any.csv" in str(exc)
    else:
        assert len(j) == len(t_c) == len(volts)
        assert all(0.0 <= x <= 10.0 for x in j) and all(v > 0 for v in volts)
