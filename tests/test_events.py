"""The event log: templates, numbering, history, subscribers and waits on mission time."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import pytest

from flight.events import EventLog
from interface.catalog import DICTIONARY
from interface.dictionary import Severity
from tests.recorder import Recorder


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


@pytest.mark.req("FLT-13")
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
