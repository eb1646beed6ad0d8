"""The board's sample custody ledger: an append-only file of signed, hash-chained entries.

The format is the contract's (:mod:`interface.custody`, ``docs/samples.md``); this module
owns the file::

    with CustodyStore.open(path, key=vehicle_key, vehicle="rover1") as store:
        store.report.torn            # a torn last entry found on opening, set aside
        first = store.collect(Collected(...), mission=clock.utc(), utc=now)
        store.append(first.entry.sample, Kind.MEASURED, Measured(...), mission=..., utc=...)

- Every entry is one ``write`` of its whole line, then ``fsync``: when :meth:`append`
  returns, the entry survives a power loss. A new file is created with an ``fsync`` of its
  directory. A write that fails half way is cut back, so the file always ends on an entry.
- On opening, the whole chain is verified with the store's own key. Bytes after the last
  newline (a write cut short by a power loss) are moved aside, never dropped: saved first to
  ``<ledger>.torn-<offset>`` (fsync'd, with its directory), then cut from the ledger, and
  named in :attr:`CustodyStore.report`. Any other problem (an entry changed, missing,
  reordered, signed with another key) raises :class:`LedgerCorrupt` naming each, and the
  file is left as it is: nothing is appended to a chain the vehicle cannot vouch for.
- One process at a time: the file is locked (``flock``) while open.
- Methods are thread-safe, so an asyncio caller may run them in a thread
  (:meth:`aappend`), keeping ``fsync`` off the event loop.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, Self, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from interface.custody.chain import ChainWriter, SignedEntry
from interface.custody.model import Collected, Kind
from interface.custody.verify import Problem, split_lines, verify_ledger

__all__ = ["CustodyStore", "CustodyStoreError", "LedgerCorrupt", "OpenReport", "TornTail"]

_P = ParamSpec("_P")
_R = TypeVar("_R")
_S = TypeVar("_S")


class CustodyStoreError(Exception):
    """The ledger file cannot be opened or written: the message names it and says why."""


@dataclass(frozen=True)
class TornTail:
    """A torn last entry found on opening: where it began, its size, where it was saved."""

    offset: int
    length: int
    saved_to: Path

    def __str__(self) -> str:
        return (
            f"torn last entry at byte {self.offset} ({self.length} bytes with no newline, "
            f"a write cut short): moved to {self.saved_to}"
        )


@dataclass(frozen=True)
class OpenReport:
    """What opening the ledger found."""

    entries: int
    samples: int
    created: bool
    torn: TornTail | None


class LedgerCorrupt(CustodyStoreError):
    """The ledger has problems a power loss does not explain; ``problems`` names each."""

    def __init__(self, path: Path, problems: list[Problem], torn: TornTail | None) -> None:
        lines = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(f"ledger {path} does not verify:\n{lines}")
        self.path = path
        self.problems = problems
        self.torn = torn


def _appends_what(
    make: Callable[Concatenate[ChainWriter, _P], SignedEntry],
) -> Callable[Concatenate[CustodyStore, _P], SignedEntry]:
    """A store method taking what the chain's ``make`` takes: the entry made and written."""

    def append(store: CustodyStore, /, *args: _P.args, **kwargs: _P.kwargs) -> SignedEntry:
        with store._lock:
            store._check_open()
            return store._write(make(store._writer, *args, **kwargs))

    return append


def _in_thread(
    method: Callable[Concatenate[_S, _P], _R],
) -> Callable[Concatenate[_S, _P], Coroutine[Any, Any, _R]]:
    """``method`` run in a thread, for asyncio callers."""

    async def run(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        return await asyncio.to_thread(method, self, *args, **kwargs)

    return run


class CustodyStore:
    """The open ledger; make one with :meth:`open`."""

    def __init__(
        self,
        path: Path,
        fd: int,
        writer: ChainWriter,
        entries: list[SignedEntry],
        report: OpenReport,
    ) -> None:
        self.path = path
        self.report = report
        self._fd: int | None = fd
        self._writer = writer
        self._entries = entries
        self._size = sum(len(signed.line) for signed in entries)
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path, *, key: Ed25519PrivateKey, vehicle: str) -> CustodyStore:
        """Open (or create) the ledger at ``path``, recover a torn tail, verify the chain."""
        path = Path(path)
        created = not path.exists()
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise CustodyStoreError(f"ledger {path}: cannot open: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if created:
                _fsync_dir(path)
            data = _read_all(fd)
            torn = _set_aside_torn_tail(path, fd, data)
            if torn is not None:
                data = data[: torn.offset]
            verified = verify_ledger(data, key.public_key(), file=str(path), vehicle=vehicle)
            if verified.problems:
                raise LedgerCorrupt(path, verified.problems, torn)
        except BlockingIOError:
            os.close(fd)
            raise CustodyStoreError(f"ledger {path}: in use by another process") from None
        except OSError as exc:
            os.close(fd)
            raise CustodyStoreError(f"ledger {path}: {exc.strerror or exc}") from None
        except BaseException:
            os.close(fd)
            raise
        entries = [signed for _, signed in verified.entries]
        writer = ChainWriter(key, vehicle, entries)
        report = OpenReport(len(entries), len(writer.samples), created, torn)
        return cls(path, fd, writer, entries, report)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (and unlock it); appending afterwards raises."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    @property
    def entries(self) -> list[SignedEntry]:
        """Every entry, in chain order."""
        with self._lock:
            return list(self._entries)

    @property
    def samples(self) -> list[str]:
        """Every sample id, in the order they were collected."""
        with self._lock:
            return self._writer.samples

    def collect(self, body: Collected, *, mission: datetime, utc: datetime) -> SignedEntry:
        """Record a new sample (its id made here: ``<vehicle>-0001``...); its entry."""
        with self._lock:
            self._check_open()
            sample = self._writer.new_sample_id()
            made = self._writer.make(sample, Kind.COLLECTED, body, mission=mission, utc=utc)
            return self._write(made)

    #: ``append(sample, kind, body, *, mission, utc)``: append one entry about ``sample``,
    #: durably; the entry as written. Raises :class:`interface.custody.CustodyError` when the
    #: chain's rules refuse it and :class:`CustodyStoreError` when it could not be written
    #: (nothing of it then stays).
    append = _appends_what(ChainWriter.make)
    #: :meth:`append` in a thread, for asyncio callers.
    aappend = _in_thread(append)

    def _check_open(self) -> None:
        if self._fd is None:
            raise CustodyStoreError(f"ledger {self.path}: closed")

    def _write(self, signed: SignedEntry) -> SignedEntry:
        assert self._fd is not None
        line = signed.line
        try:
            _write_all(self._fd, line)
            os.fsync(self._fd)
        except OSError as exc:
            self._cut_back()
            raise CustodyStoreError(
                f"ledger {self.path}: cannot write seq {signed.entry.seq}: {exc.strerror or exc}"
            ) from None
        self._size += len(line)
        self._writer.take(signed)
        self._entries.append(signed)
        return signed

    def _cut_back(self) -> None:
        """After a failed write: cut the file back to its last entry, or close the store."""
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, self._size)
            os.fsync(self._fd)
        except OSError:
            os.close(self._fd)  # the next open() sets the torn tail aside
            self._fd = None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_all(fd: int) -> bytes:
    chunks = []
    offset = 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _set_aside_torn_tail(path: Path, fd: int, data: bytes) -> TornTail | None:
    """Save the bytes after the last newline beside the ledger, then cut them off it."""
    _, tail = split_lines(data)
    if not tail:
        return None
    offset = len(data) - len(tail)
    for attempt in range(1, 1000):
        suffix = f".torn-{offset}" + (f"-{attempt}" if attempt > 1 else "")
        aside = path.with_name(path.name + suffix)
        try:
            torn_fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            continue
        try:
            _write_all(torn_fd, tail)
            os.fsync(torn_fd)
        finally:
            os.close(torn_fd)
        _fsync_dir(path)
        os.ftruncate(fd, offset)
        os.fsync(fd)
        return TornTail(offset, len(tail), aside)
    raise CustodyStoreError(f"ledger {path}: too many torn tails set aside at byte {offset}")
