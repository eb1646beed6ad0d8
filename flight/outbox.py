"""The durable outbox: MQTT messages that could not be published, kept in SQLite until replayed.

One SQLite database (``outbox.db`` in the state dir unless ``[outbox] path`` says otherwise) in
WAL journal mode. Messages come back from :meth:`Outbox.peek` in the order they were put (by
id, which only grows); the replayer publishes a batch and then :meth:`Outbox.remove`\\ s it.

Power loss, by ``[outbox] sync`` (quotes: https://www.sqlite.org/pragma.html#pragma_synchronous):

- ``"normal"`` (``PRAGMA synchronous=NORMAL``): "WAL mode is always consistent with
  synchronous=NORMAL, but WAL mode does lose durability. A transaction committed in WAL mode
  with synchronous=NORMAL might roll back following a power loss or system crash." and "the WAL
  file is synchronized before each checkpoint and the database file is synchronized after each
  completed checkpoint [...] but no sync operations occur during most transactions." So after a
  power cut the outbox opens consistent, holding every transaction up to some commit at or after
  the last checkpoint: puts and removes since then may be lost (a lost remove replays a message
  twice). A checkpoint runs every 1000 WAL pages: about 220 single puts of 200-byte payloads,
  4.5 s at 50 Hz.
- ``"full"`` (``PRAGMA synchronous=FULL``): "an additional sync operation of the WAL file
  happens after each transaction commit. The extra WAL sync following each transaction helps
  ensure that transactions are durable across a power loss." Every put that has returned
  survives a power cut, provided the storage honours fsync; it costs one fsync per put.

Either way "Transactions are durable across application crashes regardless of the synchronous
setting or journal mode": a killed process loses nothing that was put.

Bounds, applied inside each put's transaction: rows older than ``max_age_s`` are dropped; then,
past ``max_rows``, the oldest LOW rows (telemetry) go first, and the oldest HIGH rows (events,
acks, status) only when no LOW row is left. The new row counts, so a LOW put into a box full of
HIGH rows drops itself. Each put that drops anything calls ``on_drop(count, reason)`` once,
after its commit and outside the lock (the app raises an event, which may itself be put
here: what such a nested put drops is added to the next report instead, so a full box cannot
recurse). Counts are kept in memory, exactly.

A file that is not an outbox database (corrupt, not SQLite, another application's) never stops
the software: it is kept as ``<name>.corrupt-<n>`` (with its ``-wal``/``-shm``), the outbox
starts empty and :attr:`Outbox.warning` says so. Anything else that SQLite or the file system
refuses raises :class:`OutboxError`. Calls are serialised by a lock, so the connection
(opened with ``check_same_thread=False``) may also be used from an executor thread.
"""

from __future__ import annotations

import enum
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

from flight.state import corrupt_copy_name

APPLICATION_ID = 0x49535255  # "ISRU", in the database header: the file is one of ours
SCHEMA = 1
_SCHEMA_SQL = """
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload BLOB NOT NULL,
    priority INTEGER NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL, created REAL NOT NULL
);
CREATE INDEX outbox_priority ON outbox (priority, id);
CREATE INDEX outbox_created ON outbox (created);
"""
_COLUMNS = "id, topic, payload, priority, qos, retain, created"
_INSERT = f"INSERT INTO outbox ({_COLUMNS.removeprefix('id, ')}) VALUES (?, ?, ?, ?, ?, ?)"
_CORRUPT = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
#: Ids per DELETE statement in remove(): well under SQLite's limit of bound parameters.
_REMOVE_CHUNK = 500


class OutboxError(Exception):
    """The outbox database cannot be opened, read or written."""


class Priority(enum.IntEnum):
    """Which rows a full outbox gives up first: LOW ones."""

    LOW = 0  # telemetry
    HIGH = 1  # events, command acks, status


_PRIORITIES = tuple(Priority)
_WHAT = {Priority.LOW: "telemetry", Priority.HIGH: "events and acks"}


@dataclass(frozen=True, slots=True)
class Row:
    """One stored message; ``created`` is when it was put, by the outbox's ``now`` clock."""

    id: int
    topic: str
    payload: bytes
    priority: Priority
    qos: int
    retain: bool
    created: float


class _NotOurs(Exception):
    """The file is a SQLite database, but not an outbox of this schema."""


class Outbox:
    """The outbox database at ``path``, open until :meth:`close` (or the ``with`` block ends)."""

    def __init__(
        self,
        path: Path,
        *,
        max_rows: int = 1_000_000,
        max_age_s: float = 7 * 86400,
        sync: Literal["normal", "full"] = "normal",
        now: Callable[[], float] = time.time,
        on_drop: Callable[[int, str], None] = lambda n, why: None,
    ) -> None:
        if not str(path) or Path(path).name in ("", ".", ".."):
            raise ValueError(f"path: must name a file, got {str(path)!r}")
        if max_rows < 1:
            raise ValueError(f"max_rows: must be 1 or more, got {max_rows}")
        if not (max_age_s > 0 and math.isfinite(max_age_s)):
            raise ValueError(f"max_age_s: must be a positive number of seconds, got {max_age_s}")
        if sync not in ("normal", "full"):
            raise ValueError(f"sync: must be 'normal' or 'full', got {sync!r}")
        self.path = Path(path)
        self.max_rows, self.max_age_s, self.sync = max_rows, float(max_age_s), sync
        self._now, self._on_drop = now, on_drop
        self._lock = threading.Lock()
        self._reporting, self._unreported = False, 0
        #: Set when the file at ``path`` was not a usable outbox and was moved aside.
        self.warning: str | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutboxError(f"{self.path.parent}: cannot create: {exc.strerror or exc}") from exc
        self._db: sqlite3.Connection | None = None
        self._counts = dict.fromkeys(Priority, 0)
        self._oldest = math.inf  # a lower bound of the oldest row's ``created``
        try:
            self._open()
        except (sqlite3.DatabaseError, _NotOurs) as exc:
            if isinstance(exc, sqlite3.DatabaseError) and not _is_corrupt(exc):
                raise OutboxError(f"{self.path}: cannot open: {exc}") from exc
            kept = self._keep_corrupt()
            self.warning = f"{self.path} was not a usable outbox ({exc}); kept as {kept.name}"
            try:
                self._open()
            except sqlite3.Error as again:
                raise OutboxError(f"{self.path}: cannot open: {again}") from again

    def _open(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise OutboxError(f"{self.path}: SQLite refused WAL journal mode ({mode})")
            db.execute(f"PRAGMA synchronous={self.sync.upper()}")
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if app_id == 0 and not db.execute("SELECT 1 FROM sqlite_master").fetchone():
                db.execute("BEGIN IMMEDIATE")
                for statement in _SCHEMA_SQL.split(";")[:-1]:
                    db.execute(statement)
                db.execute(f"PRAGMA application_id={APPLICATION_ID}")
                db.execute(f"PRAGMA user_version={SCHEMA}")
                db.execute("COMMIT")
            elif (app_id, version) != (APPLICATION_ID, SCHEMA):
                raise _NotOurs(f"application id {app_id:#x}, schema {version}")
            counted = db.execute("SELECT priority, COUNT(*) FROM outbox GROUP BY priority")
            counts = dict.fromkeys(Priority, 0) | {_PRIORITIES[p]: n for p, n in counted}
            oldest = db.execute("SELECT MIN(created) FROM outbox").fetchone()[0]
        except BaseException:
            db.close()
            raise
        self._db, self._counts = db, counts
        self._oldest = math.inf if oldest is None else oldest

    def _keep_corrupt(self) -> Path:
        kept = corrupt_copy_name(self.path)
        try:
            os.replace(self.path, kept)
            for suffix in ("-wal", "-shm"):  # a stale WAL must not be applied to the new file
                side = self.path.with_name(self.path.name + suffix)
                if side.exists():
                    os.replace(side, kept.with_name(kept.name + suffix))
        except OSError as exc:
            raise OutboxError(f"{self.path}: unusable and cannot be moved aside: {exc}") from exc
        return kept

    # --- lifecycle ------------------------------------------------------------------

    def close(self) -> None:
        """Close the database (the last close checkpoints the WAL); closing twice is harmless."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> Outbox:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- writing --------------------------------------------------------------------

    def put(
        self, topic: str, payload: bytes, *, priority: Priority, qos: int = 1, retain: bool = False
    ) -> int:
        """Store one message in one transaction and return its id."""
        row = _checked(topic, payload, priority, qos, retain)
        with self._lock:
            last, dropped = self._insert([row])
        if dropped:  # outside the lock: on_drop may put its event into this outbox
            self._report(*dropped)
        return last

    def put_many(self, items: Iterable[tuple[str, bytes, Priority]]) -> int:
        """Store messages (qos 1, not retained) in one transaction; return how many."""
        rows = [_checked(topic, payload, priority, 1, False) for topic, payload, priority in items]
        if not rows:
            return 0
        with self._lock:
            _, dropped = self._insert(rows)
        if dropped:
            self._report(*dropped)
        return len(rows)

    def _report(self, count: int, why: str) -> None:
        """Call on_drop; drops by puts that on_drop itself makes go with the next report."""
        if self._reporting:
            self._unreported += count
            return
        if self._unreported:
            count, why = count + self._unreported, f"{why}; {self._unreported} more before"
            self._unreported = 0
        self._reporting = True
        try:
            self._on_drop(count, why)
        finally:
            self._reporting = False

    def _insert(
        self, rows: list[tuple[str, bytes, int, int, int]]
    ) -> tuple[int, tuple[int, str] | None]:
        """Store ``rows`` within the bounds: (the last id, what was dropped for on_drop)."""
        db = self._open_db()
        now = self._now()
        cutoff = now - self.max_age_s
        over = len(self) + len(rows) - self.max_rows
        if len(rows) == 1 and over <= 0 and self._oldest >= cutoff:
            # The common case: nothing to drop, one INSERT in autocommit is its own transaction.
            with _errors(self.path):
                last = db.execute(_INSERT, (*rows[0], now)).lastrowid
            self._counts[_PRIORITIES[rows[0][2]]] += 1
            self._oldest = min(self._oldest, now)
            return last or 0, None
        aged = dict.fromkeys(Priority, 0)
        full = dict.fromkeys(Priority, 0)
        with self._transaction(db):
            if self._oldest < cutoff:
                for p in Priority:
                    sql = "DELETE FROM outbox WHERE created < ? AND priority = ?"
                    aged[p] = db.execute(sql, (cutoff, p)).rowcount
                oldest = db.execute("SELECT MIN(created) FROM outbox").fetchone()[0]
            else:
                oldest = self._oldest
            db.executemany(_INSERT, [(*row, now) for row in rows])
            last = db.execute("SELECT last_insert_rowid()").fetchone()[0]
            counts = {p: self._counts[p] - aged[p] for p in Priority}
            for row in rows:
                counts[_PRIORITIES[row[2]]] += 1
            over = sum(counts.values()) - self.max_rows
            for p in Priority:  # LOW first, HIGH only when no LOW row is left
                if over > 0 and counts[p]:
                    sql = "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE priority = ?"
                    full[p] = db.execute(f"{sql} ORDER BY id LIMIT ?)", (p, over)).rowcount
                    counts[p] -= full[p]
                    over -= full[p]
        self._counts = counts
        self._oldest = math.inf if oldest is None else min(oldest, now)
        reasons = [f"{n} oldest {_WHAT[p]}" for p, n in full.items() if n]
        why = [f"full: dropped {', '.join(reasons)}"] if reasons else []
        if sum(aged.values()):
            why.insert(0, f"aged out: {sum(aged.values())} older than {self.max_age_s:g} s")
        dropped = sum(aged.values()) + sum(full.values())
        return int(last), (dropped, "; ".join(why)) if why else None

    def remove(self, ids: Iterable[int]) -> None:
        """Delete these rows (ids not in the box are ignored) in one transaction."""
        unique = sorted({int(i) for i in ids})
        if not unique:
            return
        removed = dict.fromkeys(Priority, 0)
        with self._lock:
            db = self._open_db()
            with self._transaction(db):
                for start in range(0, len(unique), _REMOVE_CHUNK):
                    chunk = unique[start : start + _REMOVE_CHUNK]
                    marks = ",".join("?" * len(chunk))
                    sql = f"DELETE FROM outbox WHERE id IN ({marks}) RETURNING priority"
                    for (priority,) in db.execute(sql, chunk):
                        removed[_PRIORITIES[priority]] += 1
            for p in Priority:
                self._counts[p] -= removed[p]

    # --- reading --------------------------------------------------------------------

    def peek(self, limit: int, *, after_id: int = 0) -> list[Row]:
        """Up to ``limit`` rows with ids above ``after_id``, oldest first; nothing is removed."""
        if limit < 1:
            raise ValueError(f"limit: must be 1 or more, got {limit}")
        if after_id < 0:
            raise ValueError(f"after_id: must be 0 or more, got {after_id}")
        sql = f"SELECT {_COLUMNS} FROM outbox WHERE id > ? ORDER BY id LIMIT ?"
        with self._lock, _errors(self.path):
            found = self._open_db().execute(sql, (after_id, limit)).fetchall()
        return [Row(i, t, p, _PRIORITIES[pr], q, bool(r), c) for i, t, p, pr, q, r, c in found]

    def __len__(self) -> int:
        return self._counts[Priority.LOW] + self._counts[Priority.HIGH]

    def counts(self) -> dict[Priority, int]:
        """How many rows of each priority are waiting."""
        return dict(self._counts)

    # --- helpers --------------------------------------------------------------------

    def _open_db(self) -> sqlite3.Connection:
        if self._db is None:
            raise OutboxError(f"{self.path}: the outbox is closed")
        return self._db

    @contextmanager
    def _transaction(self, db: sqlite3.Connection) -> Iterator[None]:
        with _errors(self.path):
            db.execute("BEGIN IMMEDIATE")
            try:
                yield
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # SQLite may have rolled back already
                    db.execute("ROLLBACK")
                raise


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    return type(exc) is sqlite3.DatabaseError and exc.sqlite_errorcode & 0xFF in _CORRUPT


@contextmanager
def _errors(path: Path) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise OutboxError(f"{path}: {exc}") from exc


def _checked(
    topic: str, payload: bytes, priority: Priority, qos: int, retain: bool
) -> tuple[str, bytes, int, int, int]:
    if not isinstance(topic, str) or not topic:
        raise ValueError(f"topic: must be a non-empty string, got {topic!r}")
    if "+" in topic or "#" in topic:
        raise ValueError(f"topic: wildcards + and # cannot be published to, got {topic!r}")
    if not isinstance(payload, bytes):
        raise TypeError(f"payload: must be bytes, got {type(payload).__name__}")
    if isinstance(priority, bool) or priority not in _PRIORITIES:
        raise ValueError(f"priority: must be a Priority, got {priority!r}")
    if isinstance(qos, bool) or not isinstance(qos, int) or not 0 <= qos <= 2:
        raise ValueError(f"qos: must be 0, 1 or 2, got {qos!r}")
    return topic, payload, int(priority), qos, int(bool(retain))
