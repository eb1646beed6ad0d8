"""Files that hold secrets (the command key, the broker password): their owner's only.

One check for both, so that they are refused the same way, with the same words.
"""

from __future__ import annotations

import stat
from pathlib import Path

#: Permission bits of group and others: any of them set and the file is not private.
GROUP_OR_OTHER = 0o077


def access_problem(path: Path, st_mode: int) -> str | None:
    """Why a secret file with mode ``st_mode`` is refused, or None when only its owner has access.

    The text names the mode and the fix: ``permissions 0644 let group or others read or write
    it; run: chmod 600 <path>``.
    """
    mode = stat.S_IMODE(st_mode)
    if mode & GROUP_OR_OTHER:
        return f"permissions {mode:04o} let group or others read or write it; run: chmod 600 {path}"
    return None
