"""The broker password of a ground program: the first line of a file only its owner may
access, read by the flight's own rule (:func:`interface.signing.read_password`)."""

from __future__ import annotations

from pathlib import Path

from ground.messages import GroundError
from interface import signing


class PasswordFileError(GroundError):
    """A broker password file that cannot be read or that group or others may access."""


def read_password(path: Path) -> str:
    """The broker password: the first line of ``path``, a file only its owner may access.

    Refused with :class:`PasswordFileError` naming the file: missing or unreadable, not a
    regular file, not UTF-8, permissions that let group or others read or write it
    (``run: chmod 600``).
    """
    try:
        return signing.read_password(path)
    except signing.PasswordFileError as exc:
        raise PasswordFileError(str(exc)) from None
