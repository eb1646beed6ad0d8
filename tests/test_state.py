"""flight.state: persistence across reloads, corrupt-file recovery, atomic writes, flush policy."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from flight.state import (
    FILE_NAME,
    MissionClockAnchor,
    RunningSequence,
    StateError,
    StateStore,
    peek_state,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def store_in(tmp_path: Path, **kwargs: object) -> StateStore:
    store = StateStore.in_dir(tmp_path, **kwargs)
    store.load()
    return store


def test_state_missing_file_gives_defaults(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    assert store.load() is None
    assert store.warning is None
    assert (store.boot_count, store.cell_ah_total, store.scoop_cycles_total) == (0, 0.0, 0)
    assert store.running_sequence is None
    assert store.highest_command_counter == 0
    assert not (tmp_path / "state.json").exists()


@pytest.mark.req("FLT-11")
def test_state_survives_reload(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    assert store.bump_boot() == 1
    assert store.bump_boot() == 2
    store.count_scoop_cycle()
    started = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    store.update(
        running_sequence={"name": "dig.seq", "line": 4, "started_utc": started},
        highest_command_counter=17,
    )
    store.add_cell_ah(0.25)
    store.flush()

    again = store_in(tmp_path)
    assert again.boot_count == 2
    assert again.scoop_cycles_total == 1
    assert again.running_sequence == RunningSequence(name="dig.seq", line=4, started_utc=started)
    assert again.highest_command_counter == 17
    assert again.cell_ah_total == pytest.approx(0.25)
    assert again.warning is None


def test_state_clearing_sequence_persists(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    now = datetime.now(UTC)
    store.update(running_sequence=RunningSequence(name="a", line=1, started_utc=now))
    store.update(running_sequence=None)
    assert store_in(tmp_path).running_sequence is None


@pytest.mark.parametrize(
    "content",
    [b"", b"{not json", b"\xff\xfe", b"[1, 2]", b'{"boot_count": -3}', b'{"boot_count": "x"}'],
)
def test_state_corrupt_file_is_kept_and_defaults_used(tmp_path: Path, content: bytes) -> None:
    (tmp_path / FILE_NAME).write_bytes(content)
    store = StateStore.in_dir(tmp_path)
    warning = store.load()
    assert warning is not None
    assert warning == store.warning
    assert "corrupt" in warning
    assert "state.json.corrupt-1" in warning
    assert (tmp_path / "state.json.corrupt-1").read_bytes() == content
    assert store.boot_count == 0
    assert store.bump_boot() == 1
    assert store_in(tmp_path).boot_count == 1


def test_state_second_corruption_gets_next_number(tmp_path: Path) -> None:
    for _ in range(2):
        (tmp_path / FILE_NAME).write_text("garbage")
        store_in(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "state.json.corrupt-1",
        "state.json.corrupt-2",
    ]


def test_state_unknown_keys_are_kept(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_text(json.dumps({"boot_count": 4, "from_newer_build": [1]}))
    store = store_in(tmp_path)
    store.bump_boot()
    data = json.loads((tmp_path / FILE_NAME).read_text())
    assert data["boot_count"] == 5
    assert data["from_newer_build"] == [1]


def test_state_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    for _ in range(5):
        store.bump_boot()
    assert [p.name for p in tmp_path.iterdir()] == [FILE_NAME]
    assert json.loads((tmp_path / FILE_NAME).read_text())["boot_count"] == 5


def test_state_stale_temp_file_is_removed_on_load(tmp_path: Path) -> None:
    (tmp_path / f".{FILE_NAME}.tmp-999").write_text("half a write")
    store_in(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_state_write_failure_raises_and_keeps_memory(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "sub" / "state.json")
    store.load()
    (tmp_path / "sub").write_text("")  # its directory is now a file
    with pytest.raises(StateError, match="cannot write"):
        store.bump_boot()
    assert store.boot_count == 0
    with pytest.raises(StateError, match="cannot read"):
        store.load()


def test_state_cell_ah_flushes_only_after_interval(tmp_path: Path) -> None:
    clock = FakeClock()
    store = store_in(tmp_path, flush_interval_s=30.0, clock=clock)
    assert store.add_cell_ah(0.1) is False
    clock.now = 10.0
    assert store.add_cell_ah(0.2) is False
    assert store.cell_ah_total == pytest.approx(0.3)
    assert store.dirty
    assert not (tmp_path / FILE_NAME).exists()
    clock.now = 30.0
    assert store.add_cell_ah(0.1) is True
    assert not store.dirty
    assert store_in(tmp_path).cell_ah_total == pytest.approx(0.4)


def test_state_update_writes_pending_charge(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    store.add_cell_ah(1.5)
    store.bump_boot()
    assert store_in(tmp_path).cell_ah_total == pytest.approx(1.5)


def test_state_command_counter_may_not_go_down(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    store.update(highest_command_counter=10)
    with pytest.raises(ValueError, match="highest_command_counter: may not go down"):
        store.update(highest_command_counter=9)


def test_state_update_rejects_bad_input(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    with pytest.raises(ValueError, match=r"changes: not state fields: \['bootcount'\]"):
        store.update(bootcount=1)
    with pytest.raises(ValidationError, match="scoop_cycles_total"):
        store.update(scoop_cycles_total=-1)
    with pytest.raises(ValueError, match="ah: must be a finite charge"):
        store.add_cell_ah(-0.1)
    with pytest.raises(ValueError, match="ah: must be a finite charge"):
        store.add_cell_ah(float("nan"))
    with pytest.raises(ValueError, match="flush_interval_s: must be positive"):
        StateStore(tmp_path / "s.json", flush_interval_s=0)


def test_state_mission_clock_anchor_survives_reload(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    anchor = MissionClockAnchor(
        utc=datetime(2026, 3, 1, 12, tzinfo=UTC),
        wall_utc=datetime(2026, 1, 1, tzinfo=UTC),
        scale=50.0,
    )
    store.update(mission_clock=anchor)
    assert store_in(tmp_path).mission_clock == anchor
    assert peek_state(tmp_path) == store.snapshot()


def test_state_mission_clock_anchor_needs_aware_times_and_a_positive_scale(
    tmp_path: Path,
) -> None:
    store = store_in(tmp_path)
    naive = {"utc": "2026-01-01T00:00:00", "wall_utc": "2026-01-01T00:00:00Z", "scale": 5}
    with pytest.raises(ValidationError, match="timezone"):
        store.update(mission_clock=naive)
    with pytest.raises(ValidationError, match="greater than 0"):
        store.update(mission_clock={**naive, "utc": "2026-01-01T00:00:00Z", "scale": 0})
    assert store.mission_clock is None


def test_state_peek_leaves_a_corrupt_file_for_load_to_report(tmp_path: Path) -> None:
    assert peek_state(tmp_path) is None  # no file yet
    (tmp_path / FILE_NAME).write_bytes(b"{not json")
    assert peek_state(tmp_path) is None
    assert (tmp_path / FILE_NAME).exists()
    warning = StateStore.in_dir(tmp_path).load()
    assert warning is not None and "was corrupt" in warning
