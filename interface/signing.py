"""Command signing: the canonical command bytes, their HMAC-SHA256, and the key file.

A signed command carries ``counter`` and ``mac``: the lowercase hex HMAC-SHA256, under the
shared key, of :func:`canonical_command` (vehicle, counter, name and args as compact,
key-sorted UTF-8 JSON; ``docs/mqtt.md`` gives it byte for byte). Counters are JSON integers
from 1 to :data:`MAX_COUNTER` (2^53 - 1, the largest integer every JSON implementation holds
exactly), so no client can be locked out by a counter it cannot write. The vehicle's check of
mac and counter (``flight.mqtt.Authenticator``) is built on these.

The key file holds the key as hex (at least 32 bytes), readable by its owner only; files that
hold other secrets (the broker password) are refused by the same rule,
:func:`access_problem`. No error here ever contains the key; :func:`fingerprint` names a key
safely.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "KEY_BYTES",
    "MAX_COUNTER",
    "KeyFileError",
    "access_problem",
    "canonical_command",
    "fingerprint",
    "generate_key_file",
    "load_key",
    "open_key_file",
    "sign",
    "write_new_file",
]

#: The smallest key accepted, and the size of a generated one.
KEY_BYTES = 32
#: A key file larger than this is not a key file.
MAX_KEY_FILE_BYTES = 4096
#: The largest command counter: 2^53 - 1, the largest integer a JSON double holds exactly.
MAX_COUNTER = 2**53 - 1
#: Permission bits of group and others: any of them set and a secret file is not private.
GROUP_OR_OTHER = 0o077

_HEX = re.compile(r"[0-9A-Fa-f]*")


def canonical_command(*, vehicle: str, counter: int, name: str, args: Mapping[str, Any]) -> bytes:
    """The bytes a command's mac covers: compact, key-sorted UTF-8 JSON of the four fields.

    Raises ValueError (NaN or infinite floats, lone surrogates) or TypeError (a value JSON
    cannot hold, a non-string key) for a command that has no canonical form.
    """
    document = {"vehicle": vehicle, "counter": counter, "name": name, "args": args}
    text = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def sign(key: bytes, *, vehicle: str, counter: int, name: str, args: Mapping[str, Any]) -> str:
    """The mac of a command: lowercase hex HMAC-SHA256 of :func:`canonical_command`."""
    message = canonical_command(vehicle=vehicle, counter=counter, name=name, args=args)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def fingerprint(key: bytes) -> str:
    """A name for a key that does not reveal it: the first 8 hex digits of its SHA-256."""
    return hashlib.sha256(key).hexdigest()[:8]


class KeyFileError(Exception):
    """A key file that cannot be used; the message names the path and the problem."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"key file {path}: {problem}")
        self.path = path
        self.problem = problem


def load_key(path: Path) -> bytes:
    """The key in ``path``: hex, at least 64 digits, surrounding whitespace ignored.

    Refused (KeyFileError): missing, unreadable, not a regular file, readable or writable by
    group or others, not hex, or too short.
    """
    path = Path(path)
    fd = open_key_file(path)
    try:
        data = _read_private(path, fd)
    finally:
        os.close(fd)
    if len(data) > MAX_KEY_FILE_BYTES:
        raise KeyFileError(path, f"is over {MAX_KEY_FILE_BYTES} bytes: not a key file")
    try:
        text = data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise KeyFileError(path, "is not hex text (non-ASCII bytes)") from None
    if not _HEX.fullmatch(text):
        raise KeyFileError(path, "is not hex: only 0-9 and a-f are allowed")
    if len(text) % 2:
        raise KeyFileError(path, f"is not hex: an odd number of digits ({len(text)})")
    if len(text) < 2 * KEY_BYTES:
        raise KeyFileError(
            path,
            f"key too short: {len(text) // 2} bytes, at least {KEY_BYTES} "
            f"({2 * KEY_BYTES} hex digits) needed",
        )
    return bytes.fromhex(text)


def open_key_file(path: Path) -> int:
    """A descriptor of ``path`` open for reading (never blocking on a FIFO); KeyFileError
    naming why it cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise KeyFileError(path, "does not exist") from None
    except PermissionError:
        raise KeyFileError(path, "not readable: permission denied") from None
    except OSError as exc:
        raise KeyFileError(path, f"not readable: {exc.strerror or exc}") from None
    return fd


def _read_private(path: Path, fd: int) -> bytes:
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode):
        raise KeyFileError(path, "is a directory, not a key file")
    if not stat.S_ISREG(info.st_mode):
        raise KeyFileError(path, "is not a regular file")
    problem = access_problem(path, info.st_mode)
    if problem is not None:
        raise KeyFileError(path, problem)
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= MAX_KEY_FILE_BYTES:
            chunk = os.read(fd, MAX_KEY_FILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise KeyFileError(path, f"not readable: {exc.strerror or exc}") from None
    return b"".join(chunks)


def generate_key_file(path: Path) -> None:
    """Write a new random key (32 bytes as hex) to ``path``, mode 0600; never overwrites.

    The file is created with mode 0600 in the same system call, so it is never readable by
    anyone else, not even briefly.
    """
    write_new_file(Path(path), secrets.token_bytes(KEY_BYTES).hex().encode("ascii") + b"\n", 0o600)


def write_new_file(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` and ``data``, fsync'd; never over an existing file."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
    except FileExistsError:
        raise KeyFileError(path, "already exists; refusing to overwrite it") from None
    except FileNotFoundError:
        raise KeyFileError(path, f"cannot create: directory {path.parent} does not exist") from None
    except OSError as exc:
        raise KeyFileError(path, f"cannot create: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as stream:
            os.fchmod(fd, mode)  # exactly ``mode`` whatever the umask
            stream.write(data)
            stream.flush()
            os.fsync(fd)
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise KeyFileError(path, f"cannot write: {exc.strerror or exc}") from None


def access_problem(path: Path, st_mode: int) -> str | None:
    """Why a secret file with mode ``st_mode`` is refused, or None when only its owner has access.

    The text names the mode and the fix: ``permissions 0644 let group or others read or write
    it; run: chmod 600 <path>``.
    """
    mode = stat.S_IMODE(st_mode)
    if mode & GROUP_OR_OTHER:
        return f"permissions {mode:04o} let group or others read or write it; run: chmod 600 {path}"
    return None


#: A broker password file is read up to this many bytes (its first line is the password).
MAX_PASSWORD_FILE_BYTES = 4096


class PasswordFileError(ValueError):
    """A broker password file that cannot be read, is not a regular file, is not UTF-8, or
    that group or others may access; the message names the file."""


def read_password(path: Path) -> str:
    """The broker password: the first line of ``path``, a file only its owner may access
    (the rule of :func:`access_problem`, checked on the file actually opened)."""
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
