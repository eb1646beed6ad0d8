"""What the tests that hold a dry run against a SIL run share: the prediction of a sequence
text and the agreement asked of it."""

from __future__ import annotations

from typing import Any

import pytest

from interface.catalog import DICTIONARY
from interface.sequence import parse_sequence
from isru.predict.run import Prediction, World, predict

#: Relative agreement asked of a prediction with the SIL run of the same sequence.
AGREEMENT = 0.02
#: What one step's round trip may cost the SIL run in real seconds (request, reply, the
#: telemetry frame that confirms it, on a loaded 2-core machine). The SIL pays it in real
#: time, so a time scale of N turns it into N times as many mission seconds; the prediction
#: runs on a virtual clock and pays nothing. Only the duration carries it.
ROUND_TRIP_S = 0.03


def steps_of(text: str) -> int:
    """How many steps the sequence has: each command, and each WAIT on telemetry, costs the
    SIL a round trip or a telemetry frame."""
    return len(parse_sequence(text, name="count", dictionary=DICTIONARY).steps)


def predict_text(text: str, name: str = "test", **world: Any) -> Prediction:
    return predict(parse_sequence(text, name=name, dictionary=DICTIONARY), world=World(**world))


def agree(
    p: dict[str, Any],
    sil: dict[str, Any],
    names: tuple[str, ...],
    *,
    steps: int,
    time_scale: float,
) -> None:
    """``p`` predicted what ``sil`` measured, of a sequence of ``steps`` steps (see
    :func:`steps_of`) the SIL ran at ``time_scale``."""
    assert p["outcome"] == sil["outcome"]
    assert p["cause"] == sil["cause"]
    latency_s = steps * ROUND_TRIP_S * time_scale
    assert p["duration_s"] <= sil["duration_s"] * (1 + AGREEMENT)  # latency only lengthens SIL
    assert sil["duration_s"] - p["duration_s"] <= AGREEMENT * sil["duration_s"] + latency_s
    for name in names:
        assert p[name] == pytest.approx(sil[name], rel=AGREEMENT, abs=1e-6), name
    # The same events: limits, interlocks and failures (SIL's are WARNING or worse).
    assert len(p["events"]) == len(sil["events"])
