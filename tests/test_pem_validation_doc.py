"""docs/sim.md's PEM validation table is regenerated from the model and SimSES's reference."""

from __future__ import annotations

import pytest

from tests import pem_validation


@pytest.mark.req("SIM-07")
def test_pem_validation_doc_table_matches_the_model() -> None:
    text = pem_validation.DOC.read_text(encoding="utf-8")
    assert pem_validation.documented(text) == pem_validation.render(), (
        "docs/sim.md's PEM validation table differs from the model; regenerate it with "
        f"`{pem_validation.REGENERATE}` and review the diff"
    )


def test_pem_validation_doc_without_markers_raises() -> None:
    with pytest.raises(ValueError, match="markers"):
        pem_validation.documented("no markers here")
