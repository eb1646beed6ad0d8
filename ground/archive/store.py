"""The archive store: :class:`Archive`, one SQLite file of a vehicle's telemetry, events and
acks (see :mod:`ground.archive` for its keys, runs and gaps, and how it writes)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TextIO

from ground.archive.custody import CustodyArchive, images_dir_of
from ground.archive.export import write_csv
from ground.archive.gaps import Gap, stream_gaps
from ground.archive.query import channel_list, parse_time, time_range
from ground.archive.rows import KINDS, Row, kind_of
from ground.archive.samples import merged_samples, streams_of
from ground.archive.schema import INSERT_CHANNEL, ArchiveError, check_path, open_archive

DEFAULT_BATCH = 256


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
        check_path(self.path, create=create)
        #: Documents received that were malformed (wrong types, unparseable time...).
        self.rejected = 0
        #: Documents accepted for storage (copies included) since opening.
        self.added = 0
        #: New rows written (copies ignored by the keys are not counted) since opening.
        self.stored = 0
        #: Rows buffered per table, in the order of ``rows.KINDS``.
        self._pending: dict[str, list[Row]] = {kind.table: [] for kind in KINDS}
        self._pending_channels: list[tuple[str, str, str]] = []
        self._known_channels: dict[tuple[str, str], frozenset[str]] = {}
        self._on_commit: list[Callable[[], None]] = []
        self._db: sqlite3.Connection | None = self._open()
        #: The sample custody tables; their writes commit at once and call on_commit's callbacks.
        self.custody = CustodyArchive(self._db, images_dir_of(self.path), self._committed)

    def _open(self) -> sqlite3.Connection:
        db = open_archive(self.path)
        for vehicle, channel, stream in db.execute("SELECT * FROM channels"):
            key = (vehicle, stream)
            self._known_channels[key] = self._known_channels.get(key, frozenset()) | {channel}
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
        return sum(len(rows) for rows in self._pending.values())

    def flush(self) -> int:
        """Commit every buffered row in one transaction; returns the new rows stored."""
        if not self.pending and not self._pending_channels:
            return 0
        db = self.db
        before = db.total_changes
        try:
            db.execute("BEGIN")
            for kind in KINDS:
                if self._pending[kind.table]:
                    db.executemany(kind.insert, self._pending[kind.table])
            stored = db.total_changes - before
            if self._pending_channels:
                db.executemany(INSERT_CHANNEL, self._pending_channels)
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        for rows in self._pending.values():
            rows.clear()
        self._pending_channels.clear()
        self.stored += stored
        if stored:
            self._committed()
        return stored

    def _committed(self) -> None:
        for callback in tuple(self._on_commit):
            callback()

    def _take(self, suffix: str, document: dict[str, Any], vehicle: str | None) -> bool:
        if not isinstance(suffix, str):
            raise TypeError(f"suffix: expected a topic suffix, got {suffix!r}")
        vehicle = vehicle or self.vehicle
        if not vehicle:
            raise ValueError("vehicle: name the vehicle here or when opening the archive")
        kind = kind_of(suffix)
        if kind is None:
            return False
        if not isinstance(document, dict):
            self.rejected += 1
            return False
        try:
            when = parse_time(document["time"])
        except (KeyError, TypeError, ValueError):
            self.rejected += 1
            return False
        row = kind.build(vehicle, suffix, document, when)
        if row is None:
            self.rejected += 1
            return False
        self._pending[kind.table].append(row)
        if kind.table == "telemetry":
            self._note_channels(vehicle, suffix, document["values"])
        self.added += 1
        return True

    def _note_channels(self, vehicle: str, stream: str, values: dict[str, Any]) -> None:
        known = self._known_channels.get((vehicle, stream), frozenset())
        if not known.issuperset(values):
            new = frozenset(k for k in values if isinstance(k, str)) - known
            self._pending_channels += [(vehicle, name, stream) for name in new]
            self._known_channels[(vehicle, stream)] = known | new

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
        for kind in KINDS:
            query = f"SELECT count(*) FROM {kind.table} {where}"
            result[kind.table] = self.db.execute(query, args).fetchone()[0]
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

    def _streams(self, vehicle: str | None) -> list[str]:
        query = "SELECT DISTINCT stream FROM telemetry WHERE vehicle = ? ORDER BY stream"
        return [row[0] for row in self.db.execute(query, (vehicle,))]

    def gap_report(self, vehicle: str | None = None) -> list[Gap]:
        """Every gap, stream by stream, in time order (see :mod:`ground.archive.gaps`)."""
        self.flush()
        chosen = self._vehicle(vehicle)
        gaps: list[Gap] = []
        for stream in self._streams(chosen):
            rows = self.db.execute(
                "SELECT seq, time FROM telemetry WHERE vehicle = ? AND stream = ? ORDER BY t, seq",
                (chosen, stream),
            )
            gaps += stream_gaps(str(chosen), stream, rows)
        return gaps

    def gaps(self, vehicle: str | None = None) -> dict[str, list[tuple[int, int]]]:
        """Missing seq ranges ``(first_missing, last_missing)`` per stream (``tm/<packet>``),
        in time order across the flight's runs; a stream without gaps maps to ``[]``."""
        self.flush()
        chosen = self._vehicle(vehicle)
        result: dict[str, list[tuple[int, int]]] = {s: [] for s in self._streams(chosen)}
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
        names = channel_list(channels)
        low, high = time_range(start, end)
        self.flush()
        chosen = self._vehicle(vehicle)
        streams = streams_of(self.db, chosen, names)
        return merged_samples(self.db, names, streams, str(chosen), low, high)

    def export_csv(
        self,
        out: TextIO,
        channels: Sequence[str] | None = None,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        *,
        vehicle: str | None = None,
    ) -> int:
        """Write CSV to ``out`` (see :func:`ground.archive.export.write_csv`); returns the rows."""
        return write_csv(self, out, channels, start, end, vehicle=vehicle)
