"""The archive file: its tables, and opening one (WAL, ``synchronous=NORMAL``, the schema
created in one transaction so that another process never sees half of it)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ground.messages import GroundError

SCHEMA_VERSION = 2
#: Archives of version 1 (before sample custody) get the custody tables when opened.
OLDER_VERSIONS = (1,)

SCHEMA = """
CREATE TABLE IF NOT EXISTS telemetry (
    vehicle TEXT NOT NULL,
    stream TEXT NOT NULL,
    seq INTEGER NOT NULL,
    time TEXT NOT NULL,
    t REAL NOT NULL,
    "values" TEXT NOT NULL,
    replayed INTEGER NOT NULL,
    PRIMARY KEY (vehicle, stream, seq, time)
);
CREATE INDEX IF NOT EXISTS telemetry_by_time ON telemetry (vehicle, stream, t);
CREATE TABLE IF NOT EXISTS channels (
    vehicle TEXT NOT NULL,
    channel TEXT NOT NULL,
    stream TEXT NOT NULL,
    PRIMARY KEY (vehicle, channel, stream)
);
CREATE TABLE IF NOT EXISTS events (
    vehicle TEXT NOT NULL,
    seq INTEGER NOT NULL,
    time TEXT NOT NULL,
    t REAL NOT NULL,
    severity TEXT NOT NULL,
    id TEXT NOT NULL,
    text TEXT NOT NULL,
    args TEXT NOT NULL,
    replayed INTEGER NOT NULL,
    PRIMARY KEY (vehicle, time, seq)
);
CREATE TABLE IF NOT EXISTS acks (
    vehicle TEXT NOT NULL,
    id TEXT NOT NULL,
    stage TEXT NOT NULL,
    name TEXT NOT NULL,
    time TEXT NOT NULL,
    t REAL NOT NULL,
    reason TEXT,
    detail TEXT,
    replayed INTEGER NOT NULL,
    PRIMARY KEY (vehicle, id, stage)
);
"""

#: Sample custody (version 2): the ledger's entries byte for byte (a different line with a
#: seq already stored is kept aside as a fork), the latest head, and the images: chunks until
#: an image is complete, then the image (its file under the images directory, or a problem).
CUSTODY = """
CREATE TABLE IF NOT EXISTS custody_entries (
    vehicle TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sample TEXT NOT NULL,
    hash TEXT NOT NULL,
    line BLOB NOT NULL,
    received REAL NOT NULL,
    PRIMARY KEY (vehicle, seq)
);
CREATE TABLE IF NOT EXISTS custody_forks (
    vehicle TEXT NOT NULL,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL,
    line BLOB NOT NULL,
    received REAL NOT NULL,
    PRIMARY KEY (vehicle, seq, hash)
);
CREATE TABLE IF NOT EXISTS custody_heads (
    vehicle TEXT PRIMARY KEY,
    head TEXT NOT NULL,
    received REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS image_chunks (
    vehicle TEXT NOT NULL,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    chunk INTEGER NOT NULL,
    chunks INTEGER NOT NULL,
    meta TEXT NOT NULL,
    data BLOB NOT NULL,
    received REAL NOT NULL,
    PRIMARY KEY (vehicle, name, sha256, chunk)
);
CREATE TABLE IF NOT EXISTS images (
    vehicle TEXT NOT NULL,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    meta TEXT NOT NULL,
    file TEXT,
    problem TEXT,
    received REAL NOT NULL,
    PRIMARY KEY (vehicle, name, sha256)
);
"""

INSERT_CHANNEL = "INSERT OR IGNORE INTO channels VALUES (?, ?, ?)"


class ArchiveError(GroundError):
    """The archive cannot do what was asked (no such file, not an archive, no data...)."""


def check_path(path: Path, *, create: bool) -> None:
    """ArchiveError unless ``path`` is an archive file, or (with ``create``) may become one."""
    if path.is_dir():
        raise ArchiveError(f"archive: {path} is a directory")
    if not path.exists():
        if not create:
            raise ArchiveError(f"archive: {path} does not exist")
        if not path.parent.is_dir():
            raise ArchiveError(f"archive: directory {path.parent} does not exist")


def open_archive(path: Path) -> sqlite3.Connection:
    """The archive file at ``path`` opened (its schema created if it is new); ArchiveError for
    a file that is not an archive of this version."""
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise ArchiveError(f"archive: cannot open {path}: {exc}") from None
    try:
        db.execute("PRAGMA busy_timeout = 5000")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        known = version == SCHEMA_VERSION or version in OLDER_VERSIONS
        if not (known or version == 0) or (version == 0 and tables):
            raise ArchiveError(f"archive: {path} is not an isru ground archive")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        if version != SCHEMA_VERSION:  # one transaction: nobody ever sees half a schema
            tables_sql = CUSTODY if version else SCHEMA + CUSTODY
            db.executescript(f"BEGIN; {tables_sql} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
    except sqlite3.DatabaseError as exc:
        db.close()
        raise ArchiveError(f"archive: {path} is not an isru ground archive ({exc})") from None
    except BaseException:
        db.close()
        raise
    return db
