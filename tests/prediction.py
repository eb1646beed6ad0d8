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


def predict_text(text: str, name: str = "test", **world: Any) -> Prediction:
    return predict(parse_sequence(text, name=name, dictionary=DICTIONARY), world=World(**world))


def agree(p: dict[str, Any], sil: dict[str, Any], names: tuple[str, ...]) -> None:
    assert p["outcome"] == sil["outcome"]
    assert p["cause"] == sil["cause"]
    assert p["duration_s"] == pytest.approx(sil["duration_s"], rel=AGREEMENT)
    for name in names:
        assert p[name] == pytest.approx(sil[name], rel=AGREEMENT, abs=1e-6), name
    # The same events: limits, interlocks and failures (SIL's are WARNING or worse).
    assert len(p["events"]) == len(sil["events"])
