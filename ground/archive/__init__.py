"""The ground archive: every telemetry sample, event and ack a vehicle sent, in one SQLite file.

Modules: ``store`` (:class:`Archive`), ``schema`` (the tables; opening a file), ``rows`` (one
row builder per message kind), ``gaps`` (runs and gaps), ``samples`` (reading back),
``query`` (times and channel lists), ``export`` (CSV) and ``plot`` (PNG; imports matplotlib,
so it is not imported here). Other packages import from this package, or ``ground.archive.plot``.

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
:meth:`Archive.gaps` (:mod:`ground.archive.gaps`) orders a stream's rows by time and starts a
new *run* wherever seq does not increase (it went back while time went forward: the flight
restarted). Within a run every missing seq between neighbours is a gap; the first run's gaps
start at its lowest stored seq (the recorder may have started mid-run), every later run is
known to start at seq 1, so a later run whose first stored seq is 5 reports 1-4 missing. A
restart is therefore never a gap, and both runs are kept. Assumption: the flight's UTC clock
does not step backwards during a run (a step back would look like a restart). A ``boot`` field
in every telemetry message would remove the assumption; the schema has none today.

Writing
-------
:meth:`Archive.add` (the :meth:`ground.client.GroundClient.listen` signature) buffers rows and
commits every ``batch`` rows; :meth:`Archive.flush` commits what is buffered (the recorder
calls it every 0.2 s); :meth:`Archive.add_many` stores many documents in one transaction.
Reads flush first, so they see everything added so far. Messages the archive does not store
(``status``, ``dict``, ``seq/...``, ``cmd``) are ignored; malformed ones are counted in
:attr:`Archive.rejected` and otherwise ignored, never raised: the archive sits on a live feed.
"""

from ground.archive.export import FORMATS, write_csv
from ground.archive.gaps import Gap
from ground.archive.query import format_time, parse_time
from ground.archive.schema import SCHEMA_VERSION, ArchiveError
from ground.archive.store import DEFAULT_BATCH, Archive

__all__ = [
    "DEFAULT_BATCH",
    "FORMATS",
    "SCHEMA_VERSION",
    "Archive",
    "ArchiveError",
    "Gap",
    "format_time",
    "parse_time",
    "write_csv",
]
