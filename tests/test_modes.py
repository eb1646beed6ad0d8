"""The mode keeper: boots SAFE, follows device activity outside SAFE, tells listeners."""

from __future__ import annotations

from flight.modes import ModeKeeper
from interface.dictionary import Mode
from tests.recorder import Recorder


def test_modes_boot_safe_and_activity_does_not_leave_it() -> None:
    rec = Recorder()
    modes = ModeKeeper(events=rec.log)
    assert modes.mode is Mode.SAFE
    modes.follow_activity(busy=True)
    modes.follow_activity(busy=False)
    assert modes.mode is Mode.SAFE
    assert rec.events == []


def test_modes_outside_safe_follow_activity() -> None:
    rec = Recorder()
    modes = ModeKeeper(events=rec.log)
    modes.set(Mode.IDLE, reason="commanded")
    modes.follow_activity(busy=False)  # already IDLE: nothing
    modes.follow_activity(busy=True)
    assert modes.mode is Mode.OPERATING
    modes.follow_activity(busy=True)  # already OPERATING: nothing
    modes.follow_activity(busy=False)
    assert modes.mode is Mode.IDLE
    assert [(e.args["old"], e.args["new"], e.args["reason"]) for e in rec.events] == [
        ("SAFE", "IDLE", "commanded"),
        ("IDLE", "OPERATING", "a device is active"),
        ("OPERATING", "IDLE", "every device is at rest"),
    ]
    assert rec.events[0].text == "mode SAFE -> IDLE: commanded"
    assert {e.id for e in rec.events} == {"MODE_CHANGED"}


def test_modes_listeners_are_told_every_change() -> None:
    rec = Recorder()
    modes = ModeKeeper(events=rec.log)
    told: list[Mode] = []
    remove = modes.listen(told.append)
    modes.set(Mode.SAFE, reason="again")  # no change: no event, nobody told
    modes.set(Mode.IDLE, reason="commanded")
    modes.follow_activity(busy=True)
    modes.set(Mode.SAFE, reason="red limit")
    remove()
    modes.set(Mode.IDLE, reason="commanded")
    assert told == [Mode.IDLE, Mode.OPERATING, Mode.SAFE]
    assert len(rec.of("MODE_CHANGED")) == 4
