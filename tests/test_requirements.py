"""The ``req`` marker ties tests to the requirement ids of the docs (docs/testing.md)."""

from __future__ import annotations

import pytest

from tests.requirements import ID, ROOT, ROW, claimed, documented

# Requirements the docs say no test proves (the "verified by" column says why).
UNTESTED = {"GND-19"}


def test_requirements_every_marked_id_is_defined_in_the_docs() -> None:
    ids = documented()
    marks = list(claimed())
    assert marks, "no test carries a req marker"
    for where, test, args in marks:
        assert args, f"{where} {test}: req() names no requirement"
        for arg in args:
            assert isinstance(arg, str) and ID.fullmatch(arg), f"{where} {test}: {arg!r}"
            assert arg in ids, f"{where} {test}: {arg} is not a requirement in docs/"


def test_requirements_every_flight_ground_sim_hal_requirement_has_a_test() -> None:
    proved = {arg for _, _, args in claimed() for arg in args}
    pages = ("docs/flight.md", "docs/ground.md", "docs/sim.md", "docs/hal.md")
    wanted = {rid for rid, page in documented().items() if page in pages}
    assert sorted(wanted - proved - UNTESTED) == []
    assert wanted >= UNTESTED


def test_requirements_docs_define_each_id_once() -> None:
    rows = [
        match.group(1)
        for page in (ROOT / "docs").glob("*.md")
        for match in ROW.finditer(page.read_text(encoding="utf-8"))
    ]
    assert sorted(rid for rid in set(rows) if rows.count(rid) > 1) == []
    ids = documented()
    assert {"FLT-08", "GND-22", "SIM-02", "HAL-11"} <= ids.keys()
    assert "CRC-16" not in ids  # an id-shaped word outside a requirement table is not one


@pytest.mark.req("FLT-01")
def test_requirements_marker_is_registered(request: pytest.FixtureRequest) -> None:
    (marker,) = request.node.iter_markers("req")
    assert marker.args == ("FLT-01",)
