"""Unit tests of the flight software's pieces, on the manual clock, with no devices.

Time moves only by ``await clock.advance(s)``; the handlers are plain async functions at the
dispatcher's handler seam.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flight.arming import Arming
from flight.channels import ChannelStore
from flight.clock import ManualClock, ScaledClock, within
from flight.dispatcher import (
    Ack,
    Command,
    Dispatcher,
    Execution,
    Reason,
    Route,
    Stage,
)
from flight.events import Event, EventLog
from flight.handlers import Payload
from flight.interlocks import Interlocks
from flight.limits import Level, LimitMonitor
from flight.modes import ModeKeeper
from flight.sequencer import Outcome, SeqState, Sequencer, SequencerBusy
from flight.state import RunningSequence, StateStore
from hal.errors import DeviceNack, DeviceTimeout, LinkDown, ProtocolError
from interface.catalog import DICTIONARY
from interface.dictionary import Limits, Mode, SafingResponse, Severity
from interface.sequence import Sequence, parse_sequence

WINDOW_S = 10.0


class Recorder:
    """An event log on a manual clock, with every event it emits kept in order."""

    def __init__(self, clock: ManualClock | None = None) -> None:
        self.clock = clock or ManualClock()
        self.log = EventLog(dictionary=DICTIONARY, clock=self.clock)
        self.events: list[Event] = []
        self.log.subscribe(self.events.append)

    def of(self, event_id: str) -> list[Event]:
        return [e for e in self.events if e.id == event_id]

    def ids(self) -> list[str]:
        return [e.id for e in self.events]


# --- ManualClock, ScaledClock, within ----------------------------------------------------


async def test_clock_sleepers_wake_in_order_at_their_deadlines() -> None:
    clock = ManualClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.monotonic()))

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("c", 3.0), ("a", 1.0), ("b", 2.0))]
    await clock.advance(0)
    assert woke == []
    await clock.advance(1.5)
    assert woke == [("a", 1.0)]
    await clock.advance(10)
    assert woke == [("a", 1.0), ("b", 2.0), ("c", 3.0)]
    assert clock.monotonic() == 11.5
    await asyncio.gather(*tasks)


async def test_clock_sleeper_added_during_advance_wakes_within_it() -> None:
    clock = ManualClock()
    woke: list[float] = []

    async def chain() -> None:
        await clock.sleep(1)
        woke.append(clock.monotonic())
        await clock.sleep(1)
        woke.append(clock.monotonic())

    task = asyncio.create_task(chain())
    await clock.advance(5)
    assert woke == [1.0, 2.0]
    await task


async def test_clock_utc_follows_mission_time() -> None:
    clock = ManualClock(start_utc=datetime(2030, 5, 1, tzinfo=UTC))
    await clock.advance(90)
    assert clock.utc() == datetime(2030, 5, 1, 0, 1, 30, tzinfo=UTC)


async def test_clock_advance_refuses_negative_time() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        await ManualClock().advance(-1)


async def test_clock_within_times_out_on_mission_time() -> None:
    clock = ManualClock()
    never: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(within(clock, 5.0, never))
    await clock.advance(4.5)
    assert not task.done()
    await clock.advance(0.5)
    assert task.done()
    with pytest.raises(TimeoutError, match=r"not within 5\.0 s"):
        task.result()
    assert never.cancelled()


async def test_clock_within_returns_the_result_in_time() -> None:
    clock = ManualClock()
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(within(clock, 5.0, future))
    await clock.advance(1)
    future.set_result(42)
    assert await task == 42


async def test_clock_within_cancelled_caller_cancels_the_awaitable() -> None:
    clock = ManualClock()
    waiting = asyncio.ensure_future(asyncio.Event().wait())
    task = asyncio.create_task(within(clock, 5.0, waiting))
    await clock.advance(1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await clock.advance(0)  # lets the cancelled awaitable finish
    try:
        assert waiting.cancelled()
    finally:
        waiting.cancel()


async def test_clock_within_an_awaitable_already_done_returns_at_once() -> None:
    clock = ManualClock()
    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    future.set_result("ready")
    assert await within(clock, 0.0, future) == "ready"


def test_clock_scaled_refuses_a_non_positive_scale() -> None:
    for scale in (0.0, -2.0):
        with pytest.raises(ValueError, match="scale: must be positive"):
            ScaledClock(scale=scale)


def test_clock_scaled_utc_follows_its_own_monotonic_time() -> None:
    clock = ScaledClock(scale=1000.0)
    first = clock.monotonic()
    utc = clock.utc()
    second = clock.monotonic()
    assert 0.0 <= first <= second
    assert utc.tzinfo is UTC


# --- EventLog ----------------------------------------------------------------------------


def test_events_format_the_template_with_the_fields() -> None:
    rec = Recorder()
    event = rec.log.emit("ARMED", command="SCOOP.DUMP", window_s=10.0)
    assert event.text == "SCOOP.DUMP armed for 10.0 s"
    assert event.severity is Severity.INFO
    assert event.args == {"command": "SCOOP.DUMP", "window_s": 10.0}
    assert rec.events == [event]


def test_events_missing_fields_show_a_question_mark() -> None:
    rec = Recorder()
    assert rec.log.emit("ARMED", command="SCOOP.DUMP").text == "SCOOP.DUMP armed for ? s"
    assert rec.log.emit("LINK_LOST").text == "? link lost: ?"


async def test_events_are_numbered_in_order_with_the_mission_time() -> None:
    rec = Recorder()
    first = rec.log.emit("LINK_RESTORED", board="scoop")
    await rec.clock.advance(2.5)
    second = rec.log.emit("LINK_RESTORED", board="elec")
    assert (first.seq, second.seq) == (1, 2)
    assert second.time == datetime(2026, 1, 1, 0, 0, 2, 500000, tzinfo=UTC)
    assert list(rec.log.recent) == [first, second]


def test_events_recent_keeps_only_the_last_history() -> None:
    rec = Recorder()
    log = EventLog(dictionary=DICTIONARY, clock=rec.clock, history=2)
    for board in ("a", "b", "c"):
        log.emit("LINK_RESTORED", board=board)
    assert [e.args["board"] for e in log.recent] == ["b", "c"]
    assert [e.seq for e in log.recent] == [2, 3]
    with pytest.raises(ValueError, match="history: must be at least 1"):
        EventLog(dictionary=DICTIONARY, clock=rec.clock, history=0)


def test_events_subscriber_removed_hears_nothing_more() -> None:
    rec = Recorder()
    heard: list[str] = []
    remove = rec.log.subscribe(lambda e: heard.append(e.id))
    rec.log.emit("LINK_RESTORED", board="scoop")
    remove()
    rec.log.emit("LINK_RESTORED", board="elec")
    assert heard == ["LINK_RESTORED"]
    assert len(rec.events) == 2


async def test_events_wait_for_returns_the_first_event_where_it_holds() -> None:
    rec = Recorder()
    waiter = asyncio.create_task(
        rec.log.wait_for("ARMED", timeout_s=60, where=lambda e: e.args["command"] == "ELEC.VENT")
    )
    await rec.clock.advance(0)
    rec.log.emit("ARMED", command="SCOOP.DUMP", window_s=10.0)
    rec.log.emit("LINK_RESTORED", board="elec")
    await rec.clock.advance(0)
    assert not waiter.done()
    wanted = rec.log.emit("ARMED", command="ELEC.VENT", window_s=10.0)
    rec.log.emit("ARMED", command="ELEC.VENT", window_s=10.0)
    assert await waiter is wanted


async def test_events_wait_for_unknown_event_is_rejected() -> None:
    rec = Recorder()
    with pytest.raises(ValueError, match="event_id: 'NO_SUCH_EVENT' is not in the dictionary"):
        await rec.log.wait_for("NO_SUCH_EVENT", timeout_s=1)


def test_events_emit_unknown_event_is_rejected() -> None:
    rec = Recorder()
    with pytest.raises(ValueError, match=r"event_id: .NO_SUCH_EVENT. is not in the dictionary"):
        rec.log.emit("NO_SUCH_EVENT")
    assert rec.events == []
    assert rec.log.emit("LINK_RESTORED", board="scoop").seq == 1  # nothing was numbered


async def test_events_wait_for_times_out_on_mission_time() -> None:
    rec = Recorder()
    waiter = asyncio.create_task(rec.log.wait_for("ARMED", timeout_s=5))
    try:
        await rec.clock.advance(5)
        assert waiter.done()
        with pytest.raises(TimeoutError):
            waiter.result()
    finally:
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await waiter


# --- Arming ------------------------------------------------------------------------------


def make_arming() -> tuple[Arming, Recorder]:
    rec = Recorder()
    return Arming(clock=rec.clock, events=rec.log, window_s=WINDOW_S), rec


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


# --- LimitMonitor ------------------------------------------------------------------------

TEMP = "scoop.board_temp_c"
GREEN, YELLOW, RED = Level.GREEN, Level.YELLOW, Level.RED
LIMIT_EVENT = {GREEN: "LIMIT_CLEARED", YELLOW: "LIMIT_YELLOW", RED: "LIMIT_RED"}


def temp_limits(persistence: int) -> Limits:
    return Limits(
        red_low=-30,
        yellow_low=-15,
        yellow_high=60,
        red_high=75,
        persistence=persistence,
        response=SafingResponse.SAFE,
    )


class Monitor:
    """A LimitMonitor over the dictionary, with its events and its on_red calls recorded."""

    def __init__(self, limits: dict[str, Limits]) -> None:
        self.rec = Recorder()
        self.red: list[tuple[str, SafingResponse, str]] = []
        self.monitor = LimitMonitor(
            limits=limits,
            dictionary=DICTIONARY,
            events=self.rec.log,
            on_red=lambda channel, response, reason: self.red.append((channel, response, reason)),
        )

    def feed(self, channel: str, *values: Any) -> None:
        for value in values:
            self.monitor.check({channel: value})

    def limit_ids(self) -> list[str]:
        return [i for i in self.rec.ids() if i in LIMIT_EVENT.values()]


def test_limits_yellow_after_persistence_samples_not_before() -> None:
    m = Monitor({TEMP: temp_limits(3)})
    m.feed(TEMP, 65, 65)
    assert m.limit_ids() == []
    assert m.monitor.level(TEMP) is GREEN
    m.feed(TEMP, 65)
    (yellow,) = m.rec.of("LIMIT_YELLOW")
    assert yellow.args == {"channel": TEMP, "value": 65.0, "unit": "degC", "limit": 60.0}
    assert yellow.severity is Severity.WARNING
    assert m.monitor.level(TEMP) is YELLOW
    m.feed(TEMP, 65, 65, 65)
    assert m.limit_ids() == ["LIMIT_YELLOW"]
    assert m.red == []


def test_limits_red_after_persistence_calls_on_red_once() -> None:
    m = Monitor({TEMP: temp_limits(3)})
    m.feed(TEMP, 80, 80)
    assert m.red == []
    m.feed(TEMP, 80)
    (red,) = m.rec.of("LIMIT_RED")
    assert red.args == {
        "channel": TEMP,
        "value": 80.0,
        "unit": "degC",
        "limit": 75.0,
        "response": SafingResponse.SAFE,
    }
    assert red.severity is Severity.ERROR
    assert m.red == [(TEMP, SafingResponse.SAFE, f"{TEMP} = 80.0 degC beyond red limit 75.0")]
    m.feed(TEMP, 80, 81, 90)
    assert len(m.red) == 1
    assert m.limit_ids() == ["LIMIT_RED"]  # straight to red, no yellow first
    assert m.monitor.level(TEMP) is RED


def test_limits_red_low_counts_as_well() -> None:
    m = Monitor({TEMP: temp_limits(2)})
    m.feed(TEMP, -31, -40)
    assert m.rec.of("LIMIT_RED")[0].args["limit"] == -30.0


def test_limits_spike_shorter_than_persistence_does_nothing() -> None:
    m = Monitor({TEMP: temp_limits(3)})
    m.feed(TEMP, 80, 80, 20, 80, 80, 20, 65, 65, 20, -20, -20, 20)
    assert m.limit_ids() == []
    assert m.red == []
    assert m.monitor.level(TEMP) is GREEN


def test_limits_flicker_between_yellow_and_red_raises_yellow_never_red() -> None:
    m = Monitor({TEMP: temp_limits(3)})
    m.feed(TEMP, 65, 80)
    assert m.limit_ids() == []
    m.feed(TEMP, 65)
    assert m.limit_ids() == ["LIMIT_YELLOW"]
    m.feed(TEMP, *[80, 65] * 10)
    assert m.limit_ids() == ["LIMIT_YELLOW"]
    assert m.red == []
    assert m.monitor.level(TEMP) is YELLOW


def test_limits_back_to_green_after_persistence_raises_cleared() -> None:
    m = Monitor({TEMP: temp_limits(3)})
    m.feed(TEMP, 65, 65, 65, 20, 20)
    assert m.limit_ids() == ["LIMIT_YELLOW"]
    m.feed(TEMP, 20)
    assert m.limit_ids() == ["LIMIT_YELLOW", "LIMIT_CLEARED"]
    (cleared,) = m.rec.of("LIMIT_CLEARED")
    assert cleared.args == {"channel": TEMP, "value": 20.0, "unit": "degC"}
    assert cleared.text == f"{TEMP} = 20.0 degC: back within limits"
    assert m.monitor.level(TEMP) is GREEN


def test_limits_from_red_persistent_yellow_steps_down_to_yellow() -> None:
    m = Monitor({TEMP: temp_limits(3)})
    m.feed(TEMP, 80, 80, 80, 65, 65)
    assert m.limit_ids() == ["LIMIT_RED"]
    m.feed(TEMP, 65)
    assert m.limit_ids() == ["LIMIT_RED", "LIMIT_YELLOW"]
    assert m.monitor.level(TEMP) is YELLOW
    m.feed(TEMP, 20, 20, 20)
    assert m.limit_ids() == ["LIMIT_RED", "LIMIT_YELLOW", "LIMIT_CLEARED"]
    assert len(m.red) == 1


def test_limits_from_red_persistent_green_clears_directly() -> None:
    m = Monitor({TEMP: temp_limits(2)})
    m.feed(TEMP, 80, 80, 20, 20)
    assert m.limit_ids() == ["LIMIT_RED", "LIMIT_CLEARED"]


def test_limits_nan_counts_as_red() -> None:
    m = Monitor({TEMP: temp_limits(3)})
    m.feed(TEMP, float("nan"), float("nan"))
    assert m.limit_ids() == []
    m.feed(TEMP, float("nan"))
    (red,) = m.rec.of("LIMIT_RED")
    assert red.args["value"] == "nan"
    assert [(channel, response) for channel, response, _ in m.red] == [(TEMP, SafingResponse.SAFE)]
    assert m.monitor.level(TEMP) is RED


def test_limits_none_values_and_unlimited_channels_are_ignored() -> None:
    m = Monitor({TEMP: temp_limits(1)})
    m.monitor.check({TEMP: None, "scoop.state": "FAULT", "scoop.boom_current_a": 99.0})
    assert m.rec.events == []


def test_limits_disabled_channel_is_ignored() -> None:
    m = Monitor({TEMP: temp_limits(2)})
    m.monitor.disable(TEMP)
    assert m.rec.ids() == ["LIMIT_DISABLED"]
    assert m.monitor.disabled == {TEMP}
    m.feed(TEMP, 80, 80, 80, 80)
    assert m.limit_ids() == []
    assert m.red == []


def test_limits_enable_starts_afresh() -> None:
    m = Monitor({TEMP: temp_limits(3)})
    m.feed(TEMP, 80, 80)
    m.monitor.enable(TEMP)
    assert m.rec.ids() == ["LIMIT_ENABLED"]
    m.feed(TEMP, 80)
    assert m.limit_ids() == []  # the run of red samples restarted
    m.feed(TEMP, 80, 80)
    assert m.limit_ids() == ["LIMIT_RED"]
    m.monitor.disable(TEMP)
    m.monitor.enable(TEMP)
    assert m.monitor.disabled == set()
    assert m.monitor.level(TEMP) is GREEN  # reported GREEN again, without LIMIT_CLEARED
    assert "LIMIT_CLEARED" not in m.rec.ids()
    m.feed(TEMP, 80, 80, 80)
    assert len(m.red) == 2


def test_limits_bool_channel_trips_on_true() -> None:
    stall = "scoop.boom_stall"
    m = Monitor({stall: Limits(red_high=0.5, persistence=2, response=SafingResponse.SAFE)})
    m.feed(stall, False, False, False, True, False, True)
    assert m.limit_ids() == []
    m.feed(stall, True)
    assert m.limit_ids() == ["LIMIT_RED"]
    assert m.red[0][:2] == (stall, SafingResponse.SAFE)
    m.feed(stall, False, False)
    assert m.limit_ids() == ["LIMIT_RED", "LIMIT_CLEARED"]


def test_limits_unknown_channel_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"limits: not channels of the dictionary: scoop\.nope"):
        Monitor({TEMP: temp_limits(3), "scoop.nope": temp_limits(3)})


def test_limits_enable_or_disable_of_a_channel_without_limits_is_rejected() -> None:
    m = Monitor({TEMP: temp_limits(3)})
    with pytest.raises(ValueError, match=r"channel: 'scoop\.state' has no limits"):
        m.monitor.enable("scoop.state")
    with pytest.raises(ValueError, match=r"channel: 'elec\.h2_pressure_kpa' has no limits"):
        m.monitor.disable("elec.h2_pressure_kpa")
    assert m.rec.events == []


def reference_level(value: float) -> Level:
    """The level of a board temperature against -30 / -15 / 60 / 75, strictly beyond."""
    if value < -30 or value > 75:
        return RED
    if value < -15 or value > 60:
        return YELLOW
    return GREEN


def reference_reports(values: list[float], persistence: int) -> list[tuple[int, Level]]:
    levels = [reference_level(v) for v in values]  # RED beyond red limits, YELLOW beyond yellow
    reported, reports = GREEN, []
    for index in range(len(levels)):
        window = levels[max(0, index - persistence + 1) : index + 1]
        if len(window) < persistence:
            continue
        new = None
        if reported is not RED and all(x is RED for x in window):
            new = RED
        elif reported is GREEN and all(x is not GREEN for x in window):
            new = YELLOW
        elif reported is RED and all(x is not RED for x in window):
            new = GREEN if all(x is GREEN for x in window) else YELLOW
        elif reported is YELLOW and all(x is GREEN for x in window):
            new = GREEN
        if new is not None:
            reports.append((index, new))
            reported = new
    return reports


BOUNDARIES = [
    v
    for limit in (-30.0, -15.0, 60.0, 75.0)
    for v in (math.nextafter(limit, -math.inf), limit, math.nextafter(limit, math.inf))
]


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.sampled_from(BOUNDARIES),
            st.floats(min_value=-60, max_value=120, allow_nan=False),
        ),
        max_size=60,
    ),
    persistence=st.integers(min_value=1, max_value=6),
)
def test_limits_reports_match_the_reference_model(values: list[float], persistence: int) -> None:
    m = Monitor({TEMP: temp_limits(persistence)})
    emitted: list[tuple[int, str]] = []
    for index, value in enumerate(values):
        before = len(m.rec.events)
        m.feed(TEMP, value)
        emitted += [(index, e.id) for e in m.rec.events[before:] if e.id in LIMIT_EVENT.values()]
    expected = reference_reports(values, persistence)
    assert emitted == [(index, LIMIT_EVENT[level]) for index, level in expected]
    assert len(m.red) == sum(1 for _, level in expected if level is RED)


# --- ModeKeeper --------------------------------------------------------------------------


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


# --- Dispatcher --------------------------------------------------------------------------


def stages(acks: list[Ack]) -> list[Stage]:
    return [ack.stage for ack in acks]


def waiting_handler(release: asyncio.Event, after: list[str] | None = None) -> Route:
    """A scoop route that starts, waits for ``release``, then notes its command in ``after``."""

    async def handler(run: Execution) -> None:
        run.started()
        await release.wait()
        if after is not None:
            after.append(run.command.name)

    return Route(handler, "scoop")


async def _started(run: Execution) -> None:
    run.started()


def default_route(name: str) -> Route:
    """A no-op on the device of the real route (flight/handlers.py): SCOOP.* on the scoop,
    ELEC.* on the cell, their STOPs pre-empting; everything else on no device."""
    family, _, verb = name.partition(".")
    device = {"SCOOP": "scoop", "ELEC": "elec"}.get(family)
    return Route(_started, device, preempts=device is not None and verb == "STOP")


class Bench:
    """A real Dispatcher over the dictionary, with no-op handlers (``routes`` override them).

    CORE.ARM, CORE.DISARM, MODE.IDLE and MODE.SAFE do their small part (arm, disarm, set the
    mode) so that ARM/FIRE and modes can be exercised. The mode starts IDLE and follows the
    dispatcher's activity; ``values`` are the live channel values the interlocks read, and
    start out satisfying every interlock.
    """

    def __init__(self, routes: dict[str, Route] | None = None) -> None:
        self.clock = ManualClock()
        self.rec = Recorder(self.clock)
        self.log = self.rec.log
        self.modes = ModeKeeper(events=self.log)
        self.modes.set(Mode.IDLE, reason="bench")
        self.arming = Arming(clock=self.clock, events=self.log, window_s=WINDOW_S)
        self.values: dict[str, Any] = {
            "scoop.homed": True,
            "scoop.state": "IDLE",
            "elec.h2_pressure_kpa": 100.0,
            "elec.o2_pressure_kpa": 100.0,
            "elec.cell_temp_c": 20.0,
            "elec.water_mass_g": 200.0,
        }
        table = {c.name: default_route(c.name) for c in DICTIONARY.commands}
        table |= {
            "CORE.ARM": Route(self._arm),
            "CORE.DISARM": Route(self._disarm),
            "MODE.IDLE": Route(self._mode_idle),
            "MODE.SAFE": Route(self._mode_safe),
        }
        table |= routes or {}
        self.dispatcher = Dispatcher(
            dictionary=DICTIONARY,
            routes=table,
            modes=self.modes,
            arming=self.arming,
            interlocks=Interlocks(dictionary=DICTIONARY),
            values=self.values,
            events=self.log,
            clock=self.clock,
        )
        self.dispatcher.on_activity = lambda: self.modes.follow_activity(
            busy=bool(self.dispatcher.active)
        )
        self._ids = itertools.count(1)

    async def _arm(self, run: Execution) -> None:
        run.started()
        self.arming.arm(run.args["command"])

    async def _disarm(self, run: Execution) -> None:
        run.started()
        self.arming.disarm("commanded")

    async def _mode_idle(self, run: Execution) -> None:
        run.started()
        self.modes.set(Mode.IDLE, reason="commanded")

    async def _mode_safe(self, run: Execution) -> None:
        run.started()
        self.dispatcher.abort_all()
        self.arming.disarm("going SAFE")
        self.modes.set(Mode.SAFE, reason="commanded")

    def command(self, name: str, /, **args: Any) -> Command:
        return Command(f"c{next(self._ids)}", name, args)

    async def run(self, name: str, /, **args: Any) -> list[Ack]:
        """Run one command to its end; every ack it got, in order."""
        acks: list[Ack] = []
        await self.dispatcher.run(self.command(name, **args), acks.append)
        return acks

    def start(self, name: str, /, **args: Any) -> tuple[asyncio.Task[Ack], list[Ack]]:
        """Start one command; its task (the final ack) and the list its acks go to."""
        acks: list[Ack] = []
        task = asyncio.create_task(self.dispatcher.run(self.command(name, **args), acks.append))
        return task, acks


def test_bench_routes_sit_on_the_devices_of_the_flight_routes() -> None:
    flight_routes = Payload.routes(object.__new__(Payload))  # only bound methods are needed
    bench_routes = {c.name: default_route(c.name) for c in DICTIONARY.commands}
    for name, route in flight_routes.items():
        assert (bench_routes[name].device, bench_routes[name].preempts) == (
            route.device,
            route.preempts,
        ), name


def test_dispatcher_needs_a_route_for_every_command() -> None:
    bench = Bench()
    routes = {c.name: default_route(c.name) for c in DICTIONARY.commands}
    del routes["SCOOP.DIG"], routes["ELEC.VENT"]
    with pytest.raises(ValueError, match=r"routes: no handler for SCOOP\.DIG, ELEC\.VENT"):
        Dispatcher(
            dictionary=DICTIONARY,
            routes=routes,
            modes=bench.modes,
            arming=bench.arming,
            interlocks=Interlocks(dictionary=DICTIONARY),
            values=bench.values,
            events=bench.log,
            clock=bench.clock,
        )


async def test_dispatcher_noop_is_accepted_started_completed() -> None:
    bench = Bench()
    await bench.clock.advance(3)
    acks = await bench.run("CORE.NOOP")
    assert stages(acks) == [Stage.ACCEPTED, Stage.STARTED, Stage.COMPLETED]
    assert {(a.id, a.name, a.reason, a.detail) for a in acks} == {("c1", "CORE.NOOP", None, "")}
    assert {a.time for a in acks} == {datetime(2026, 1, 1, 0, 0, 3, tzinfo=UTC)}
    assert (bench.dispatcher.completed, bench.dispatcher.failed) == (1, 0)
    assert "COMMAND_FAILED" not in bench.rec.ids()


async def test_dispatcher_run_returns_the_final_ack() -> None:
    bench = Bench()
    acks: list[Ack] = []
    final = await bench.dispatcher.run(Command("x1", "CORE.NOOP"), acks.append)
    assert final is acks[-1] and final.stage is Stage.COMPLETED


async def test_dispatcher_unknown_command_fails_without_accepted() -> None:
    bench = Bench()
    acks = await bench.run("CORE.NOPE")
    assert stages(acks) == [Stage.FAILED]
    assert acks[0].reason is Reason.UNKNOWN_COMMAND
    assert acks[0].detail == "'CORE.NOPE' is not a command"
    assert bench.dispatcher.failed == 1


@pytest.mark.parametrize(
    ("args", "detail"),
    [
        ({"depth_mm": 500}, "depth_mm: Input should be less than or equal to 100 (got 500)"),
        ({}, "depth_mm: missing"),
        ({"depth_mm": 30, "speed": 2}, "speed: not an argument of this command"),
        ({"depth_mm": "30"}, "depth_mm: Input should be a valid number (got '30')"),
    ],
)
async def test_dispatcher_invalid_argument_names_the_argument(
    args: dict[str, Any], detail: str
) -> None:
    bench = Bench()
    acks = await bench.run("SCOOP.DIG", **args)
    assert stages(acks) == [Stage.FAILED]
    assert acks[0].reason is Reason.INVALID_ARGUMENT
    assert acks[0].detail == detail


async def test_dispatcher_bool_argument_is_strict() -> None:
    bench = Bench()
    refused = await bench.run("ELEC.WATER", open=1)
    assert refused[0].reason is Reason.INVALID_ARGUMENT
    assert refused[0].detail.startswith("open: ")
    assert stages(await bench.run("ELEC.WATER", open=True))[-1] is Stage.COMPLETED


async def test_dispatcher_handler_gets_the_validated_arguments() -> None:
    seen: list[dict[str, Any]] = []

    async def dig(run: Execution) -> None:
        seen.append(run.args)
        run.started()

    bench = Bench({"SCOOP.DIG": Route(dig, "scoop")})
    await bench.run("SCOOP.DIG", depth_mm=30)
    assert seen == [{"depth_mm": 30.0}]


async def test_dispatcher_not_allowed_in_mode_names_the_mode() -> None:
    bench = Bench()
    bench.modes.set(Mode.SAFE, reason="test")
    acks = await bench.run("SCOOP.HOME")
    assert stages(acks) == [Stage.FAILED]
    assert acks[0].reason is Reason.NOT_ALLOWED_IN_MODE
    assert acks[0].detail == "SCOOP.HOME is not allowed in SAFE (allowed in: IDLE, OPERATING)"
    assert stages(await bench.run("SCOOP.STOP"))[-1] is Stage.COMPLETED  # allowed in SAFE
    assert stages(await bench.run("MODE.IDLE"))[-1] is Stage.COMPLETED
    assert stages(await bench.run("SCOOP.HOME"))[-1] is Stage.COMPLETED


async def test_dispatcher_mode_follows_device_activity() -> None:
    release = asyncio.Event()
    bench = Bench({"SCOOP.HOME": waiting_handler(release)})
    assert bench.modes.mode is Mode.IDLE
    await bench.run("CORE.NOOP")  # no device: the mode does not move
    assert bench.modes.mode is Mode.IDLE
    home, _ = bench.start("SCOOP.HOME")
    await bench.clock.advance(0)
    assert bench.modes.mode is Mode.OPERATING
    release.set()
    await home
    assert bench.modes.mode is Mode.IDLE


async def test_dispatcher_hazardous_command_without_arm_fails_not_armed() -> None:
    bench = Bench()
    acks = await bench.run("SCOOP.DUMP")
    assert stages(acks) == [Stage.FAILED]
    assert acks[0].reason is Reason.NOT_ARMED
    assert acks[0].detail == "SCOOP.DUMP is hazardous: send CORE.ARM first"


async def test_dispatcher_hazardous_arm_then_fire_completes_once() -> None:
    bench = Bench()
    assert stages(await bench.run("CORE.ARM", command="SCOOP.DUMP"))[-1] is Stage.COMPLETED
    assert bench.arming.armed == "SCOOP.DUMP"
    await bench.clock.advance(WINDOW_S)
    fire = await bench.run("SCOOP.DUMP")
    assert stages(fire) == [Stage.ACCEPTED, Stage.STARTED, Stage.COMPLETED]
    assert bench.arming.armed is None
    assert (await bench.run("SCOOP.DUMP"))[0].reason is Reason.NOT_ARMED  # used up
    assert bench.rec.of("ARM_CANCELLED") == []


async def test_dispatcher_hazardous_after_the_window_fails_not_armed() -> None:
    bench = Bench()
    await bench.run("CORE.ARM", command="SCOOP.DUMP")
    await bench.clock.advance(WINDOW_S + 0.5)
    assert (await bench.run("SCOOP.DUMP"))[0].reason is Reason.NOT_ARMED
    (cancelled,) = bench.rec.of("ARM_CANCELLED")
    assert cancelled.args["reason"] == "window expired"


async def test_dispatcher_hazardous_above_an_argument_value_needs_arming() -> None:
    bench = Bench()
    assert stages(await bench.run("ELEC.START", current_a=5.0))[-1] is Stage.COMPLETED
    high = await bench.run("ELEC.START", current_a=6.0)
    assert high[0].reason is Reason.NOT_ARMED
    await bench.run("CORE.ARM", command="ELEC.START")
    assert stages(await bench.run("ELEC.START", current_a=6.0))[-1] is Stage.COMPLETED


async def test_dispatcher_hazardous_fire_refused_by_an_interlock_keeps_the_arm() -> None:
    bench = Bench()
    bench.values["scoop.homed"] = False
    await bench.run("CORE.ARM", command="SCOOP.DUMP")
    refused = await bench.run("SCOOP.DUMP")
    assert stages(refused) == [Stage.FAILED]
    assert refused[0].reason is Reason.INTERLOCK
    assert refused[0].detail.startswith("SCOOP_NOT_HOMED: ")
    assert bench.arming.armed == "SCOOP.DUMP"
    bench.values["scoop.homed"] = True
    assert stages(await bench.run("SCOOP.DUMP"))[-1] is Stage.COMPLETED
    assert bench.arming.armed is None
    assert bench.rec.of("ARM_CANCELLED") == []


async def test_dispatcher_hazardous_fire_refused_busy_keeps_the_arm() -> None:
    release = asyncio.Event()
    bench = Bench({"SCOOP.HOME": waiting_handler(release)})
    await bench.run("CORE.ARM", command="SCOOP.DUMP")
    home, _ = bench.start("SCOOP.HOME")  # the FIRE is not the next command: this cancels
    await bench.clock.advance(0)
    assert bench.arming.armed is None
    await bench.run("CORE.ARM", command="SCOOP.DUMP")
    refused = await bench.run("SCOOP.DUMP")
    assert refused[0].reason is Reason.BUSY
    assert bench.arming.armed == "SCOOP.DUMP"
    release.set()
    await home
    assert stages(await bench.run("SCOOP.DUMP"))[-1] is Stage.COMPLETED


@pytest.mark.parametrize(
    ("name", "args", "reason"),
    [
        ("CORE.NOOP", {}, None),
        ("CORE.NOPE", {}, Reason.UNKNOWN_COMMAND),
        ("SCOOP.DIG", {"depth_mm": 500}, Reason.INVALID_ARGUMENT),
        ("ELEC.VENT", {"gas": "H2"}, Reason.NOT_ARMED),
    ],
)
async def test_dispatcher_hazardous_any_other_command_in_between_cancels_the_arm(
    name: str, args: dict[str, Any], reason: Reason | None
) -> None:
    bench = Bench()
    await bench.run("CORE.ARM", command="SCOOP.DUMP")
    between = await bench.run(name, **args)
    assert between[-1].reason is reason
    (cancelled,) = bench.rec.of("ARM_CANCELLED")
    assert cancelled.args == {"command": "SCOOP.DUMP", "reason": f"{name} was sent in between"}
    assert bench.arming.armed is None
    assert (await bench.run("SCOOP.DUMP"))[0].reason is Reason.NOT_ARMED


async def test_dispatcher_disarm_cancels_the_arm() -> None:
    bench = Bench()
    await bench.run("CORE.ARM", command="ELEC.VENT")
    assert stages(await bench.run("CORE.DISARM"))[-1] is Stage.COMPLETED
    assert [e.args["reason"] for e in bench.rec.of("ARM_CANCELLED")] == [
        "CORE.DISARM was sent in between"
    ]
    assert (await bench.run("ELEC.VENT", gas="H2"))[0].reason is Reason.NOT_ARMED


async def test_dispatcher_second_arm_replaces_the_first() -> None:
    bench = Bench()
    await bench.run("CORE.ARM", command="SCOOP.DUMP")
    await bench.run("CORE.ARM", command="ELEC.VENT")
    (cancelled,) = bench.rec.of("ARM_CANCELLED")
    assert cancelled.args["reason"] == "replaced by arming ELEC.VENT"
    assert (await bench.run("SCOOP.DUMP"))[0].reason is Reason.NOT_ARMED


@pytest.mark.parametrize(
    ("channel", "value", "detail"),
    [
        (
            "elec.h2_pressure_kpa",
            190.0,
            "H2_PRESSURE_HIGH: no cell current while the H2 tank is above its yellow limit"
            " (elec.h2_pressure_kpa < 180)",
        ),
        (
            "elec.o2_pressure_kpa",
            180.0,
            "O2_PRESSURE_HIGH: no cell current while the O2 tank is above its yellow limit"
            " (elec.o2_pressure_kpa < 180)",
        ),
        (
            "elec.cell_temp_c",
            4.9,
            "CELL_TOO_COLD: no cell current while the cell is near freezing"
            " (elec.cell_temp_c >= 5)",
        ),
        (
            "elec.water_mass_g",
            29.0,
            "WATER_LOW: no cell current with too little water in the reservoir"
            " (elec.water_mass_g >= 30)",
        ),
    ],
)
async def test_dispatcher_interlock_detail_names_the_interlock(
    channel: str, value: float, detail: str
) -> None:
    bench = Bench()
    bench.values[channel] = value
    acks = await bench.run("ELEC.START", current_a=2.0)
    assert stages(acks) == [Stage.FAILED]
    assert acks[0].reason is Reason.INTERLOCK
    assert acks[0].detail == detail


async def test_dispatcher_interlock_channel_never_heard_refuses() -> None:
    bench = Bench()
    del bench.values["scoop.state"]
    acks = await bench.run("SCOOP.WEIGH")
    assert acks[0].reason is Reason.INTERLOCK
    assert acks[0].detail.startswith("ARM_IN_MOTION: ")


async def test_dispatcher_interlock_refuses_until_telemetry_allows() -> None:
    bench = Bench()
    bench.values["scoop.homed"] = False
    refused = await bench.run("SCOOP.DIG", depth_mm=30)
    assert stages(refused) == [Stage.FAILED]
    assert refused[0].reason is Reason.INTERLOCK
    assert refused[0].detail == (
        "SCOOP_NOT_HOMED: no arm motion but HOME before the joints are homed (scoop.homed == true)"
    )
    bench.values["scoop.homed"] = True  # the dispatcher reads the live values
    assert (await bench.run("SCOOP.DIG", depth_mm=30))[-1].stage is Stage.COMPLETED


async def test_dispatcher_second_command_on_a_busy_device_fails_busy() -> None:
    release = asyncio.Event()
    bench = Bench({"SCOOP.HOME": waiting_handler(release)})
    first, first_acks = bench.start("SCOOP.HOME")
    await bench.clock.advance(0)
    second = await bench.run("SCOOP.TARE")
    assert stages(second) == [Stage.FAILED]
    assert second[0].reason is Reason.BUSY
    assert second[0].detail == "scoop is busy with a command"
    other_device = await bench.run("ELEC.HEATER", enabled=True, setpoint_c=20.0)
    assert other_device[-1].stage is Stage.COMPLETED
    release.set()
    assert (await first).stage is Stage.COMPLETED
    assert stages(first_acks) == [Stage.ACCEPTED, Stage.STARTED, Stage.COMPLETED]


async def test_dispatcher_preempting_stop_aborts_the_running_command() -> None:
    release = asyncio.Event()
    after_wait: list[str] = []
    stopped: list[str] = []

    async def stop(run: Execution) -> None:
        run.started()
        stopped.append("stop")

    bench = Bench(
        {
            "SCOOP.DIG": waiting_handler(release, after_wait),
            "SCOOP.STOP": Route(stop, "scoop", preempts=True),
        }
    )
    dig, dig_acks = bench.start("SCOOP.DIG", depth_mm=30)
    await bench.clock.advance(0)
    stop_acks = await bench.run("SCOOP.STOP")
    final = await dig
    assert stages(stop_acks) == [Stage.ACCEPTED, Stage.STARTED, Stage.COMPLETED]
    assert stages(dig_acks) == [Stage.ACCEPTED, Stage.STARTED, Stage.FAILED]
    assert final.reason is Reason.ABORTED and final.detail == "aborted"
    assert stopped == ["stop"] and after_wait == []
    assert bench.dispatcher.active == {}
    assert bench.dispatcher.completed == 1 and bench.dispatcher.failed == 1


async def test_dispatcher_abort_all_fails_every_running_command_aborted() -> None:
    release = asyncio.Event()

    async def heat(run: Execution) -> None:
        run.started()
        await release.wait()

    bench = Bench({"SCOOP.HOME": waiting_handler(release), "ELEC.HEATER": Route(heat, "elec")})
    home, home_acks = bench.start("SCOOP.HOME")
    heater, heater_acks = bench.start("ELEC.HEATER", enabled=True, setpoint_c=20.0)
    await bench.clock.advance(0)
    assert set(bench.dispatcher.active) == {"scoop", "elec"}
    bench.dispatcher.abort_all()
    for task in (home, heater):
        final = await task
        assert (final.stage, final.reason) == (Stage.FAILED, Reason.ABORTED)
    assert Stage.COMPLETED not in stages(home_acks) + stages(heater_acks)
    assert bench.dispatcher.active == {}
    assert bench.dispatcher.failed == 2


async def test_dispatcher_cancelled_caller_takes_its_command_with_it() -> None:
    release = asyncio.Event()
    bench = Bench({"SCOOP.HOME": waiting_handler(release)})
    task, acks = bench.start("SCOOP.HOME")
    await bench.clock.advance(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert acks[-1].stage is Stage.FAILED and acks[-1].reason is Reason.ABORTED
    assert acks[-1].detail == "its caller stopped"
    assert bench.dispatcher.active == {}


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (DeviceNack("DIG", 3, "BAD_ARG", 0), Reason.DEVICE_NACK),
        (DeviceTimeout("DIG", 3, 0.2), Reason.DEVICE_TIMEOUT),
        (LinkDown("/dev/ttyUSB0"), Reason.LINK_DOWN),
    ],
)
@pytest.mark.parametrize("after_started", [False, True])
async def test_dispatcher_device_errors_map_to_reasons(
    error: Exception, reason: Reason, after_started: bool
) -> None:
    async def dig(run: Execution) -> None:
        if after_started:
            run.started()
        raise error

    bench = Bench({"SCOOP.DIG": Route(dig, "scoop")})
    acks = await bench.run("SCOOP.DIG", depth_mm=30)
    assert Stage.COMPLETED not in stages(acks)
    expected = (
        [Stage.ACCEPTED, Stage.STARTED, Stage.FAILED]
        if after_started
        else [
            Stage.ACCEPTED,
            Stage.FAILED,
        ]
    )
    assert stages(acks) == expected
    assert acks[-1].reason is reason
    assert acks[-1].detail == str(error)
    assert bench.dispatcher.failed == 1 and bench.dispatcher.completed == 0
    assert bench.dispatcher.active == {}


@pytest.mark.parametrize("error", [ProtocolError("bad frame"), RuntimeError("handler bug")])
async def test_dispatcher_any_handler_error_ends_failed(error: Exception) -> None:
    async def dig(run: Execution) -> None:
        run.started()
        raise error

    bench = Bench({"SCOOP.DIG": Route(dig, "scoop")})
    acks = await bench.run("SCOOP.DIG", depth_mm=30)
    assert stages(acks) == [Stage.ACCEPTED, Stage.STARTED, Stage.FAILED]
    assert bench.dispatcher.failed == 1


async def test_dispatcher_counters_and_command_failed_events() -> None:
    bench = Bench()
    await bench.run("CORE.NOOP")
    await bench.run("CORE.NOOP")
    await bench.run("SCOOP.DIG", depth_mm=1)
    assert (bench.dispatcher.completed, bench.dispatcher.failed) == (2, 1)
    (failed,) = bench.rec.of("COMMAND_FAILED")
    assert failed.severity is Severity.WARNING
    assert failed.args["name"] == "SCOOP.DIG" and failed.args["id"] == "c3"
    assert failed.args["reason"] == "INVALID_ARGUMENT"
    assert failed.text.startswith("SCOOP.DIG (c3) failed: INVALID_ARGUMENT: depth_mm: ")


# --- Sequencer ---------------------------------------------------------------------------


class Runner:
    """A sequencer whose commands are recorded, with the state and time of each."""

    def __init__(self, tmp_path: Path, *, fail: tuple[str, ...] = ()) -> None:
        self.rec = Recorder()
        self.clock = self.rec.clock
        self.channels = ChannelStore(clock=self.clock)
        self.state = StateStore.in_dir(tmp_path)
        self.state.load()
        self.tmp_path = tmp_path
        self.fail = fail
        self.ran: list[tuple[str, float, int | None]] = []
        self.safed: list[str] = []
        self.sequencer = Sequencer(
            run_command=self.run_command,
            make_safe=self.make_safe,
            channels=self.channels,
            events=self.rec.log,
            clock=self.clock,
            state=self.state,
        )

    async def run_command(self, command: Command) -> Ack:
        on_disk = StateStore.in_dir(self.tmp_path)
        on_disk.load()
        line = on_disk.running_sequence.line if on_disk.running_sequence else None
        self.ran.append((command.name, self.clock.monotonic(), line))
        if command.name in self.fail:
            return Ack(command.id, command.name, Stage.FAILED, self.clock.utc(), Reason.BUSY, "x")
        return Ack(command.id, command.name, Stage.COMPLETED, self.clock.utc())

    async def make_safe(self, reason: str) -> None:
        self.safed.append(reason)

    def start(self, text: str, name: str = "test") -> Sequence:
        sequence = parse_sequence(text, name=name, dictionary=DICTIONARY)
        self.sequencer.start(sequence)
        return sequence

    def names(self) -> list[str]:
        return [r[0] for r in self.ran]


async def test_sequencer_relative_tags_wait_exactly_their_delay(tmp_path: Path) -> None:
    r = Runner(tmp_path)
    r.start("R00:00:05 CORE.NOOP\nR00:00:03 CORE.TM_RATE board=elec rate_hz=5\n")
    await r.clock.advance(4.5)
    assert r.ran == []
    await r.clock.advance(0.5)
    assert r.names() == ["CORE.NOOP"]
    await r.clock.advance(2.5)
    assert r.names() == ["CORE.NOOP"]  # the next tag counts from the end of this step
    await r.clock.advance(0.5)
    assert [(n, t) for n, t, _ in r.ran] == [("CORE.NOOP", 5.0), ("CORE.TM_RATE", 8.0)]
    status = await r.sequencer.wait_done()
    assert status.outcome is Outcome.COMPLETED and status.state is SeqState.IDLE
    assert status.elapsed_s == 8.0
    assert r.rec.of("SEQ_COMPLETED")[0].args == {"name": "test", "elapsed_s": 8.0}
    assert r.safed == []


async def test_sequencer_passes_the_arguments_and_source(tmp_path: Path) -> None:
    r = Runner(tmp_path)
    commands: list[Command] = []

    async def run_command(command: Command) -> Ack:
        commands.append(command)
        return Ack(command.id, command.name, Stage.COMPLETED, r.clock.utc())

    r.sequencer._run_command = run_command
    r.start("SCOOP.DIG depth_mm=30\n", name="dig")
    await r.clock.advance(0)
    (command,) = commands
    assert (command.name, command.args, command.source) == (
        "SCOOP.DIG",
        {"depth_mm": 30.0},
        "sequence",
    )
    assert command.id.startswith("seq-dig-")


async def test_sequencer_absolute_tag_waits_until_its_utc_time(tmp_path: Path) -> None:
    r = Runner(tmp_path)  # the manual clock starts at 2026-01-01T00:00:00Z
    await r.clock.advance(10)
    r.start("A2026-01-01T00:01:00Z CORE.NOOP\n")
    await r.clock.advance(49.5)
    assert r.ran == []
    await r.clock.advance(0.5)
    assert r.names() == ["CORE.NOOP"]
    assert r.clock.utc() == datetime(2026, 1, 1, 0, 1, tzinfo=UTC)


async def test_sequencer_absolute_tag_in_the_past_runs_at_once(tmp_path: Path) -> None:
    r = Runner(tmp_path)
    await r.clock.advance(120)
    r.start("A2026-01-01T00:01:00Z CORE.NOOP\n")
    await r.clock.advance(0)
    assert [(n, t) for n, t, _ in r.ran] == [("CORE.NOOP", 120.0)]


async def test_sequencer_wait_completes_when_a_packet_makes_it_true(tmp_path: Path) -> None:
    r = Runner(tmp_path)
    r.start("WAIT scoop.state == IDLE and scoop.homed == true TIMEOUT 00:01:00\nCORE.NOOP\n")
    await r.clock.advance(10)
    r.channels.update("scoop", {"scoop.state": "DIGGING", "scoop.homed": True})
    await r.clock.advance(10)
    assert r.ran == []
    r.channels.update("scoop", {"scoop.state": "IDLE"})
    await r.clock.advance(0)
    assert [(n, t) for n, t, _ in r.ran] == [("CORE.NOOP", 20.0)]
    assert (await r.sequencer.wait_done()).outcome is Outcome.COMPLETED


async def test_sequencer_wait_already_true_goes_on_at_once(tmp_path: Path) -> None:
    r = Runner(tmp_path)
    r.channels.update("scoop", {"scoop.state": "IDLE"})
    r.start("WAIT scoop.state == IDLE TIMEOUT 00:00:10\nCORE.NOOP\n")
    await r.clock.advance(0)
    assert r.names() == ["CORE.NOOP"]


async def test_sequencer_wait_timeout_aborts_and_makes_safe(tmp_path: Path) -> None:
    r = Runner(tmp_path)
    r.start("CORE.NOOP\nWAIT elec.h2_pressure_kpa >= 150 TIMEOUT 00:00:10\nCORE.NOOP\n", "hope")
    await r.clock.advance(9.5)
    assert r.sequencer.running and r.safed == []
    await r.clock.advance(0.5)
    status = await r.sequencer.wait_done()
    assert status.outcome is Outcome.ABORTED
    assert status.line == 2
    assert status.reason == "step: WAIT elec.h2_pressure_kpa >= 150 timed out after 10 s"
    assert r.names() == ["CORE.NOOP"]
    assert r.safed == [f"sequence hope aborted: {status.reason}"]
    (aborted,) = r.rec.of("SEQ_ABORTED")
    assert aborted.args == {"name": "hope", "line": 2, "reason": status.reason, "cause": "step"}


async def test_sequencer_failed_command_aborts_at_its_line(tmp_path: Path) -> None:
    r = Runner(tmp_path, fail=("SCOOP.HOME",))
    r.start("CORE.NOOP\n# a comment line\nSCOOP.HOME\nCORE.NOOP\n", "homing")
    await r.clock.advance(0)
    status = await r.sequencer.wait_done()
    assert status.outcome is Outcome.ABORTED
    assert status.line == 3
    assert status.reason == "step: SCOOP.HOME failed: BUSY: x"
    assert r.names() == ["CORE.NOOP", "SCOOP.HOME"]
    assert len(r.safed) == 1
    assert r.rec.ids().count("SEQ_ABORTED") == 1 and "SEQ_COMPLETED" not in r.rec.ids()


async def test_sequencer_abort_mid_wait_makes_safe(tmp_path: Path) -> None:
    r = Runner(tmp_path)
    r.start("WAIT elec.h2_pressure_kpa >= 150 TIMEOUT 00:10:00\nCORE.NOOP\n", "long")
    await r.clock.advance(30)
    await r.sequencer.abort("operator abort")
    status = r.sequencer.status
    assert not r.sequencer.running
    assert (status.outcome, status.reason, status.line) == (
        Outcome.ABORTED,
        "command: operator abort",
        1,
    )
    assert r.safed == ["sequence long aborted: command: operator abort"]
    assert r.ran == []
    assert r.state.running_sequence is None
    await r.sequencer.abort("again")  # nothing running: nothing happens
    assert len(r.safed) == 1


async def test_sequencer_cancel_does_not_make_safe(tmp_path: Path) -> None:
    r = Runner(tmp_path)
    r.start("R00:01:00 CORE.NOOP\n")
    await r.clock.advance(1)
    r.sequencer.cancel("safing already")
    status = await r.sequencer.wait_done()
    assert (status.outcome, status.reason) == (Outcome.ABORTED, "safing: safing already")
    assert r.safed == []
    await r.clock.advance(120)
    assert r.ran == []


async def test_sequencer_persists_the_running_line_and_clears_it(tmp_path: Path) -> None:
    r = Runner(tmp_path)
    r.start("CORE.NOOP\n\nR00:00:01 CORE.NOOP\nWAIT scoop.state == IDLE TIMEOUT 00:01:00\n", "p")
    await r.clock.advance(0.5)
    assert r.state.running_sequence is not None
    assert (r.state.running_sequence.name, r.state.running_sequence.line) == ("p", 3)
    await r.clock.advance(0.5)
    on_disk = StateStore.in_dir(tmp_path)
    on_disk.load()
    assert on_disk.running_sequence is not None and on_disk.running_sequence.line == 4
    assert [line for _, _, line in r.ran] == [1, 3]  # on disk while each command ran
    r.channels.update("scoop", {"scoop.state": "IDLE"})
    assert (await r.sequencer.wait_done()).outcome is Outcome.COMPLETED
    assert r.state.running_sequence is None
    on_disk.load()
    assert on_disk.running_sequence is None
    assert [e.args["line"] for e in r.rec.of("SEQ_STEP")] == [1, 3, 4]


async def test_sequencer_status_shows_the_step_and_the_next(tmp_path: Path) -> None:
    r = Runner(tmp_path)
    r.start("CORE.NOOP\nR00:00:10 SCOOP.HOME\nCORE.NOOP\n", "s")
    await r.clock.advance(4)
    status = r.sequencer.status
    assert (status.state, status.line, status.step, status.steps) == (SeqState.RUNNING, 2, 2, 3)
    assert status.next_step == "CORE.NOOP"
    assert r.rec.of("SEQ_STARTED")[0].args == {"name": "s", "steps": 3}


async def test_sequencer_report_interrupted_emits_and_clears(tmp_path: Path) -> None:
    r = Runner(tmp_path)
    r.state.update(running_sequence=RunningSequence(name="cut", line=4, started_utc=r.clock.utc()))
    r.sequencer.report_interrupted()
    (interrupted,) = r.rec.of("SEQ_INTERRUPTED")
    assert interrupted.args == {"name": "cut", "line": 4}
    assert interrupted.severity is Severity.WARNING
    assert r.state.running_sequence is None
    r.sequencer.report_interrupted()
    assert len(r.rec.of("SEQ_INTERRUPTED")) == 1
    assert not r.sequencer.running


async def test_sequencer_start_while_running_raises_busy(tmp_path: Path) -> None:
    r = Runner(tmp_path)
    r.start("R00:01:00 CORE.NOOP\n", "first")
    with pytest.raises(SequencerBusy, match="sequence 'first' is running: abort it first"):
        r.start("CORE.NOOP\n", "second")
    await r.clock.advance(60)
    assert (await r.sequencer.wait_done()).outcome is Outcome.COMPLETED
    r.start("CORE.NOOP\n", "second")  # free again once it ended
    await r.clock.advance(0)
    assert (await r.sequencer.wait_done()).name == "second"


async def test_sequencer_command_that_raises_aborts_and_makes_safe(tmp_path: Path) -> None:
    r = Runner(tmp_path)

    async def run_command(command: Command) -> Ack:
        raise ProtocolError("bad frame")

    r.sequencer._run_command = run_command
    r.start("CORE.NOOP\nCORE.NOOP\n", "raising")
    await r.clock.advance(0)
    task = r.sequencer._task
    assert task is not None and task.done()
    try:
        assert r.sequencer.status.outcome is Outcome.ABORTED
        assert len(r.safed) == 1
    finally:
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it at collection
