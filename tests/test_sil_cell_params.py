"""``isru sil --cell-params``: the simulated cell of the whole stack is the parameter set named."""

from __future__ import annotations

from pathlib import Path

import pytest

from isru.sil import main
from sim.pem_params import shipped_params
from tests.ground_probe import Received, ground_probe
from tests.sil_process import isru_sil

CURRENT_A = 2.0
DEFAULT_TOML = Path(__file__).parents[1] / "sim" / "params" / "tjarks2017.toml"


def _linked(m: Received) -> bool:
    return m.topic.endswith("/tm/elec") and "elec.h2_pressure_kpa" in m.payload["values"]


def _running(m: Received) -> bool:
    return m.topic.endswith("/tm/elec") and m.payload["values"].get("elec.cell_voltage_v", 0) > 0


async def _cell_voltage(*args: str) -> tuple[float, float]:
    """The first cell voltage and temperature the flight's telemetry reports at 2 A."""
    async with (
        isru_sil("--headless", *args) as sil,
        ground_probe(sil.host, sil.port, "sil") as ground,
    ):
        await ground.wait_for(_linked)
        for name, command_args in (("MODE.IDLE", {}), ("ELEC.START", {"current_a": CURRENT_A})):
            ack = await ground.final_ack(await ground.command(name, command_args))
            assert ack["stage"] == "COMPLETED", ack
        values = (await ground.wait_for(_running)).payload["values"]
    return float(values["elec.cell_voltage_v"]), float(values["elec.cell_temp_c"])


async def test_sil_cell_params_file_changes_the_cell_voltage_in_telemetry(tmp_path: Path) -> None:
    resistive = tmp_path / "resistive.toml"
    resistive.write_text(
        DEFAULT_TOML.read_text(encoding="utf-8")
        .replace('name = "tjarks2017"', 'name = "resistive"')
        .replace("electronic_resistance_ohm_cm2 = 0.096", "electronic_resistance_ohm_cm2 = 2.0"),
        encoding="utf-8",
    )
    default_v, default_c = await _cell_voltage()
    resistive_v, resistive_c = await _cell_voltage("--cell-params", str(resistive))
    # The same cell but for 1.904 ohm cm2 more at 2 A / 25 cm2: 0.152 V more, at the same
    # temperature (the cell has barely warmed when the first sample comes).
    j = CURRENT_A / shipped_params().stack.area_cm2
    assert resistive_c == pytest.approx(default_c, abs=0.5)
    assert resistive_v - default_v == pytest.approx(j * (2.0 - 0.096), abs=0.01)


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("nosuch", "argument --cell-params: nosuch: no such file, nor a shipped parameter set"),
        ("{bad}", "bad.toml: not valid TOML"),
        ("{unknown}", "unknown.toml: membrane.resistance: unknown key"),
    ],
)
def test_sil_cell_params_bad_file_is_refused_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str, error: str
) -> None:
    (tmp_path / "bad.toml").write_text("name = \n", encoding="utf-8")
    (tmp_path / "unknown.toml").write_text(
        DEFAULT_TOML.read_text(encoding="utf-8").replace(
            "water_content = 25.0", "water_content = 25.0\nresistance = 1.0"
        ),
        encoding="utf-8",
    )
    spec = spec.format(bad=tmp_path / "bad.toml", unknown=tmp_path / "unknown.toml")
    with pytest.raises(SystemExit) as exited:
        main(["--headless", "--cell-params", spec])  # nothing may start: no broker, no process
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert error in err and "Traceback" not in err
