"""docs/sim.md's thermal validation tables are regenerated from the models."""

from __future__ import annotations

import pytest

from tests import thermal_validation


@pytest.mark.req("SIM-15")
def test_thermal_validation_doc_tables_match_the_models() -> None:
    text = thermal_validation.DOC.read_text(encoding="utf-8")
    assert thermal_validation.documented(text) == thermal_validation.render(), (
        "docs/sim.md's thermal validation tables differ from the models; regenerate them with "
        f"`{thermal_validation.REGENERATE}` and review the diff"
    )


def test_thermal_validation_doc_without_markers_raises() -> None:
    with pytest.raises(ValueError, match="markers"):
        thermal_validation.documented("no markers here")
