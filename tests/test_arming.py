"""ARM/FIRE: the arm window on mission time (and real time), what cancels an arm."""

from __future__ import annotations

import pytest

from flight.arming import Arming
from flight.clock import ManualClock
from tests.recorder import WINDOW_S, Recorder


def make_arming() -> tuple[Arming, Recorder]:
    rec = Recorder()
    return Arming(clock=rec.clock, events=rec.log, window_s=WINDOW_S), rec


@pytest.mark.req("FLT-05")
async def test_arming_fire_within_the_window_uses_the_arm() -> None:
    arming, rec = make_arming()
    arming.arm("SCOOP.DUMP")
    (armed,) = rec.of("ARMED")
    assert armed.args == {"command": "SCOOP.DUMP", "window_s": WINDOW_S}
    await rec.clock.advance(WINDOW_S)  # the deadline itself still counts
    assert arming.armed == "SCOOP.DUMP"
    assert arming.fire("SCOOP.DUMP")
    assert arming.armed is None
    assert not arming.fire("SCOOP.DUMP")  # used up
    assert rec.of("ARM_CANCELLED") == []


@pytest.mark.req("FLT-05", "FLT-13")
async def test_arming_window_expiry_cancels_the_arm() -> None:
    arming, rec = make_arming()
    arming.arm("SCOOP.DUMP")
    await rec.clock.advance(WINDOW_S + 0.5)
    assert rec.of("ARM_CANCELLED") == []  # noticed only when the arm is looked at
    assert arming.armed is None
    (cancelled,) = rec.of("ARM_CANCELLED")
    assert cancelled.args == {"command": "SCOOP.DUMP", "reason": "window expired"}
    assert cancelled.text == "SCOOP.DUMP disarmed: window expired"
    assert not arming.fire("SCOOP.DUMP")
    assert len(rec.of("ARM_CANCELLED")) == 1


class SpedUpClock(ManualClock):
    """A manual clock standing in for a SIL ScaledClock at scale 10."""

    scale = 10.0


async def test_arming_window_on_a_sped_up_clock_lasts_its_real_seconds() -> None:
    # At time scale 10 the FIRE still needs real time to come back through the broker.
    rec = Recorder(SpedUpClock())
    arming = Arming(clock=rec.clock, events=rec.log, window_s=WINDOW_S)
    arming.arm("SCOOP.DUMP")
    await rec.clock.advance(WINDOW_S * 10)  # WINDOW_S of real time: still armed
    assert arming.armed == "SCOOP.DUMP"
    await rec.clock.advance(0.5)
    assert arming.armed is None
    assert rec.of("ARM_CANCELLED")[0].args["reason"] == "window expired"


async def test_arming_another_command_in_between_cancels_the_arm() -> None:
    arming, rec = make_arming()
    arming.arm("ELEC.VENT")
    arming.observe("CORE.ARM")  # arming is not "another command"
    assert arming.armed == "ELEC.VENT"
    arming.observe("CORE.NOOP")
    assert arming.armed is None
    (cancelled,) = rec.of("ARM_CANCELLED")
    assert cancelled.args == {"command": "ELEC.VENT", "reason": "CORE.NOOP was sent in between"}
    assert not arming.fire("ELEC.VENT")


def test_arming_observe_with_nothing_armed_does_nothing() -> None:
    arming, rec = make_arming()
    arming.observe("CORE.NOOP")
    assert arming.armed is None
    assert rec.events == []


def test_arming_fire_of_a_different_command_is_refused() -> None:
    arming, rec = make_arming()
    arming.arm("SCOOP.DUMP")
    assert not arming.fire("ELEC.VENT")
    assert arming.armed == "SCOOP.DUMP"  # the arm is not touched
    assert arming.fire("SCOOP.DUMP")
    assert rec.of("ARM_CANCELLED") == []


def test_arming_disarm_cancels_with_the_reason() -> None:
    arming, rec = make_arming()
    arming.disarm("commanded")  # nothing armed: no event
    assert rec.events == []
    arming.arm("LIMIT.DISABLE")
    arming.disarm("commanded")
    assert arming.armed is None
    (cancelled,) = rec.of("ARM_CANCELLED")
    assert cancelled.args == {"command": "LIMIT.DISABLE", "reason": "commanded"}


async def test_arming_second_arm_replaces_the_first() -> None:
    arming, rec = make_arming()
    arming.arm("SCOOP.DUMP")
    await rec.clock.advance(6)
    arming.arm("ELEC.VENT")
    assert rec.ids() == ["ARMED", "ARM_CANCELLED", "ARMED"]
    (cancelled,) = rec.of("ARM_CANCELLED")
    assert cancelled.args == {"command": "SCOOP.DUMP", "reason": "replaced by arming ELEC.VENT"}
    assert not arming.fire("SCOOP.DUMP")
    await rec.clock.advance(WINDOW_S)  # the window restarted at the second ARM
    assert arming.fire("ELEC.VENT")


def test_arming_refuses_a_non_positive_window() -> None:
    rec = Recorder()
    with pytest.raises(ValueError, match="window_s: must be positive"):
        Arming(clock=rec.clock, events=rec.log, window_s=0)
