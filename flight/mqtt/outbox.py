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

import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Literal

from flight.mqtt.outbox_db import (
    APPLICATION_ID,
    COLUMNS,
    INSERT,
    PRIORITIES,
    REMOVE_CHUNK,
    WHAT,
    NotOurs,
    OutboxError,
    Priority,
    Row,
    checked,
    errors,
    is_corrupt,
    keep_corrupt,
    open_database,
    transaction,
)

__all__ = ["APPLICATION_ID", "Outbox", "OutboxError", "Priority", "Row"]


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
            self._db, self._counts, self._oldest = open_database(self.path, sync)
        except (sqlite3.DatabaseError, NotOurs) as exc:
            if isinstance(exc, sqlite3.DatabaseError) and not is_corrupt(exc):
                raise OutboxError(f"{self.path}: cannot open: {exc}") from exc
            kept = keep_corrupt(self.path)
            self.warning = f"{self.path} was not a usable outbox ({exc}); kept as {kept.name}"
            try:
                self._db, self._counts, self._oldest = open_database(self.path, sync)
            except sqlite3.Error as again:
                raise OutboxError(f"{self.path}: cannot open: {again}") from again

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
        row = checked(topic, payload, priority, qos, retain)
        with self._lock:
            last, dropped = self._insert([row])
        if dropped:  # outside the lock: on_drop may put its event into this outbox
            self._report(*dropped)
        return last

    def put_many(self, items: Iterable[tuple[str, bytes, Priority]]) -> int:
        """Store messages (qos 1, not retained) in one transaction; return how many."""
        rows = [checked(topic, payload, priority, 1, False) for topic, payload, priority in items]
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
            with errors(self.path):
                last = db.execute(INSERT, (*rows[0], now)).lastrowid
            self._counts[PRIORITIES[rows[0][2]]] += 1
            self._oldest = min(self._oldest, now)
            return last or 0, None
        aged = dict.fromkeys(Priority, 0)
        full = dict.fromkeys(Priority, 0)
        with transaction(db, self.path):
            if self._oldest < cutoff:
                for p in Priority:
                    sql = "DELETE FROM outbox WHERE created < ? AND priority = ?"
                    aged[p] = db.execute(sql, (cutoff, p)).rowcount
                oldest = db.execute("SELECT MIN(created) FROM outbox").fetchone()[0]
            else:
                oldest = self._oldest
            db.executemany(INSERT, [(*row, now) for row in rows])
            last = db.execute("SELECT last_insert_rowid()").fetchone()[0]
            counts = {p: self._counts[p] - aged[p] for p in Priority}
            for row in rows:
                counts[PRIORITIES[row[2]]] += 1
            over = sum(counts.values()) - self.max_rows
            for p in Priority:  # LOW first, HIGH only when no LOW row is left
                if over > 0 and counts[p]:
                    sql = "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE priority = ?"
                    full[p] = db.execute(f"{sql} ORDER BY id LIMIT ?)", (p, over)).rowcount
                    counts[p] -= full[p]
                    over -= full[p]
        self._counts = counts
        self._oldest = math.inf if oldest is None else min(oldest, now)
        reasons = [f"{n} oldest {WHAT[p]}" for p, n in full.items() if n]
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
            with transaction(db, self.path):
                for start in range(0, len(unique), REMOVE_CHUNK):
                    chunk = unique[start : start + REMOVE_CHUNK]
                    marks = ",".join("?" * len(chunk))
                    sql = f"DELETE FROM outbox WHERE id IN ({marks}) RETURNING priority"
                    for (priority,) in db.execute(sql, chunk):
                        removed[PRIORITIES[priority]] += 1
            for p in Priority:
                self._counts[p] -= removed[p]

    # --- reading --------------------------------------------------------------------

    def peek(self, limit: int, *, after_id: int = 0, max_bytes: int | None = None) -> list[Row]:
        """Up to ``limit`` rows with ids above ``after_id``, oldest first; nothing is removed.
        With ``max_bytes``, only as many as keep their payloads within it (one at least)."""
        if limit < 1:
            raise ValueError(f"limit: must be 1 or more, got {limit}")
        if after_id < 0:
            raise ValueError(f"after_id: must be 0 or more, got {after_id}")
        sql = f"SELECT {COLUMNS} FROM outbox WHERE id > ? ORDER BY id LIMIT ?"
        with self._lock, errors(self.path):
            db = self._open_db()
            if max_bytes is not None:  # payload sizes first: SQLite reads no payload for them
                sizes = "SELECT id, length(payload) FROM outbox WHERE id > ? ORDER BY id LIMIT ?"
                total, last = 0, after_id
                for row_id, size in db.execute(sizes, (after_id, limit)):
                    if last > after_id and total + size > max_bytes:
                        break
                    total, last = total + size, row_id
                sql = f"SELECT {COLUMNS} FROM outbox WHERE id > ? AND id <= {last} ORDER BY id"
                sql += " LIMIT ?"
            found = db.execute(sql, (after_id, limit)).fetchall()
        return [Row(i, t, p, PRIORITIES[pr], q, bool(r), c) for i, t, p, pr, q, r, c in found]

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
