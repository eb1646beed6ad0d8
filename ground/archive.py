"""The ground archive: every telemetry sample, event and ack a vehicle sent, in one SQLite file.

Storage is SQLite in WAL mode with ``synchronous=NORMAL``: a committed row survives a crash
of the recorder; a power cut may lose the last commits, never corrupt the file. Readers (an
export, a plot) may open the file while the recorder writes it.

Keys, and why replays merge without duplicates
----------------------------------------------
The flight's outbox replays a message with the *same* ``time`` and ``seq`` it was made with
(only ``replayed`` is added), and a QoS 1 redelivery is byte-identical. So every table is keyed
on what a copy shares with its original, and rows are written with ``INSERT OR IGNORE``: the
first copy stored wins, later copies (replayed or redelivered) are ignored.

- ``telemetry``: ``(vehicle, stream, seq, time)``; ``stream`` is the topic suffix
  (``tm/<packet>``), ``time`` the message's time normalised to UTC ISO 8601 with microseconds
  (so ``+00:00`` and ``Z`` spellings of one instant are one key).
- ``events``: ``(vehicle, time, seq)``.
- ``acks``: ``(vehicle, id, stage)``: command ids are unique, each stage is sent once.

Why ``time`` is in the telemetry and event keys: the flight numbers each ``tm/<packet>``
stream, and its events, from 1 again every time the flight software starts. ``(stream, seq)``
alone would make the second run's seq 1 a "duplicate" of the first run's and drop it. The
alternative, a run number from ``core.boot_count``, only travels in ``tm/core``: the first
``tm/scoop`` packets of a new boot can arrive before any ``tm/core`` of that boot (and a
replay from the outbox interleaves old and new boots), so it cannot be attached reliably to
other packets. The time of a message is in every message and is never changed by a replay.

Restarts and gaps
-----------------
:meth:`Archive.gaps` orders a stream's rows by time and starts a new *run* wherever seq does
not increase (it went back while time went forward: the flight restarted). Within a run every
missing seq between neighbours is a gap; the first run's gaps start at its lowest stored seq
(the recorder may have started mid-run), every later run is known to start at seq 1, so a
later run whose first stored seq is 5 reports 1-4 missing. A restart is therefore never a gap,
and both runs are kept. Assumption: the flight's UTC clock does not step backwards during a
run (a step back would look like a restart). A ``boot`` field in every telemetry message would
remove the assumption; the schema has none today.

Writing
-------
:meth:`Archive.add` (the :meth:`ground.client.GroundClient.listen` signature) buffers rows and
commits every ``batch`` rows; :meth:`Archive.flush` commits what is buffered (the recorder
calls it every 0.2 s); :meth:`Archive.add_many` stores many documents in one transaction.
Reads flush first, so they see everything added so far. Messages the archive does not store
(``status``, ``dict``, ``seq/...``, ``cmd``) are ignored; malformed ones are counted in
:attr:`Archive.rejected` and otherwise ignored, never raised: the archive sits on a live feed.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TextIO

from ground.messages import GroundError

SCHEMA_VERSION = 1
DEFAULT_BATCH = 256

_SCHEMA = """
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

_INSERT_TM = "INSERT OR IGNORE INTO telemetry VALUES (?, ?, ?, ?, ?, ?, ?)"
_INSERT_EVR = "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_ACK = "INSERT OR IGNORE INTO acks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_CHANNEL = "INSERT OR IGNORE INTO channels VALUES (?, ?, ?)"


class ArchiveError(GroundError):
    """The archive cannot do what was asked (no such file, not an archive, no data...)."""


@dataclass(frozen=True, slots=True)
class Gap:
    """Seqs ``first``..``last`` of ``stream`` are missing, in run ``run`` (1 = the earliest
    stored) of ``runs``; ``after``/``before`` are the times of the stored neighbours
    (``after`` is None for a gap at the start of a later run)."""

    vehicle: str
    stream: str
    run: int
    runs: int
    first: int
    last: int
    after: str | None
    before: str


def parse_time(value: str | datetime, *, name: str = "time") -> datetime:
    """An aware UTC datetime from ISO 8601 text or a datetime (no offset: assumed UTC)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{name}: {value!r} is not an ISO 8601 time") from None
    elif not isinstance(value, datetime):
        raise TypeError(f"{name}: expected ISO 8601 text or a datetime, got {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_time(value: datetime) -> str:
    """UTC ISO 8601 with microseconds and ``Z``: the archive's one spelling of an instant."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def _epoch(value: datetime) -> float:
    return value.timestamp()  # value is aware


def _seq(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63:
        return value
    return None


class Archive:
    """One archive file. ``vehicle`` is the vehicle :meth:`add` files documents under when
    the call names none (the listener signature carries no vehicle)."""

    def __init__(
        self,
        path: Path | str,
        *,
        vehicle: str | None = None,
        batch: int = DEFAULT_BATCH,
        create: bool = True,
    ) -> None:
        if not isinstance(path, Path | str) or not str(path):
            raise TypeError(f"path: expected a file path, got {path!r}")
        if vehicle is not None and (not isinstance(vehicle, str) or not vehicle):
            raise ValueError(f"vehicle: expected a vehicle name, got {vehicle!r}")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch: expected a row count of at least 1, got {batch!r}")
        self.path = Path(path)
        self.vehicle = vehicle
        self.batch = batch
        if self.path.is_dir():
            raise ArchiveError(f"archive: {self.path} is a directory")
        if not self.path.exists():
            if not create:
                raise ArchiveError(f"archive: {self.path} does not exist")
            if not self.path.parent.is_dir():
                raise ArchiveError(f"archive: directory {self.path.parent} does not exist")
        #: Documents received that were malformed (wrong types, unparseable time...).
        self.rejected = 0
        #: Documents accepted for storage (copies included) since opening.
        self.added = 0
        #: New rows written (copies ignored by the keys are not counted) since opening.
        self.stored = 0
        self._pending_tm: list[tuple[Any, ...]] = []
        self._pending_evr: list[tuple[Any, ...]] = []
        self._pending_ack: list[tuple[Any, ...]] = []
        self._pending_channels: list[tuple[str, str, str]] = []
        self._known_channels: dict[tuple[str, str], frozenset[str]] = {}
        self._on_commit: list[Callable[[], None]] = []
        self._db: sqlite3.Connection | None = self._open()

    def _open(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise ArchiveError(f"archive: cannot open {self.path}: {exc}") from None
        try:
            db.execute("PRAGMA busy_timeout = 5000")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if version not in (0, SCHEMA_VERSION) or (version == 0 and tables):
                raise ArchiveError(f"archive: {self.path} is not an isru ground archive")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            if version == 0:  # one transaction: another process never sees half a schema
                db.executescript(
                    f"BEGIN; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
                )
            for vehicle, channel, stream in db.execute("SELECT * FROM channels"):
                key = (vehicle, stream)
                self._known_channels[key] = self._known_channels.get(key, frozenset()) | {channel}
        except sqlite3.DatabaseError as exc:
            db.close()
            raise ArchiveError(
                f"archive: {self.path} is not an isru ground archive ({exc})"
            ) from None
        except BaseException:
            db.close()
            raise
        return db

    # --- lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        """Commit what is buffered and close the file."""
        if self._db is None:
            return
        try:
            self.flush()
        finally:
            self._db.close()
            self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        """The open connection (ArchiveError once closed)."""
        if self._db is None:
            raise ArchiveError(f"archive: {self.path} is closed")
        return self._db

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def on_commit(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` after every commit that stored rows; returns its remover."""
        self._on_commit.append(callback)
        return lambda: self._on_commit.remove(callback)

    # --- writing ---------------------------------------------------------------------

    def add(self, suffix: str, document: dict[str, Any], *, vehicle: str | None = None) -> bool:
        """Buffer one message (``suffix`` is the topic after ``isru/<vehicle>/``); commits when
        ``batch`` rows are buffered. True if it is one the archive stores, False if ignored."""
        kept = self._take(suffix, document, vehicle)
        if kept and self.pending >= self.batch:
            self.flush()
        return kept

    def add_many(
        self, messages: Iterable[tuple[str, dict[str, Any]]], *, vehicle: str | None = None
    ) -> int:
        """Store ``(suffix, document)`` pairs in one transaction; returns the new rows stored."""
        before = self.stored
        for suffix, document in messages:
            self._take(suffix, document, vehicle)
        self.flush()
        return self.stored - before

    @property
    def pending(self) -> int:
        """Rows buffered, not yet committed."""
        return len(self._pending_tm) + len(self._pending_evr) + len(self._pending_ack)

    def flush(self) -> int:
        """Commit every buffered row in one transaction; returns the new rows stored."""
        if not self.pending and not self._pending_channels:
            return 0
        db = self.db
        before = db.total_changes
        try:
            db.execute("BEGIN")
            if self._pending_tm:
                db.executemany(_INSERT_TM, self._pending_tm)
            if self._pending_evr:
                db.executemany(_INSERT_EVR, self._pending_evr)
            if self._pending_ack:
                db.executemany(_INSERT_ACK, self._pending_ack)
            stored = db.total_changes - before
            if self._pending_channels:
                db.executemany(_INSERT_CHANNEL, self._pending_channels)
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        self._pending_tm.clear()
        self._pending_evr.clear()
        self._pending_ack.clear()
        self._pending_channels.clear()
        self.stored += stored
        if stored:
            for callback in tuple(self._on_commit):
                callback()
        return stored

    def _take(self, suffix: str, document: dict[str, Any], vehicle: str | None) -> bool:
        if not isinstance(suffix, str):
            raise TypeError(f"suffix: expected a topic suffix, got {suffix!r}")
        vehicle = vehicle or self.vehicle
        if not vehicle:
            raise ValueError("vehicle: name the vehicle here or when opening the archive")
        if suffix.startswith("tm/"):
            kind = 0
        elif suffix == "evr":
            kind = 1
        elif suffix == "cmd/ack":
            kind = 2
        else:
            return False
        if not isinstance(document, dict):
            self.rejected += 1
            return False
        try:
            when = parse_time(document["time"])
        except (KeyError, TypeError, ValueError):
            self.rejected += 1
            return False
        text, t = format_time(when), _epoch(when)
        replayed = 1 if document.get("replayed") is True else 0
        if kind == 0:
            seq, values = _seq(document.get("seq")), document.get("values")
            if seq is None or not isinstance(values, dict) or not suffix[3:]:
                self.rejected += 1
                return False
            try:
                encoded = json.dumps(values, separators=(",", ":"), allow_nan=True)
            except (TypeError, ValueError):
                self.rejected += 1
                return False
            self._pending_tm.append((vehicle, suffix, seq, text, t, encoded, replayed))
            known = self._known_channels.get((vehicle, suffix), frozenset())
            if not known.issuperset(values):
                new = frozenset(k for k in values if isinstance(k, str)) - known
                self._pending_channels += [(vehicle, name, suffix) for name in new]
                self._known_channels[(vehicle, suffix)] = known | new
        elif kind == 1:
            seq, args = _seq(document.get("seq")), document.get("args") or {}
            if seq is None or not isinstance(args, dict):
                self.rejected += 1
                return False
            try:
                encoded = json.dumps(args, separators=(",", ":"))
            except (TypeError, ValueError):
                self.rejected += 1
                return False
            self._pending_evr.append(
                (
                    vehicle,
                    seq,
                    text,
                    t,
                    str(document.get("severity", "")),
                    str(document.get("id", "")),
                    str(document.get("text", "")),
                    encoded,
                    replayed,
                )
            )
        else:
            command_id, stage = document.get("id"), document.get("stage")
            if not isinstance(command_id, str) or not command_id or not isinstance(stage, str):
                self.rejected += 1
                return False
            reason, detail = document.get("reason"), document.get("detail")
            self._pending_ack.append(
                (
                    vehicle,
                    command_id,
                    stage,
                    str(document.get("name", "")),
                    text,
                    t,
                    None if reason is None else str(reason),
                    None if detail is None else str(detail),
                    replayed,
                )
            )
        self.added += 1
        return True

    # --- reading ---------------------------------------------------------------------

    def vehicles(self) -> list[str]:
        """The vehicles with anything in the archive."""
        self.flush()
        rows = self.db.execute(
            "SELECT vehicle FROM telemetry UNION SELECT vehicle FROM events "
            "UNION SELECT vehicle FROM acks ORDER BY 1"
        )
        return [row[0] for row in rows]

    def _vehicle(self, vehicle: str | None) -> str | None:
        """The vehicle a query is about: the one named, or the archive's only one."""
        if vehicle is not None:
            if not isinstance(vehicle, str) or not vehicle:
                raise ValueError(f"vehicle: expected a vehicle name, got {vehicle!r}")
            return vehicle
        found = self.vehicles()
        if len(found) > 1:
            raise ArchiveError(
                f"vehicle: the archive holds several vehicles ({', '.join(found)}): name one"
            )
        return found[0] if found else self.vehicle

    def counts(self, vehicle: str | None = None) -> dict[str, int]:
        """Rows stored: ``telemetry``, ``events``, ``acks``, and per telemetry stream."""
        self.flush()
        where, args = ("WHERE vehicle = ?", (vehicle,)) if vehicle else ("", ())
        result: dict[str, int] = {}
        for name in ("telemetry", "events", "acks"):
            result[name] = self.db.execute(f"SELECT count(*) FROM {name} {where}", args).fetchone()[
                0
            ]
        for stream, count in self.db.execute(
            f"SELECT stream, count(*) FROM telemetry {where} GROUP BY stream ORDER BY stream", args
        ):
            result[stream] = count
        return result

    def channels(self, vehicle: str | None = None) -> dict[str, list[str]]:
        """Every channel stored so far and the streams it came in."""
        self.flush()
        chosen = self._vehicle(vehicle)
        result: dict[str, list[str]] = {}
        for channel, stream in self.db.execute(
            "SELECT channel, stream FROM channels WHERE vehicle = ? ORDER BY channel, stream",
            (chosen,),
        ):
            result.setdefault(channel, []).append(stream)
        return result

    def gap_report(self, vehicle: str | None = None) -> list[Gap]:
        """Every gap, stream by stream, in time order (see the module's notes on runs)."""
        self.flush()
        chosen = self._vehicle(vehicle)
        streams = [
            row[0]
            for row in self.db.execute(
                "SELECT DISTINCT stream FROM telemetry WHERE vehicle = ? ORDER BY stream",
                (chosen,),
            )
        ]
        gaps: list[Gap] = []
        for stream in streams:
            rows = self.db.execute(
                "SELECT seq, time FROM telemetry WHERE vehicle = ? AND stream = ? ORDER BY t, seq",
                (chosen, stream),
            )
            found: list[tuple[int, int, int, str | None, str]] = []  # run, first, last, ...
            run, last_seq, last_time = 0, None, None
            for seq, text in rows:
                if last_seq is None or seq <= last_seq:
                    run += 1
                    if run > 1 and seq > 1:
                        found.append((run, 1, seq - 1, None, text))
                elif seq > last_seq + 1:
                    found.append((run, last_seq + 1, seq - 1, last_time, text))
                last_seq, last_time = seq, text
            gaps += [Gap(str(chosen), stream, r, run, a, b, x, y) for r, a, b, x, y in found]
        return gaps

    def gaps(self, vehicle: str | None = None) -> dict[str, list[tuple[int, int]]]:
        """Missing seq ranges ``(first_missing, last_missing)`` per stream (``tm/<packet>``),
        in time order across the flight's runs; a stream without gaps maps to ``[]``."""
        self.flush()
        chosen = self._vehicle(vehicle)
        result: dict[str, list[tuple[int, int]]] = {
            row[0]: []
            for row in self.db.execute(
                "SELECT DISTINCT stream FROM telemetry WHERE vehicle = ? ORDER BY stream",
                (chosen,),
            )
        }
        for gap in self.gap_report(chosen):
            result[gap.stream].append((gap.first, gap.last))
        return result

    def samples(
        self,
        channels: Sequence[str],
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        *,
        vehicle: str | None = None,
    ) -> Iterator[tuple[datetime, dict[str, Any]]]:
        """``(time, {channel: value})`` in time order for the samples holding any of
        ``channels`` between ``start`` and ``end`` (both inclusive; None: unbounded).
        Samples of several packets made at the same instant come as one."""
        names = _channel_list(channels)
        low, high = _range(start, end)
        self.flush()
        chosen = self._vehicle(vehicle)
        marks = ", ".join("?" * len(names))
        streams = [
            row[0]
            for row in self.db.execute(
                f"SELECT DISTINCT stream FROM channels WHERE vehicle = ? AND channel IN ({marks}) "
                "ORDER BY stream",
                (chosen, *names),
            )
        ]
        return self._samples(names, streams, str(chosen), low, high)

    def _samples(
        self, names: list[str], streams: list[str], vehicle: str, low: float, high: float
    ) -> Iterator[tuple[datetime, dict[str, Any]]]:
        if not streams:
            return
        marks = ", ".join("?" * len(streams))
        rows = self.db.execute(
            f'SELECT time, "values" FROM telemetry WHERE vehicle = ? AND stream IN ({marks}) '
            "AND t >= ? AND t <= ? ORDER BY t, time, stream, seq",
            (vehicle, *streams, low, high),
        )
        current: str | None = None
        merged: dict[str, Any] = {}
        for text, encoded in rows:
            values = json.loads(encoded)
            picked = {name: values[name] for name in names if name in values}
            if not picked:
                continue
            if text != current:
                if current is not None:
                    yield parse_time(current), merged
                current, merged = text, {}
            merged.update(picked)
        if current is not None:
            yield parse_time(current), merged

    def export_csv(
        self,
        out: TextIO,
        channels: Sequence[str] | None = None,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        *,
        vehicle: str | None = None,
    ) -> int:
        """Write CSV to ``out``: a ``time`` column (UTC ISO 8601) then one column per channel
        (every stored channel, sorted, when None), one row per sample time; returns the rows."""
        if not hasattr(out, "write"):
            raise TypeError(f"out: expected a text file, got {out!r}")
        names = sorted(self.channels(vehicle)) if channels is None else _channel_list(channels)
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["time", *names])
        count = 0
        if not names:
            return 0
        for when, values in self.samples(names, start, end, vehicle=vehicle):
            writer.writerow([format_time(when), *(_cell(values.get(n)) for n in names)])
            count += 1
        return count


def _channel_list(channels: Sequence[str]) -> list[str]:
    if isinstance(channels, str) or not isinstance(channels, Sequence | set | frozenset):
        raise TypeError(f"channels: expected a list of channel names, got {channels!r}")
    names = list(dict.fromkeys(channels))
    if not names:
        raise ValueError("channels: name at least one channel")
    bad = [name for name in names if not isinstance(name, str) or not name]
    if bad:
        raise ValueError(f"channels: {bad[0]!r} is not a channel name")
    return names


def _range(start: datetime | str | None, end: datetime | str | None) -> tuple[float, float]:
    low = -math.inf if start is None else _epoch(parse_time(start, name="start"))
    high = math.inf if end is None else _epoch(parse_time(end, name="end"))
    if low > high:
        raise ValueError(f"end: {end} is before start {start}")
    return low, high


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)
