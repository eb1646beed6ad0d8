"""A board's boot counter: in memory, or persisted as a small JSON file per board.

Like the counter a real board keeps in its EEPROM: a fresh board boots with count 1, each
reset adds one, and with a state directory a killed and restarted simulator carries on
from where the last one stopped (``<state_dir>/<board>.json``, ``{"boot_count": N}``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class BootStore:
    """Hands out the next boot count for one board."""

    def __init__(self, board: str, state_dir: Path | None = None) -> None:
        self.board = board
        self.path = None if state_dir is None else Path(state_dir) / f"{board}.json"
        self._count = 0

    def next_boot(self) -> int:
        """Count one more boot, persist it when there is a state dir, and return it."""
        previous = self._read() if self.path is not None else self._count
        self._count = min(previous + 1, 0xFFFF)  # the wire field is a u16
        if self.path is not None:
            self._write(self._count)
        return self._count

    def _read(self) -> int:
        assert self.path is not None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            count = data["boot_count"]
        except FileNotFoundError:
            return 0
        except (OSError, ValueError, KeyError, TypeError):
            # A corrupt record is like an erased EEPROM: start over rather than refuse to boot.
            return 0
        return count if isinstance(count, int) and count >= 0 else 0

    def _write(self, count: int) -> None:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"boot_count": count}) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)  # atomic: a kill mid-write leaves the old count
