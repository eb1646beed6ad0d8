"""The limit monitor: persistence, levels, enable/disable, against a reference model."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flight.limits import Level, LimitMonitor
from interface.catalog import DICTIONARY
from interface.dictionary import Limits, SafingResponse, Severity
from tests.recorder import Recorder

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


@pytest.mark.req("FLT-09")
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


@pytest.mark.req("FLT-09")
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


@pytest.mark.req("FLT-09")
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


@pytest.mark.req("FLT-09")
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
