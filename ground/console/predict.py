"""``:seq predict FILE``: the console runs ``isru seq predict FILE --json`` (a dry run of the
sequence on the simulator, in its own process: the ground imports neither isru nor sim) and
shows its outcome beside the sequence before the file is uploaded."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path
from typing import Any

#: Real seconds a dry run may take: water.seq's two hours take about half a minute.
PREDICT_TIMEOUT_S = 600.0


class PredictionFailed(Exception):
    """The dry run could not be made; the message says why, in one line."""


def predict_command(path: Path) -> list[str]:
    """The command line of the dry run: ``isru`` on the PATH, else this Python's ``-m``."""
    isru = shutil.which("isru")
    head = [isru] if isru else [sys.executable, "-m", "isru.cli"]
    return [*head, "seq", "predict", str(path), "--json"]


async def run_prediction(
    path: Path, *, command: list[str] | None = None, timeout_s: float = PREDICT_TIMEOUT_S
) -> dict[str, Any]:
    """The prediction of ``path`` (the ``--json`` document), or PredictionFailed."""
    try:
        process = await asyncio.create_subprocess_exec(
            *(command or predict_command(path)),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise PredictionFailed(f"cannot run isru seq predict: {exc.strerror or exc}") from None
    try:
        async with asyncio.timeout(timeout_s):  # not wait_for: it can drop a cancel
            out, err = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise PredictionFailed(f"{path}: no prediction within {timeout_s:g} s") from None
    try:
        document = json.loads(out)
    except ValueError:
        lines = err.decode(errors="replace").strip().splitlines()
        detail = " ".join(lines[:2]) if lines else f"exit status {process.returncode}"
        raise PredictionFailed(detail.removeprefix("isru seq: ")) from None
    if not isinstance(document, dict):
        raise PredictionFailed(f"{path}: the prediction is not a JSON object")
    return document


def summary(document: dict[str, Any]) -> str:
    """One line: outcome, duration, energy, peak power, water and H2, events."""
    seconds = round(float(document.get("duration_s", 0.0)))
    duration = f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    events = document.get("events") or []
    line = (
        f"predicted {document.get('sequence', '?')}: {document.get('outcome', '?')} in "
        f"{duration}, {float(document.get('total_energy_wh', 0.0)):.1f} Wh "
        f"(peak {float(document.get('peak_power_w', 0.0)):.0f} W), "
        f"water {float(document.get('water_extracted_g', 0.0)):.1f} g, "
        f"H2 {float(document.get('h2_g', 0.0)) * 1000:.0f} mg, {len(events)} event(s)"
    )
    if events:
        first = events[0]
        line += f"; first at {float(first.get('time_s', 0.0)):.0f} s: {first.get('kind', '?')}"
    return line
