"""docs/sim.md's regolith and dig tables are regenerated from the models."""

from __future__ import annotations

import pytest

from tests import dig_validation


@pytest.mark.req("SIM-08")
@pytest.mark.parametrize("block", sorted(dig_validation.BLOCKS))
def test_dig_validation_doc_tables_match_the_models(block: str) -> None:
    text = dig_validation.DOC.read_text(encoding="utf-8")
    assert dig_validation.documented(text, block) == dig_validation.BLOCKS[block](), (
        f"docs/sim.md's {block} table differs from the models; regenerate it with "
        f"`{dig_validation.REGENERATE}` and review the diff"
    )


def test_dig_validation_doc_without_markers_raises() -> None:
    with pytest.raises(ValueError, match="markers"):
        dig_validation.documented("no markers here", "validation:dig")
