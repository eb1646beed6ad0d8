"""``:seq predict FILE`` in the console: a dry run of the file in its own process
(``isru seq predict --json``), its outcome shown beside the sequence before any upload."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from ground.console import ConsoleApp
from ground.console.predict import PredictionFailed, predict_command, run_prediction, summary
from tests.console_feed import recorded_client
from tests.test_console import enter, flat, shown, until

SHORT_SEQ = "MODE.IDLE\nSCOOP.HOME\nWAIT scoop.homed == true TIMEOUT 00:01:00\n"


def _isru(path: Path) -> list[str]:
    """This checkout's ``isru seq predict``, whatever is on the PATH."""
    return [sys.executable, "-m", "isru.cli", "seq", "predict", str(path), "--json"]


def test_console_predict_summary_is_one_line_with_the_figures() -> None:
    document: dict[str, Any] = {
        "sequence": "water", "outcome": "ABORTED", "duration_s": 7387.2,
        "total_energy_wh": 114.55, "peak_power_w": 150.0, "water_extracted_g": 20.2,
        "h2_g": 0.1869, "events": [{"time_s": 4725.7, "kind": "LIMIT", "what": "..."}],
    }  # fmt: skip
    line = summary(document)
    assert line == (
        "predicted water: ABORTED in 2:03:07, 114.5 Wh (peak 150 W), water 20.2 g, "
        "H2 187 mg, 1 event(s); first at 4726 s: LIMIT"
    )


def test_console_predict_command_runs_isru_seq_predict() -> None:
    command = predict_command(Path("x.seq"))
    assert command[-4:] == ["seq", "predict", "x.seq", "--json"]


async def test_console_predict_runs_the_dry_run_in_its_own_process(tmp_path: Path) -> None:
    path = tmp_path / "home.seq"
    path.write_text(SHORT_SEQ)
    document = await run_prediction(path, command=_isru(path))
    assert document["sequence"] == "home" and document["outcome"] == "COMPLETED"
    assert document["duration_s"] > 0 and document["events"] == []


async def test_console_predict_failure_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "missing.seq"
    with pytest.raises(PredictionFailed, match=r"cannot read .*missing\.seq"):
        await run_prediction(missing, command=_isru(missing))
    with pytest.raises(PredictionFailed, match="cannot run isru seq predict"):
        await run_prediction(missing, command=[str(tmp_path / "no-such-program")])


async def test_console_predict_shows_the_prediction_beside_the_sequence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "home.seq"
    path.write_text(SHORT_SEQ)
    monkeypatch.setattr("ground.console.predict.predict_command", _isru)
    app = ConsoleApp(client=recorded_client())
    async with app.run_test(size=(160, 40)) as pilot:
        await enter(pilot, f":seq predict {path}", typed=False)
        panel = app.sequence_panel
        await until(pilot, lambda: bool(panel.prediction), "the prediction", within_s=60)
        text = flat(shown(app, panel))
        assert "predicted home: COMPLETED in 0:00:" in text and "0 event(s)" in text
        assert app.command_bar.feedback_text == panel.prediction
        await enter(pilot, ":seq predict", typed=False)
        assert app.command_bar.is_error and "usage: :seq predict FILE" in str(
            app.command_bar.feedback_text
        )
