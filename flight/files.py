"""Files that survive a power cut: replaced atomically, and set aside (never overwritten)
when they cannot be read."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def write_atomic(path: Path, data: str) -> None:
    """Replace ``path`` with ``data``: a temp file in the same directory is written, flushed
    and fsynced, ``os.replace``-d over the old one, and the directory is fsynced. A power cut
    leaves either the old or the new file. Raises OSError (the temp file removed)."""
    directory = path.parent
    temp = directory / f".{path.name}.tmp-{os.getpid()}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with open(temp, "w", encoding="utf-8") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
        fsync_dir(directory)
    except OSError:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


def remove_stale_temps(path: Path) -> None:
    """Temp files of ``path`` left by a write that a crash or power cut interrupted."""
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        with contextlib.suppress(OSError):
            stale.unlink()


def corrupt_copy_name(path: Path) -> Path:
    """The first free ``<name>.corrupt-<n>`` beside ``path``: where an unreadable file is
    moved aside, so nothing is overwritten and the operator can look at it."""
    n = 1
    while (kept := path.with_name(f"{path.name}.corrupt-{n}")).exists():
        n += 1
    return kept


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new file in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
