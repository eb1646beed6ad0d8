"""The flight software's persistent state: counters and sequence state that survive power loss.

One small JSON file (``state.json`` in the configured state dir), replaced atomically on every
write: a temp file in the same directory is written, flushed and fsynced, ``os.replace``-d over
the old one, and the directory is fsynced. A power cut leaves either the old or the new file.

Write policy: :meth:`StateStore.update` and :meth:`StateStore.bump_boot` write at once
(boot count, scoop cycles, the running sequence, the command counter and the mission clock's
anchor change seldom and must not be lost). Cell charge arrives every telemetry sample, so
:meth:`StateStore.add_cell_ah` adds it in memory and writes only when ``flush_interval_s``
has passed since the last write; call :meth:`StateStore.flush` at shutdown. On power loss at
most the charge of the last flush interval is lost. A write costs a few milliseconds (two
fsyncs), fine every few seconds.

A file that cannot be parsed never stops the software: it is kept as ``state.json.corrupt-<n>``,
the state starts from defaults, and :attr:`StateStore.warning` says so (the app raises an
event). A file or directory that cannot be read or written raises :class:`StateError`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from flight.files import corrupt_copy_name, fsync_dir, remove_stale_temps, write_atomic

FILE_NAME = "state.json"
SCHEMA = 1
Count = Annotated[int, Field(ge=0)]


class StateError(Exception):
    """The state file or its directory cannot be read or written."""


class RunningSequence(BaseModel):
    """The sequence that was running, so a restart can report it interrupted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1)]
    line: Count
    started_utc: datetime


class MissionClockAnchor(BaseModel):
    """Where the mission clock stood at one instant: mission time ``utc`` at system time
    ``wall_utc``, running ``scale`` times as fast as real time. Written at every start, so the
    next start goes on from it (``flight.clock.continued_utc``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    utc: AwareDatetime
    wall_utc: AwareDatetime
    scale: Annotated[float, Field(gt=0)]


class PersistentState(BaseModel):
    """What survives a restart. Unknown keys (from a newer build) are kept, not lost."""

    model_config = ConfigDict(frozen=True, extra="allow", allow_inf_nan=False)

    schema_version: int = SCHEMA
    boot_count: Count = 0
    cell_ah_total: Annotated[float, Field(ge=0)] = 0.0
    scoop_cycles_total: Count = 0
    running_sequence: RunningSequence | None = None
    highest_command_counter: Count = 0
    #: The fingerprint of the command key the counter belongs to ("" before one was recorded).
    command_key: str = ""
    mission_clock: MissionClockAnchor | None = None


class StateStore:
    """The persistent state in one JSON file; call :meth:`load` first."""

    def __init__(
        self,
        path: Path,
        *,
        flush_interval_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not str(path) or Path(path).name in ("", ".", ".."):
            raise ValueError(f"path: must name a file, got {str(path)!r}")
        if flush_interval_s <= 0:
            raise ValueError(f"flush_interval_s: must be positive, got {flush_interval_s}")
        self.path = Path(path)
        self.flush_interval_s = flush_interval_s
        self._clock = clock
        self._state = PersistentState()
        self._pending_ah = 0.0
        self._last_write = clock()
        #: Set by :meth:`load` when the file was corrupt and a fresh state was started.
        self.warning: str | None = None
        #: Whether :meth:`load` has run (before it, the fields are defaults, not the file's).
        self.loaded = False

    @classmethod
    def in_dir(cls, directory: Path, **kwargs: Any) -> StateStore:
        """The store of ``state.json`` in ``directory`` (the config's ``state.dir``)."""
        return cls(Path(directory) / FILE_NAME, **kwargs)

    def load(self) -> str | None:
        """Read the file (missing means defaults); return :attr:`warning` if it was corrupt."""
        self.warning = None
        self._pending_ah = 0.0
        remove_stale_temps(self.path)
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            self._state = PersistentState()
            self.loaded = True
            return None
        except OSError as exc:
            raise StateError(f"{self.path}: cannot read: {exc.strerror or exc}") from exc
        try:
            self._state = PersistentState.model_validate(json.loads(raw.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError, ValidationError) as exc:
            kept = self._keep_corrupt()
            self._state = PersistentState()
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.warning = (
                f"{self.path} was corrupt ({reason}); kept as {kept.name}, "
                "counters restart from zero"
            )
        self._last_write = self._clock()
        self.loaded = True
        return self.warning

    # --- reading --------------------------------------------------------------------

    def snapshot(self) -> PersistentState:
        """The state now, including charge not yet flushed."""
        if self._pending_ah:
            return self._state.model_copy(
                update={"cell_ah_total": self._state.cell_ah_total + self._pending_ah}
            )
        return self._state

    @property
    def boot_count(self) -> int:
        return self._state.boot_count

    @property
    def cell_ah_total(self) -> float:
        return self._state.cell_ah_total + self._pending_ah

    @property
    def scoop_cycles_total(self) -> int:
        return self._state.scoop_cycles_total

    @property
    def running_sequence(self) -> RunningSequence | None:
        return self._state.running_sequence

    @property
    def highest_command_counter(self) -> int:
        return self._state.highest_command_counter

    @property
    def command_key(self) -> str:
        return self._state.command_key

    def adopt_command_key(self, fingerprint: str) -> int | None:
        """Bind the command counter to the key with this fingerprint, and write it.

        A key other than the recorded one starts a new counter epoch: the counter goes back
        to 0 (commands signed with the old key fail their mac, so none can be replayed) and
        the old epoch's highest counter is returned. A state that records no key yet (new,
        or from an older build) adopts the key and keeps its counter: returns None, as for
        the recorded key.
        """
        recorded = self._state.command_key
        if recorded == fingerprint:
            return None
        old = self._state.highest_command_counter
        changes: dict[str, Any] = {"command_key": fingerprint}
        if recorded:
            changes["highest_command_counter"] = 0
        merged = {**self.snapshot().model_dump(), **changes}
        self._write(PersistentState.model_validate(merged))
        return old if recorded else None

    @property
    def mission_clock(self) -> MissionClockAnchor | None:
        return self._state.mission_clock

    @property
    def dirty(self) -> bool:
        """Whether there is charge in memory that is not on disk yet."""
        return self._pending_ah != 0.0

    # --- changing -------------------------------------------------------------------

    def update(self, **changes: Any) -> None:
        """Change fields and write now (pending charge goes with them).

        ``running_sequence`` takes a :class:`RunningSequence`, a dict of its fields, or None;
        ``mission_clock`` a :class:`MissionClockAnchor`, a dict of its fields, or None.
        ``highest_command_counter`` may not go down: that would re-open replays.
        """
        unknown = set(changes) - set(PersistentState.model_fields) - {"schema_version"}
        if unknown or "schema_version" in changes:
            raise ValueError(f"changes: not state fields: {sorted(unknown or changes)}")
        counter = changes.get("highest_command_counter")
        if counter is not None and counter < self._state.highest_command_counter:
            raise ValueError(
                f"highest_command_counter: may not go down from "
                f"{self._state.highest_command_counter} to {counter}"
            )
        merged = {**self.snapshot().model_dump(), **changes}
        new = PersistentState.model_validate(merged)  # raises ValidationError naming the field
        self._write(new)

    def bump_boot(self) -> int:
        """Count this start, write it, and return the new boot count."""
        self.update(boot_count=self._state.boot_count + 1)
        return self._state.boot_count

    def count_scoop_cycle(self) -> int:
        """Count one dig, write it, and return the lifetime total."""
        self.update(scoop_cycles_total=self._state.scoop_cycles_total + 1)
        return self._state.scoop_cycles_total

    def add_cell_ah(self, ah: float) -> bool:
        """Add charge in memory; write if the flush interval has passed. True if written."""
        if not ah >= 0 or ah == float("inf"):
            raise ValueError(f"ah: must be a finite charge of 0 or more, got {ah}")
        self._pending_ah += ah
        if self._clock() - self._last_write >= self.flush_interval_s:
            self.flush()
            return True
        return False

    def flush(self) -> None:
        """Write the charge held in memory, if any (call at shutdown)."""
        if self.dirty:
            self._write(self.snapshot())

    # --- disk -----------------------------------------------------------------------

    def _write(self, state: PersistentState) -> None:
        data = json.dumps(state.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
        try:
            write_atomic(self.path, data)
        except OSError as exc:
            raise StateError(f"{self.path}: cannot write: {exc.strerror or exc}") from exc
        self._state = state
        self._pending_ah = 0.0
        self._last_write = self._clock()

    def _keep_corrupt(self) -> Path:
        kept = corrupt_copy_name(self.path)
        try:
            os.replace(self.path, kept)
            fsync_dir(self.path.parent)
        except OSError as exc:
            raise StateError(f"{self.path}: corrupt and cannot be moved aside: {exc}") from exc
        return kept


def peek_state(directory: Path) -> PersistentState | None:
    """The state in ``directory`` as it is on disk, or None when there is none or it cannot
    be read or parsed. Changes nothing: a corrupt file is left for :meth:`StateStore.load`
    to set aside and report."""
    try:
        raw = (Path(directory) / FILE_NAME).read_bytes()
        return PersistentState.model_validate(json.loads(raw.decode("utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValidationError):
        return None
