"""``isru sil --run FILE --samples-dir DIR``: the run's custody ledger and images recorded from
MQTT as the ground recorder keeps them (an archive in the stack's work directory), and at the
end one export package per sample of the run written into DIR.

The packages are checked under the custody key the SIL generated for the run (the flight's
``[samples] key_file``), not only under the key the vehicle's head announces: a package that
``isru samples verify --vehicle-key`` accepts with the run's public key was signed by it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from types import TracebackType

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ground.archive import Archive
from ground.recorder import record
from interface.custody import Kind, fold, key_id, load_public_key, parse_line
from interface.signing import KeyFileError
from isru.samples_export import write_package
from isru.samples_source import Refused, archive_source
from isru.stack import SilError, Stack

__all__ = ["CUSTODY_WAIT_S", "SampleRecording"]

#: After the sequence ended: how long (real seconds) the ledger's last entries and images may
#: take to reach the recorder.
CUSTODY_WAIT_S = 60.0
#: How long the recorder may take to subscribe.
SUBSCRIBE_WAIT_S = 30.0


def _complete(archive: Archive, vehicle: str) -> bool:
    """Whether the archive holds every entry the vehicle's head names, and every image
    those entries name."""
    custody = archive.custody
    head = custody.head(vehicle)
    if head is None:
        return False
    lines = custody.lines(vehicle)
    if not isinstance(head.get("entries"), int) or len(lines) < head["entries"]:
        return False
    kept = {(s.meta.name, s.meta.sha256) for s in custody.images(vehicle) if s.file}
    entries = [parse_line(line).entry for line in lines]
    wanted = [
        (image["name"], image["sha256"])
        for entry in entries
        if entry.kind is Kind.IMAGED
        for image in entry.body["images"]
    ]
    return all(image in kept for image in wanted)


class SampleRecording:
    """``async with SampleRecording(stack, directory)``: records from before the sequence
    starts; :meth:`export` waits for the rest and writes the packages."""

    def __init__(self, stack: Stack, directory: Path) -> None:
        self.stack = stack
        self.directory = directory
        self.archive_path = stack.workdir / "samples-archive.db"
        self._stop = asyncio.Event()
        self._changed = asyncio.Event()
        self._subscribed = asyncio.Event()
        self._complete = False
        self._task: asyncio.Task[dict[str, int]] | None = None

    def _on_commit(self, archive: Archive) -> None:
        self._complete = _complete(archive, self.stack.vehicle)
        self._changed.set()

    def _log(self, line: str) -> None:
        if line.startswith("recording "):
            self._subscribed.set()
        else:
            print(f"isru sil: samples: {line}", file=sys.stderr, flush=True)

    async def __aenter__(self) -> SampleRecording:
        self._task = asyncio.create_task(
            record(
                broker=self.stack.broker,
                vehicle=self.stack.vehicle,
                archive_path=self.archive_path,
                stop=self._stop,
                identifier=f"isru-sil-samples-{self.stack.vehicle}",
                on_commit=self._on_commit,
                log=self._log,
            )
        )
        waiting = asyncio.ensure_future(self._subscribed.wait())
        await asyncio.wait({waiting, self._task}, timeout=SUBSCRIBE_WAIT_S,
                           return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        waiting.cancel()
        if not self._subscribed.is_set():
            await self._end()
            raise SilError("samples: the recorder could not subscribe to the broker")
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._end()

    async def _end(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
            self._task = None

    async def export(self, wait_s: float = CUSTODY_WAIT_S) -> int:
        """Wait (up to ``wait_s``) for the last entries and images, stop recording, write one
        package per sample into the directory; print what was written. 0 if every sample's
        package was written, 1 otherwise."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                while not self._complete:
                    self._changed.clear()
                    await self._changed.wait()
        await self._end()
        if not self._complete:
            print(
                f"isru sil: samples: the ledger's entries and images had not all arrived "
                f"{wait_s:g} s after the sequence ended; exporting what did",
                file=sys.stderr,
            )
        return self._write(self._run_key())

    def _run_key(self) -> Ed25519PublicKey | None:
        """The public key of the custody key the SIL generated for the run (None: none)."""
        path = self.stack.workdir / "custody.key"
        try:
            return load_public_key(path) if path.exists() else None
        except KeyFileError as exc:
            print(f"isru sil: samples: {exc}", file=sys.stderr)
            return None

    def _write(self, key: Ed25519PublicKey | None) -> int:
        label = "the run's samples archive"
        try:
            with Archive(self.archive_path) as archive:
                source = archive_source(archive.custody, label, self.stack.vehicle, key)
        except Refused as exc:
            for line in exc.lines:
                print(f"isru sil: samples: {line}", file=sys.stderr)
            return 1
        samples = list(fold(source.entries()))
        failed = 0
        for sample in samples:
            try:
                print(f"samples: {write_package(source, sample, self.directory / sample)}")
            except Refused as exc:
                failed += 1
                for line in exc.lines:
                    print(f"isru sil: samples: {sample}: {line}", file=sys.stderr)
        which = f"vehicle key {key_id(source.key)}" + ("" if key else " (from its head)")
        print(
            f"samples: {len(samples) - failed} of {len(samples)} packages in {self.directory}; "
            f"each checks with: isru samples verify DIR/SAMPLE ({which})",
            flush=True,
        )
        return 1 if failed or source.verified.problems else 0
