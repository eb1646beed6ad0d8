"""The outbox's SQLite file: its schema, opening it, its rows and its errors (see
:mod:`flight.mqtt.outbox` for what the outbox promises)."""

from __future__ import annotations

import enum
import math
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from flight.files import corrupt_copy_name

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
COLUMNS = "id, topic, payload, priority, qos, retain, created"
INSERT = f"INSERT INTO outbox ({COLUMNS.removeprefix('id, ')}) VALUES (?, ?, ?, ?, ?, ?)"
_CORRUPT = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
#: Ids per DELETE statement in remove(): well under SQLite's limit of bound parameters.
REMOVE_CHUNK = 500


class OutboxError(Exception):
    """The outbox database cannot be opened, read or written."""


class Priority(enum.IntEnum):
    """Which rows a full outbox gives up first: LOW ones."""

    LOW = 0  # telemetry
    HIGH = 1  # events, command acks, status


PRIORITIES = tuple(Priority)
WHAT = {Priority.LOW: "telemetry", Priority.HIGH: "events and acks"}


class Row(NamedTuple):
    """One stored message; ``created`` is when it was put, by the outbox's ``now`` clock.
    (A named tuple: a replay reads tens of thousands a second, and a frozen dataclass costs
    about twice as much to make.)"""

    id: int
    topic: str
    payload: bytes
    priority: Priority
    qos: int
    retain: bool
    created: float


class NotOurs(Exception):
    """The file is a SQLite database, but not an outbox of this schema."""


def open_database(path: Path, sync: str) -> tuple[sqlite3.Connection, dict[Priority, int], float]:
    """Open (or create) the outbox at ``path``: the connection, the rows of each priority and
    the oldest row's ``created`` (infinity when empty). Raises NotOurs or sqlite3's errors."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            raise OutboxError(f"{path}: SQLite refused WAL journal mode ({mode})")
        db.execute(f"PRAGMA synchronous={sync.upper()}")
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
            raise NotOurs(f"application id {app_id:#x}, schema {version}")
        counted = db.execute("SELECT priority, COUNT(*) FROM outbox GROUP BY priority")
        counts = dict.fromkeys(Priority, 0) | {PRIORITIES[p]: n for p, n in counted}
        oldest = db.execute("SELECT MIN(created) FROM outbox").fetchone()[0]
    except BaseException:
        db.close()
        raise
    return db, counts, math.inf if oldest is None else oldest


def keep_corrupt(path: Path) -> Path:
    """Move an unusable file (and its ``-wal``/``-shm``) aside; return where it went."""
    kept = corrupt_copy_name(path)
    try:
        os.replace(path, kept)
        for suffix in ("-wal", "-shm"):  # a stale WAL must not be applied to the new file
            side = path.with_name(path.name + suffix)
            if side.exists():
                os.replace(side, kept.with_name(kept.name + suffix))
    except OSError as exc:
        raise OutboxError(f"{path}: unusable and cannot be moved aside: {exc}") from exc
    return kept


@contextmanager
def transaction(db: sqlite3.Connection, path: Path) -> Iterator[None]:
    with errors(path):
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:  # SQLite may have rolled back already
                db.execute("ROLLBACK")
            raise


def is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    return type(exc) is sqlite3.DatabaseError and exc.sqlite_errorcode & 0xFF in _CORRUPT


@contextmanager
def errors(path: Path) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise OutboxError(f"{path}: {exc}") from exc


def checked(
    topic: str, payload: bytes, priority: Priority, qos: int, retain: bool
) -> tuple[str, bytes, int, int, int]:
    if not isinstance(topic, str) or not topic:
        raise ValueError(f"topic: must be a non-empty string, got {topic!r}")
    if "+" in topic or "#" in topic:
        raise ValueError(f"topic: wildcards + and # cannot be published to, got {topic!r}")
    if not isinstance(payload, bytes):
        raise TypeError(f"payload: must be bytes, got {type(payload).__name__}")
    if isinstance(priority, bool) or priority not in PRIORITIES:
        raise ValueError(f"priority: must be a Priority, got {priority!r}")
    if isinstance(qos, bool) or not isinstance(qos, int) or not 0 <= qos <= 2:
        raise ValueError(f"qos: must be 0, 1 or 2, got {qos!r}")
    return topic, payload, int(priority), qos, int(bool(retain))
