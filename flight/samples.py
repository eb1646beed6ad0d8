"""The vehicle's sample custody: the ledger it owns and what it appends (``docs/samples.md``).

:class:`SampleKeeper` opens the :class:`~flight.custody_store.CustodyStore` at boot with the
vehicle's signing key (``[samples]``), keeps each sample's record (where it is, its latest
mass) and appends entries, durably, for the sample commands and the scoop's hooks
(:mod:`flight.sample_handlers`). Every new ledger line and the new head go to the
:class:`CustodySink` (the MQTT downlink), when there is one.

Custody is *off* when the key or the site is not configured, the key is unreadable or the
ledger does not verify: ``CUSTODY_UNAVAILABLE`` names why, every append raises
:class:`CustodyProblem` with that reason, the file is left exactly as it is, and nothing
else of the vehicle changes (the scoop digs as before).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from flight.clock import Clock
from flight.config import SamplesConfig
from flight.custody_store import CustodyStore, CustodyStoreError, LedgerCorrupt
from flight.events import EventLog
from interface.custody import (
    Collected,
    CustodyError,
    Kind,
    Location,
    SampleRecord,
    SignedEntry,
    Stamp,
    describe,
    fold,
    key_id,
    load_signing_key,
    public_pem,
    utc_text,
)
from interface.signing import KeyFileError

__all__ = ["CustodyProblem", "CustodySink", "SampleKeeper", "UnknownSample", "stamp"]

log = logging.getLogger(__name__)

#: How many of a corrupt ledger's problems CUSTODY_UNAVAILABLE lists (the log has them all).
PROBLEMS_SHOWN = 3


class CustodySink(Protocol):
    """Where new custody data goes (the MQTT downlink). Each call must return at once
    (queue it); an exception is logged and otherwise ignored."""

    def publish_entry(self, line: bytes) -> None:
        """A new ledger line, byte-exact, without its newline."""

    def publish_image(self, path: Path, meta: dict[str, Any], chunks: range | None = None) -> None:
        """A stored image: ``meta`` has name, sha256, bytes, media_type, purpose, sample;
        ``chunks``: only these of its chunks (CAMERA.SEND of a range), None: all."""

    def publish_head(self, head: dict[str, Any]) -> None:
        """The ledger's head (:meth:`SampleKeeper.head`), after each entry and at boot."""


class CustodyProblem(Exception):
    """Custody cannot do what was asked: off, a write that failed, or a refused entry."""


class UnknownSample(CustodyProblem):
    """A command named a sample the ledger does not have (or no sample is where it said)."""


def stamp(clock: Clock) -> Stamp:
    """Now, by the mission clock and the board's system clock."""
    return Stamp(mission=utc_text(clock.utc()), utc=utc_text(datetime.now(UTC)))


class SampleKeeper:
    """The ledger of one vehicle and what its entries say now."""

    def __init__(
        self,
        *,
        vehicle: str,
        settings: SamplesConfig,
        clock: Clock,
        events: EventLog,
        sink: CustodySink | None = None,
    ) -> None:
        self.vehicle = vehicle
        self.settings = settings
        self.clock = clock
        self.events = events
        self.sink = sink
        #: Why custody is off; None while the ledger is open.
        self.off: str | None = "the ledger is not opened yet"
        self._store: CustodyStore | None = None
        self._public_pem = ""
        self._signer = ""
        self._by_sample: dict[str, list[SignedEntry]] = {}
        self.records: dict[str, SampleRecord] = {}
        self._appending = asyncio.Lock()  # one append at a time: records follow the chain

    # --- lifetime ----------------------------------------------------------------------

    async def open(self) -> None:
        """At boot: open and verify the ledger (in a thread), or say why custody is off."""
        settings, ledger = self.settings, self.settings.ledger
        assert ledger is not None, "settings.in_state_dir() gives the ledger its default"
        if settings.key_file is None:
            return self._unavailable(
                "samples.key_file is not set (make the vehicle's key with: "
                "isru key generate --kind signing FILE)"
            )
        if settings.site is None:
            return self._unavailable("[samples.site] is not set (lat_deg, lon_deg, sigma_m)")
        key_file = settings.key_file
        try:
            key = await asyncio.to_thread(load_signing_key, key_file)
            await asyncio.to_thread(ledger.parent.mkdir, parents=True, exist_ok=True)
            store = await asyncio.to_thread(
                CustodyStore.open, ledger, key=key, vehicle=self.vehicle
            )
        except KeyFileError as exc:
            return self._unavailable(f"samples.key_file: {exc}")
        except LedgerCorrupt as exc:
            log.error("%s", exc)
            shown = "; ".join(str(p) for p in exc.problems[:PROBLEMS_SHOWN])
            more = len(exc.problems) - PROBLEMS_SHOWN
            shown += f"; and {more} more" if more > 0 else ""
            torn = f"; {exc.torn}" if exc.torn is not None else ""
            return self._unavailable(
                f"ledger {ledger} does not verify ({len(exc.problems)} problems: {shown}){torn}: "
                "left as it is, nothing appended (docs/samples.md, after a power loss)"
            )
        except (CustodyStoreError, OSError) as exc:
            return self._unavailable(f"ledger {ledger}: {exc}")
        self._store, self.off = store, None
        self._public_pem = public_pem(key.public_key()).decode("ascii")
        self._signer = key_id(key.public_key())
        for signed in store.entries:
            self._by_sample.setdefault(signed.entry.sample, []).append(signed)
        self.records = fold(store.entries)
        if store.report.torn is not None:
            self.events.emit("CUSTODY_TORN", path=str(ledger), detail=str(store.report.torn))
        self.events.emit(
            "CUSTODY_OPENED",
            path=str(ledger),
            entries=store.report.entries,
            samples=store.report.samples,
            signer=self._signer,
        )
        self._publish(lambda sink: sink.publish_head(self.head() or {}))

    def next_id(self) -> str | None:
        """The id the next collected sample will get (None while custody is off)."""
        if self._store is None:
            return None
        number = len(self.records) + 1
        while f"{self.vehicle}-{number:04d}" in self.records:
            number += 1
        return f"{self.vehicle}-{number:04d}"

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
            self.off = "the ledger is closed"

    def _unavailable(self, why: str) -> None:
        self.off = why
        self.events.emit("CUSTODY_UNAVAILABLE", detail=why)

    def attach(self, sink: CustodySink | None) -> None:
        """Send new entries and images to ``sink`` from now on; the head at once."""
        self.sink = sink
        if self._store is not None:
            self._publish(lambda s: s.publish_head(self.head() or {}))

    # --- what the ledger says ----------------------------------------------------------

    @property
    def entries(self) -> list[SignedEntry]:
        return [] if self._store is None else self._store.entries

    def head(self) -> dict[str, Any] | None:
        """The head as ``samples/head`` publishes it; None while custody is off."""
        store = self._store
        if store is None:
            return None
        entries = store.entries
        last = entries[-1] if entries else None
        return {
            "vehicle": self.vehicle,
            "entries": len(entries),
            "seq": None if last is None else last.entry.seq,
            "hash": None if last is None else last.hash,
            "samples": len(store.samples),
            "signer": self._signer,
            "public_key_pem": self._public_pem,
        }

    def where(self, location: Location) -> str | None:
        """The last collected sample now at ``location`` (None: none is)."""
        for sample in reversed(list(self.records)):
            if self.records[sample].location is location:
                return sample
        return None

    def resolve(self, reference: str) -> str:
        """A sample id from a command's ``sample``: an id, ``scoop``, ``oven`` or ``latest``."""
        self._check_on()
        if reference in ("scoop", "oven"):
            found = self.where(Location(reference))
            if found is None:
                raise UnknownSample(f"sample {reference}: no sample is in the {reference}")
            return found
        if reference == "latest":
            if not self.records:
                raise UnknownSample("sample latest: no sample has been collected yet")
            return list(self.records)[-1]
        if reference not in self.records:
            raise UnknownSample(f"sample {reference!r}: no such sample in the ledger")
        return reference

    # --- appending ---------------------------------------------------------------------

    def _check_on(self) -> CustodyStore:
        if self._store is None:
            raise CustodyProblem(f"custody off: {self.off}")
        return self._store

    async def collect(self, body: Collected) -> SignedEntry:
        """A new sample (its id made by the store), in the scoop."""
        store = self._check_on()
        mission, utc = self._now()
        return self._took(await self._write(store.collect, body, mission=mission, utc=utc))

    async def append(self, sample: str, kind: Kind, body: BaseModel) -> SignedEntry:
        """One entry about ``sample``, durably; CustodyProblem saying why not."""
        store = self._check_on()
        mission, utc = self._now()
        signed = await self._write(store.append, sample, kind, body, mission=mission, utc=utc)
        return self._took(signed)

    async def _write(
        self, write: Callable[..., SignedEntry], *args: Any, **kwargs: Any
    ) -> SignedEntry:
        """``write`` in a thread (its fsync off the event loop); CustodyProblem on failure."""
        try:
            async with self._appending:
                signed = await asyncio.to_thread(write, *args, **kwargs)
        except (CustodyError, CustodyStoreError) as exc:
            raise CustodyProblem(str(exc)) from None
        return signed

    def _now(self) -> tuple[datetime, datetime]:
        return self.clock.utc(), datetime.now(UTC)

    def _took(self, signed: SignedEntry) -> SignedEntry:
        entry = signed.entry
        mine = self._by_sample.setdefault(entry.sample, [])
        mine.append(signed)
        self.records[entry.sample] = fold(mine)[entry.sample]
        self.events.emit(
            "SAMPLE_ENTRY",
            sample=entry.sample,
            kind=entry.kind.value,
            seq=entry.seq,
            sample_seq=entry.sample_seq,
            hash=signed.hash,
            summary=describe(signed),
        )
        line = signed.line[:-1]
        self._publish(lambda sink: sink.publish_entry(line))
        self._publish(lambda sink: sink.publish_head(self.head() or {}))
        return signed

    def _publish(self, call: Callable[[CustodySink], None]) -> None:
        if self.sink is None:
            return
        try:
            call(self.sink)
        except Exception:  # the downlink's problem must not stop the ledger
            log.exception("custody sink failed")
