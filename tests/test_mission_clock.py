"""flight.clock: mission time that goes on across restarts instead of stepping back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flight.clock import ScaledClock, SystemClock, continued_utc, mission_clock

T0 = datetime(2026, 1, 1, tzinfo=UTC)
times = st.integers(min_value=-(10**7), max_value=10**7).map(lambda s: T0 + timedelta(seconds=s))
scales = st.floats(min_value=0.01, max_value=1000, allow_nan=False)


@pytest.mark.req("FLT-16")
@given(utc=times, wall=times, now=times, scale=scales)
def test_mission_clock_continued_utc_never_goes_back(
    utc: datetime, wall: datetime, now: datetime, scale: float
) -> None:
    resumed = continued_utc(utc=utc, wall_utc=wall, scale=scale, now=now)
    # Never before what the last clock read, nor before the system clock.
    assert resumed >= utc and resumed >= now
    # Never before where the last clock would stand had it run all along.
    if now >= wall:
        assert resumed >= utc + (now - wall) * scale - timedelta(microseconds=1)


def test_mission_clock_continued_utc_far_ahead_loses_no_microsecond() -> None:
    # Found by the property above in a stressed suite: 20 million seconds at 859 times as
    # fast were 2 µs short when computed in float seconds.
    utc, wall, now = T0, T0 - timedelta(seconds=9_999_998), T0 + timedelta(seconds=10**7)
    scale = 859.0679799845778
    resumed = continued_utc(utc=utc, wall_utc=wall, scale=scale, now=now)
    assert resumed == utc + (now - wall) * scale


def test_mission_clock_continued_utc_goes_on_as_if_it_had_run_all_along() -> None:
    resumed = continued_utc(
        utc=T0 + timedelta(hours=5), wall_utc=T0, scale=50, now=T0 + timedelta(seconds=10)
    )
    assert resumed == T0 + timedelta(hours=5, seconds=500)


@pytest.mark.req("FLT-16")
def test_mission_clock_at_scale_goes_on_from_the_last_run() -> None:
    last = (T0 + timedelta(hours=5), T0, 50.0)
    now = T0 + timedelta(seconds=10)
    clock = mission_clock(20, last=last, now=now)
    assert isinstance(clock, ScaledClock) and clock.scale == 20
    expected = T0 + timedelta(hours=5, seconds=500)
    assert abs(clock.utc() - expected) < timedelta(seconds=1)


def test_mission_clock_at_real_speed_is_the_system_clock() -> None:
    assert isinstance(mission_clock(1, last=(T0 + timedelta(days=9), T0, 50.0)), SystemClock)
    first = mission_clock(10)
    assert isinstance(first, ScaledClock)
    assert abs(first.utc() - datetime.now(UTC)) < timedelta(seconds=1)


def test_mission_clock_scaled_clock_refuses_a_naive_start() -> None:
    with pytest.raises(ValueError, match="start_utc: must be timezone-aware"):
        ScaledClock(scale=2, start_utc=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="scale: must be positive"):
        mission_clock(0)
