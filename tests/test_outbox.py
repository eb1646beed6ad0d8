"""flight.mqtt.outbox: order, size and age bounds, WAL and sync pragmas, corrupt files, counts."""

from __future__ import annotations

import sqlite3
import tempfile
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flight.mqtt.outbox import APPLICATION_ID, Outbox, OutboxError, Priority, Row

LOW, HIGH = Priority.LOW, Priority.HIGH
DAY = 86400.0


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Drops(list[tuple[int, str]]):
    def __call__(self, count: int, reason: str) -> None:
        self.append((count, reason))


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox.db") as opened:
        yield opened


def payloads(rows: list[Row]) -> list[bytes]:
    return [row.payload for row in rows]


def db_counts(box: Outbox) -> dict[Priority, int]:
    """What is really in the file, counted by SQLite (the box itself never counts)."""
    assert box._db is not None
    found = box._db.execute("SELECT priority, COUNT(*) FROM outbox GROUP BY priority")
    return {LOW: 0, HIGH: 0} | {Priority(p): n for p, n in found}


# --- order ----------------------------------------------------------------------------------


def test_outbox_order_preserved_across_put_peek_remove(box: Outbox) -> None:
    for i in range(10):
        box.put(f"isru/v/tm/p{i % 3}", b"%d" % i, priority=HIGH if i % 4 == 0 else LOW)
    first = box.peek(4)
    assert payloads(first) == [b"0", b"1", b"2", b"3"]
    assert [row.id for row in first] == sorted(row.id for row in first)
    box.remove(row.id for row in first)
    assert payloads(box.peek(100)) == [b"%d" % i for i in range(4, 10)]
    box.put("isru/v/evr", b"10", priority=HIGH)
    assert payloads(box.peek(100))[-1] == b"10"
    assert len(box) == 7


def test_outbox_peek_after_id_pages_without_removing(box: Outbox) -> None:
    ids = [box.put("t", b"%d" % i, priority=LOW) for i in range(7)]
    page = box.peek(3, after_id=ids[2])
    assert [row.id for row in page] == ids[3:6]
    assert box.peek(3, after_id=ids[-1]) == []
    assert len(box) == 7


def test_outbox_row_keeps_every_field(tmp_path: Path) -> None:
    clock = FakeClock(123.5)
    with Outbox(tmp_path / "o.db", now=clock) as box:
        row_id = box.put("isru/v/status", b"\x00\xffon", priority=HIGH, qos=2, retain=True)
        assert box.peek(1) == [Row(row_id, "isru/v/status", b"\x00\xffon", HIGH, 2, True, 123.5)]
        assert box.put_many([("a", b"1", LOW), ("b", b"2", HIGH)]) == 2
        assert [(r.topic, r.priority, r.qos, r.retain) for r in box.peek(9)[1:]] == [
            ("a", LOW, 1, False),
            ("b", HIGH, 1, False),
        ]
        assert box.put_many([]) == 0


def test_outbox_order_and_counts_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    with Outbox(path) as box:
        box.put_many([("t", b"%d" % i, LOW if i % 2 else HIGH) for i in range(6)])
        box.remove([box.peek(1)[0].id])
        last = box.put("t", b"6", priority=LOW)
    with Outbox(path) as again:
        assert again.warning is None
        assert payloads(again.peek(100)) == [b"%d" % i for i in range(1, 7)]
        assert again.counts() == {LOW: 4, HIGH: 2} == db_counts(again)
        again.remove(row.id for row in again.peek(100))
        assert again.put("t", b"7", priority=LOW) > last  # ids never go back, even when empty


def test_outbox_remove_ignores_unknown_and_repeated_ids(box: Outbox) -> None:
    ids = [box.put("t", b"x", priority=p) for p in (LOW, HIGH, LOW)]
    box.remove([ids[0], ids[0], ids[1], 999, -1])
    box.remove([])
    assert box.counts() == {LOW: 1, HIGH: 0} == db_counts(box)
    assert [row.id for row in box.peek(9)] == [ids[2]]


def test_outbox_remove_of_more_ids_than_one_statement_takes_keeps_exact_counts(
    box: Outbox,
) -> None:
    assert box.put_many(("t", b"%d" % i, HIGH if i % 7 == 0 else LOW) for i in range(2345)) == 2345
    rows = box.peek(3000)
    kept = {row.id for row in rows[::10]}  # every tenth stays
    box.remove([*(row.id for row in rows if row.id not in kept), 10**9, rows[1].id])
    assert box.counts() == db_counts(box)
    assert len(box) == len(kept)
    assert {row.id for row in box.peek(3000)} == kept


def test_outbox_replays_100k_rows_in_order(box: Outbox) -> None:
    # The bench's replay loop, checked for correctness only (bench/outbox.py times it).
    total = 100_000
    for start in range(0, total, 5000):
        box.put_many(("t", b"%d" % i, LOW) for i in range(start, start + 5000))
    expected, after = 0, 0
    while rows := box.peek(500, after_id=after):
        assert payloads(rows) == [b"%d" % i for i in range(expected, expected + len(rows))]
        expected += len(rows)
        after = rows[-1].id
        box.remove(row.id for row in rows)
    assert expected == total
    assert len(box) == 0 == sum(db_counts(box).values())


# --- bounds ---------------------------------------------------------------------------------


def test_outbox_full_drops_oldest_low_first_then_high(tmp_path: Path) -> None:
    drops = Drops()
    with Outbox(tmp_path / "o.db", max_rows=4, on_drop=drops) as box:
        box.put("e", b"h1", priority=HIGH)
        box.put("t", b"l1", priority=LOW)
        box.put("e", b"h2", priority=HIGH)
        box.put("t", b"l2", priority=LOW)
        assert drops == []
        box.put("e", b"h3", priority=HIGH)
        assert payloads(box.peek(9)) == [b"h1", b"h2", b"l2", b"h3"]
        assert drops == [(1, "full: dropped 1 oldest telemetry")]
        box.put_many([("e", b"h4", HIGH), ("e", b"h5", HIGH)])
        assert payloads(box.peek(9)) == [b"h2", b"h3", b"h4", b"h5"]
        assert drops[-1] == (2, "full: dropped 1 oldest telemetry, 1 oldest events and acks")
        assert box.counts() == {LOW: 0, HIGH: 4} == db_counts(box)


def test_outbox_full_of_high_drops_a_new_low_row_itself(tmp_path: Path) -> None:
    drops = Drops()
    with Outbox(tmp_path / "o.db", max_rows=2, on_drop=drops) as box:
        box.put_many([("e", b"h1", HIGH), ("e", b"h2", HIGH)])
        box.put("t", b"l1", priority=LOW)
        assert payloads(box.peek(9)) == [b"h1", b"h2"]
        assert drops == [(1, "full: dropped 1 oldest telemetry")]


def test_outbox_put_many_larger_than_the_bound_keeps_the_newest(tmp_path: Path) -> None:
    drops = Drops()
    with Outbox(tmp_path / "o.db", max_rows=3, on_drop=drops) as box:
        box.put_many([("t", b"%d" % i, LOW) for i in range(10)])
        assert payloads(box.peek(9)) == [b"7", b"8", b"9"]
        assert drops == [(7, "full: dropped 7 oldest telemetry")]
        assert len(box) == 3


def test_outbox_age_bound_drops_old_rows_on_put(tmp_path: Path) -> None:
    clock, drops = FakeClock(), Drops()
    with Outbox(tmp_path / "o.db", max_age_s=7 * DAY, now=clock, on_drop=drops) as box:
        box.put("t", b"old", priority=LOW)
        box.put("e", b"old", priority=HIGH)
        clock.now += 3 * DAY
        box.put("t", b"mid", priority=LOW)
        clock.now += 4 * DAY  # the first two are now exactly 7 days old: kept
        box.put("t", b"edge", priority=LOW)
        assert drops == [] and len(box) == 4
        clock.now += 1
        box.put("t", b"new", priority=LOW)
        assert payloads(box.peek(9)) == [b"mid", b"edge", b"new"]
        assert drops == [(2, "aged out: 2 older than 604800 s")]
        assert box.counts() == {LOW: 3, HIGH: 0} == db_counts(box)


def test_outbox_age_and_size_drops_are_one_on_drop_call(tmp_path: Path) -> None:
    clock, drops = FakeClock(), Drops()
    with Outbox(tmp_path / "o.db", max_rows=2, max_age_s=10, now=clock, on_drop=drops) as box:
        box.put("t", b"a", priority=LOW)
        clock.now += 5
        box.put("t", b"b", priority=LOW)
        clock.now += 6  # a is 11 s old, b 6 s
        box.put_many([("t", b"c", LOW), ("t", b"d", LOW)])
        assert payloads(box.peek(9)) == [b"c", b"d"]
        assert drops == [(2, "aged out: 1 older than 10 s; full: dropped 1 oldest telemetry")]


def test_outbox_age_bound_holds_after_a_size_drop(tmp_path: Path) -> None:
    clock, drops = FakeClock(0.0), Drops()
    with Outbox(tmp_path / "o.db", max_rows=2, max_age_s=10, now=clock, on_drop=drops) as box:
        for at, payload in ((0, b"a"), (5, b"b"), (8, b"c")):
            clock.now = at
            box.put("t", payload, priority=LOW)
        clock.now = 16  # b (at 5) is 11 s old; c (at 8) is not
        box.put("t", b"d", priority=LOW)
        assert payloads(box.peek(9)) == [b"c", b"d"]
        assert drops[-1] == (1, "aged out: 1 older than 10 s")


def test_outbox_aged_rows_stay_until_a_put(tmp_path: Path) -> None:
    clock = FakeClock()
    with Outbox(tmp_path / "o.db", max_age_s=10, now=clock) as box:
        box.put("t", b"a", priority=LOW)
        clock.now += 100
        assert payloads(box.peek(9)) == [b"a"]  # reading never drops: the replayer sends it


def test_outbox_on_drop_failure_leaves_the_put_and_counts_intact(tmp_path: Path) -> None:
    def boom(count: int, reason: str) -> None:
        raise RuntimeError("event queue gone")

    with Outbox(tmp_path / "o.db", max_rows=1, on_drop=boom) as box:
        box.put("t", b"a", priority=LOW)
        with pytest.raises(RuntimeError, match="event queue gone"):
            box.put("t", b"b", priority=LOW)
        assert payloads(box.peek(9)) == [b"b"]
        assert box.counts() == {LOW: 1, HIGH: 0} == db_counts(box)


def test_outbox_on_drop_may_put_its_event_into_the_same_box(tmp_path: Path) -> None:
    # The app turns a drop into an event, which goes to the outbox while the broker is away.
    # Each event put into a full box drops a row of its own: that drop is not reported at once
    # (it would recurse for ever) but added to the next report.
    box, drops = Outbox(tmp_path / "o.db", max_rows=3), Drops()

    def event(count: int, why: str) -> None:
        drops(count, why)
        box.put("isru/v/evr", why.encode(), priority=HIGH)

    box._on_drop = event
    with box:
        box.put_many([("t", b"%d" % i, LOW) for i in range(3)])
        box.put("t", b"3", priority=LOW)
        assert payloads(box.peek(9)) == [b"2", b"3", b"full: dropped 1 oldest telemetry"]
        assert drops == [(1, "full: dropped 1 oldest telemetry")]
        box.put("t", b"4", priority=LOW)
        assert drops[-1] == (2, "full: dropped 1 oldest telemetry; 1 more before")
        assert [row.priority for row in box.peek(9)] == [HIGH, LOW, HIGH]
        assert box.counts() == {LOW: 1, HIGH: 2} == db_counts(box)


# --- SQLite settings ------------------------------------------------------------------------


def test_outbox_wal_mode_is_on(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    with Outbox(path) as box:
        box.put("t", b"a", priority=LOW)
        assert box._db is not None
        assert box._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    other = sqlite3.connect(path)  # WAL is a property of the file, seen by any connection
    try:
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert other.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)
    finally:
        other.close()


@pytest.mark.parametrize(("sync", "level"), [("normal", 1), ("full", 2)])
def test_outbox_synchronous_follows_sync(tmp_path: Path, sync: str, level: int) -> None:
    with Outbox(tmp_path / "o.db", sync=sync) as box:  # type: ignore[arg-type]
        assert box._db is not None
        assert box._db.execute("PRAGMA synchronous").fetchone() == (level,)


def test_outbox_usable_from_another_thread(box: Outbox) -> None:
    # check_same_thread=False: an executor thread (asyncio.to_thread) may call it.
    threads = [
        threading.Thread(target=lambda: [box.put("t", b"x", priority=LOW) for _ in range(200)])
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(box) == 800 == sum(db_counts(box).values())


# --- files ----------------------------------------------------------------------------------


def test_outbox_missing_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "var" / "lib" / "outbox.db"
    with Outbox(path) as box:
        box.put("t", b"a", priority=LOW)
    assert path.is_file()


def test_outbox_not_sqlite_file_is_kept_aside_and_box_starts_empty(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    path.write_bytes(b"this is not a database\n" * 200)
    (tmp_path / "outbox.db.corrupt-1").write_bytes(b"an earlier one")
    with Outbox(path) as box:
        assert box.warning is not None
        assert "not a database" in box.warning and "outbox.db.corrupt-2" in box.warning
        assert len(box) == 0
        box.put("t", b"a", priority=LOW)
        assert len(box.peek(9)) == 1
    assert (tmp_path / "outbox.db.corrupt-2").read_bytes().startswith(b"this is not")
    assert (tmp_path / "outbox.db.corrupt-1").read_bytes() == b"an earlier one"


def test_outbox_damaged_database_is_kept_aside(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    with Outbox(path) as box:
        box.put_many(("t", b"x" * 200, LOW) for _ in range(2000))
    data = bytearray(path.read_bytes())
    data[4096:] = b"\x5a" * (len(data) - 4096)  # the header survives, every page after it not
    path.write_bytes(bytes(data))
    with Outbox(path) as box:
        assert box.warning is not None and "corrupt-1" in box.warning
        assert len(box) == 0
        box.put("t", b"a", priority=LOW)


def test_outbox_another_applications_database_is_kept_aside(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE outbox (x)")
    other.commit()
    other.close()
    with Outbox(path) as box:
        assert box.warning is not None and "application id 0x0" in box.warning
        box.put("t", b"a", priority=LOW)
    assert (tmp_path / "outbox.db.corrupt-1").is_file()


def test_outbox_directory_at_path_is_outbox_error(tmp_path: Path) -> None:
    (tmp_path / "outbox.db").mkdir()
    with pytest.raises(OutboxError, match=r"outbox\.db: cannot open"):
        Outbox(tmp_path / "outbox.db")


def test_outbox_closed_box_is_outbox_error(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.close()
    box.close()
    with pytest.raises(OutboxError, match="closed"):
        box.put("t", b"a", priority=LOW)
    with pytest.raises(OutboxError, match="closed"):
        box.peek(1)


# --- input checks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_rows": 0}, r"max_rows: must be 1 or more, got 0"),
        ({"max_age_s": 0}, r"max_age_s: must be a positive"),
        ({"max_age_s": float("nan")}, r"max_age_s: must be a positive"),
        ({"sync": "off"}, r"sync: must be 'normal' or 'full', got 'off'"),
    ],
)
def test_outbox_bad_settings_name_the_parameter(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Outbox(tmp_path / "o.db", **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "o.db").exists()  # checked before anything is opened


def test_outbox_bad_path_names_the_parameter() -> None:
    with pytest.raises(ValueError, match=r"path: must name a file"):
        Outbox(Path("."))


@pytest.mark.parametrize(
    ("topic", "payload", "priority", "qos", "message"),
    [
        ("", b"x", LOW, 1, r"topic: must be a non-empty string"),
        ("isru/+/tm", b"x", LOW, 1, r"topic: wildcards"),
        ("t", "text", LOW, 1, r"payload: must be bytes, got str"),
        ("t", b"x", 7, 1, r"priority: must be a Priority, got 7"),
        ("t", b"x", LOW, 3, r"qos: must be 0, 1 or 2, got 3"),
        ("t", b"x", LOW, -1, r"qos: must be 0, 1 or 2, got -1"),
    ],
)
def test_outbox_bad_message_names_the_parameter(
    box: Outbox, topic: str, payload: bytes, priority: Priority, qos: int, message: str
) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        box.put(topic, payload, priority=priority, qos=qos)
    assert len(box) == 0


def test_outbox_put_many_with_one_bad_item_stores_none(box: Outbox) -> None:
    with pytest.raises(ValueError, match=r"topic: must be a non-empty string"):
        box.put_many([("ok", b"x", LOW), ("", b"x", LOW)])
    assert len(box) == 0 == sum(db_counts(box).values())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"limit": 0}, r"limit: must be 1 or more"), ({"limit": 1, "after_id": -1}, r"after_id")],
)
def test_outbox_bad_peek_names_the_parameter(
    box: Outbox, kwargs: dict[str, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        box.peek(**kwargs)


# --- exact counts against a model ------------------------------------------------------------

MAX_ROWS, MAX_AGE = 8, 100.0

ops = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.sampled_from(Priority)),
        st.tuples(st.just("put_many"), st.lists(st.sampled_from(Priority), max_size=10)),
        st.tuples(st.just("remove_head"), st.integers(0, 6)),
        st.tuples(st.just("remove_ids"), st.lists(st.integers(0, 60), max_size=6)),
        st.tuples(st.just("tick"), st.integers(0, 60)),
        st.tuples(st.just("reopen"), st.none()),
    ),
    max_size=40,
)


@dataclass
class Model:
    """The outbox's rules over a deque: (id, payload, priority, created), oldest first."""

    rows: deque[tuple[int, bytes, Priority, float]] = field(default_factory=deque)
    next_id: int = 1
    dropped: int = 0

    def put(self, priorities: list[Priority], now: float) -> None:
        kept = [row for row in self.rows if row[3] >= now - MAX_AGE]
        self.dropped += len(self.rows) - len(kept)
        for priority in priorities:
            kept.append((self.next_id, b"%d" % self.next_id, priority, now))
            self.next_id += 1
        for priority in Priority:  # LOW first
            over = len(kept) - MAX_ROWS
            oldest = [row for row in kept if row[2] == priority][: max(over, 0)]
            kept = [row for row in kept if row not in oldest]
            self.dropped += len(oldest)
        self.rows = deque(kept)

    def remove(self, ids: list[int]) -> None:
        self.rows = deque(row for row in self.rows if row[0] not in ids)


@settings(max_examples=150, deadline=None)
@given(ops)
def test_outbox_interleaved_ops_keep_exact_counts(operations: list[tuple[str, object]]) -> None:
    clock, drops, model = FakeClock(0.0), Drops(), Model()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "o.db"

        def open_box() -> Outbox:
            return Outbox(path, max_rows=MAX_ROWS, max_age_s=MAX_AGE, now=clock, on_drop=drops)

        box = open_box()
        try:
            for op, arg in operations:
                if op == "put":
                    assert isinstance(arg, Priority)
                    got = box.put("t", b"%d" % model.next_id, priority=arg)
                    assert got == model.next_id
                    model.put([arg], clock.now)
                elif op == "put_many":
                    assert isinstance(arg, list)
                    items = [("t", b"%d" % (model.next_id + i), p) for i, p in enumerate(arg)]
                    assert box.put_many(items) == len(arg)
                    if arg:  # storing nothing is no write at all: nothing ages out either
                        model.put(arg, clock.now)
                elif op == "remove_head":
                    assert isinstance(arg, int)
                    head = [row.id for row in box.peek(arg)] if arg else []
                    box.remove(head)
                    model.remove(head)
                elif op == "remove_ids":
                    assert isinstance(arg, list)
                    box.remove(arg)
                    model.remove(arg)
                elif op == "tick":
                    assert isinstance(arg, int)
                    clock.now += arg
                else:
                    box.close()
                    box = open_box()
                expected = {p: sum(row[2] == p for row in model.rows) for p in Priority}
                assert box.counts() == expected == db_counts(box)
                assert len(box) == len(model.rows)
                rows = box.peek(MAX_ROWS + 10)
                assert [(r.id, r.payload, r.priority, r.created) for r in rows] == list(model.rows)
                assert sum(count for count, _ in drops) == model.dropped
        finally:
            box.close()
