"""The rover's position in sample custody (``SAMPLE.POSITION``), in the flight software
against the simulated boards over real ptys: it is kept across a restart, signed into
COLLECTED and TRANSFERRED as the site's offset, and left out (said so) when it is stale."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flight.dispatcher import Reason
from flight.rover_position import FILE_NAME
from interface.custody import Collected, Kind, Site, Transferred, parse_body
from tests.flightstack import Stack
from tests.test_flight_samples import SITE, _dig, _entry, _fail, custody_stack

POSITION = {"east_m": 12.5, "north_m": -3.25, "up_m": 0.4, "sigma_m": 1.5}


def _site(stack: Stack, kind: Kind) -> Site:
    """The site of the ledger's last entry of ``kind``."""
    entry = [e.entry for e in stack.app.samples.keeper.entries if e.entry.kind is kind][-1]
    body = parse_body(kind, entry.body)
    assert isinstance(body, Collected | Transferred)
    return body.site


def _file(tmp_path: Path) -> Path:
    return tmp_path / "state" / FILE_NAME


async def test_flight_samples_position_offsets_collected_and_transferred_sites(
    tmp_path: Path,
) -> None:
    async with custody_stack(tmp_path, camera=False) as stack:
        await stack.event("CUSTODY_OPENED")
        await stack.ok("SAMPLE.POSITION", **POSITION)  # in SAFE: no actuator involved
        received = await stack.event("POSITION_RECEIVED")
        assert "east 12.5 m, north -3.25 m, up 0.4 m" in received.text
        assert "1-sigma 1.5 m" in received.text
        await _dig(stack)
        await _entry(stack, "COLLECTED")
        site = _site(stack, Kind.COLLECTED)
        assert site.model_dump() == {
            **SITE,
            "source": "config",
            "offset": {**POSITION, "source": "telemetry"},
        }
        moved = {"east_m": 14.0, "north_m": -2.0, "up_m": 0.5, "sigma_m": 2.0}
        await stack.ok("SAMPLE.POSITION", **moved)
        await stack.ok("SCOOP.WEIGH")
        await _entry(stack, "MEASURED")
        await stack.ok("SAMPLE.TRANSFER", sample="latest", buyer="ACME", contract="C-1")
        offset = _site(stack, Kind.TRANSFERRED).offset
        assert offset is not None
        assert offset.model_dump() == {**moved, "source": "telemetry"}
        assert "POSITION_STALE" not in stack.ids()


async def test_flight_samples_position_survives_a_restart(tmp_path: Path) -> None:
    async with custody_stack(tmp_path, camera=False) as stack:
        await stack.ok("SAMPLE.POSITION", **POSITION)
    kept = json.loads(_file(tmp_path).read_text(encoding="utf-8"))
    assert {k: kept[k] for k in POSITION} == POSITION
    assert set(kept["at"]) == {"mission", "utc"}
    async with custody_stack(tmp_path, camera=False) as stack:
        await _dig(stack)
        await _entry(stack, "COLLECTED")
        offset = _site(stack, Kind.COLLECTED).offset
        assert offset is not None
        assert offset.model_dump() == {**POSITION, "source": "telemetry"}


async def test_flight_samples_position_stale_leaves_the_offset_out_and_says_so(
    tmp_path: Path,
) -> None:
    old = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    _file(tmp_path).parent.mkdir(parents=True)
    _file(tmp_path).write_text(
        json.dumps({**POSITION, "at": {"mission": old, "utc": old}}), encoding="utf-8"
    )
    async with custody_stack(tmp_path, camera=False) as stack:
        await _dig(stack)
        await _entry(stack, "COLLECTED")
        assert _site(stack, Kind.COLLECTED).model_dump() == {
            **SITE,
            "source": "config",
            "offset": None,
        }
        stale = await stack.event("POSITION_STALE")
        assert stale.args["what"] == "COLLECTED"
        assert stale.args["max_age_s"] == 600.0
        assert 7100 < stale.args["age_s"] < 7300
        assert f"rover position of {old} is" in stale.text


async def test_flight_samples_position_unreadable_file_is_set_aside(tmp_path: Path) -> None:
    _file(tmp_path).parent.mkdir(parents=True)
    _file(tmp_path).write_text('{"east_m": "far"}', encoding="utf-8")
    async with custody_stack(tmp_path, camera=False) as stack:
        recovered = await stack.event("STATE_RECOVERED")
        assert f"rover position {_file(tmp_path)}" in recovered.text
        assert "kept as rover_position.json.corrupt-1" in recovered.text
        assert not _file(tmp_path).exists()
        await _dig(stack)
        await _entry(stack, "COLLECTED")
        assert _site(stack, Kind.COLLECTED).offset is None
        assert "POSITION_STALE" not in stack.ids()


@pytest.mark.parametrize(
    ("args", "named"),
    [
        ({**POSITION, "east_m": 100_001.0}, "east_m"),
        ({**POSITION, "up_m": -20_000.0}, "up_m"),
        ({**POSITION, "sigma_m": -1.0}, "sigma_m"),
        ({"east_m": 1.0, "north_m": 2.0, "up_m": 0.0}, "sigma_m"),
    ],
)
async def test_flight_samples_position_out_of_range_is_refused(
    tmp_path: Path, args: dict[str, Any], named: str
) -> None:
    async with custody_stack(tmp_path, camera=False) as stack:
        reason, detail = await _fail(stack, "SAMPLE.POSITION", **args)
        assert reason is Reason.INVALID_ARGUMENT
        assert named in detail
        assert stack.app.samples.position.fix is None
        assert not _file(tmp_path).exists()


async def test_flight_samples_position_unwritable_state_fails_the_command(
    tmp_path: Path,
) -> None:
    async with custody_stack(tmp_path, camera=False) as stack:
        _file(tmp_path).mkdir()  # the file's name is taken by a directory: no replace
        reason, detail = await _fail(stack, "SAMPLE.POSITION", **POSITION)
        assert reason is Reason.DEVICE_FAULT
        assert detail.startswith(f"rover position not kept: {_file(tmp_path)}")
        assert stack.app.samples.position.fix is None
