"""The broker password of a ground program: the first line of a file only its owner may
access (the flight's rule for secret files, :func:`interface.signing.access_problem`)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ground.messages import GroundError
from interface.signing import access_problem

MAX_PASSWORD_FILE_BYTES = 4096


class PasswordFileError(GroundError):
    """A broker password file that cannot be read or that group or others may access."""


def read_password(path: Path) -> str:
    """The broker password: the first line of ``path``, a file only its owner may access.

    Refused with :class:`PasswordFileError` naming the file: missing or unreadable, not a
    regular file, permissions that let group or others read or write it (``run: chmod 600``).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        why = "permission denied" if isinstance(exc, PermissionError) else exc.strerror
        raise PasswordFileError(f"password file {path}: not readable: {why}") from None
    with os.fdopen(fd, "rb") as stream:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise PasswordFileError(f"password file {path}: is not a file")
        problem = access_problem(path, mode)
        if problem is not None:
            raise PasswordFileError(f"password file {path}: {problem}")
        data = stream.read(MAX_PASSWORD_FILE_BYTES)
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise PasswordFileError(f"password file {path}: not UTF-8 text") from None
    return lines[0] if lines else ""
