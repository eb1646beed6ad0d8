"""Command authentication: the canonical command bytes, their HMAC-SHA256, the replay counter
check, and the key file.

A signed command carries ``counter`` and ``mac``: the lowercase hex HMAC-SHA256, under the
shared key, of :func:`canonical_command` (vehicle, counter, name and args as compact,
key-sorted UTF-8 JSON; ``docs/mqtt.md`` gives it byte for byte). :class:`Authenticator` accepts
a command only if its mac is right and its counter is above every counter accepted before; the
highest one is persisted before the command may run, so a restart cannot re-open a replay.
Counters are JSON integers from 1 to :data:`MAX_COUNTER` (2^53 - 1, the largest integer every
JSON implementation holds exactly), so no client can be locked out by a counter it cannot write.

The key file holds the key as hex (at least 32 bytes), readable by its owner only. No error,
log line or message here ever contains the key; :func:`fingerprint` names a key safely.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from flight.private_file import access_problem

__all__ = [
    "KEY_BYTES",
    "MAX_COUNTER",
    "AuthError",
    "Authenticator",
    "KeyFileError",
    "canonical_command",
    "fingerprint",
    "generate_key_file",
    "load_key",
    "sign",
]

#: The smallest key accepted, and the size of a generated one.
KEY_BYTES = 32
#: A key file larger than this is not a key file.
MAX_KEY_FILE_BYTES = 4096
#: The largest command counter: 2^53 - 1, the largest integer a JSON double holds exactly.
MAX_COUNTER = 2**53 - 1

Reason = Literal["unsigned", "bad_mac", "replayed", "stale", "malformed"]
_MAC = re.compile(r"[0-9a-f]{64}")
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


class AuthError(Exception):
    """A command refused by :class:`Authenticator`: ``reason`` is one of :data:`Reason`."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: Reason = reason
        self.detail = detail


class Authenticator:
    """Checks each command's mac and counter; persists the highest counter accepted.

    ``highest_counter`` is the persisted one (0 on a fresh vehicle, so the first counter
    must be 1 or more), or a function that reads it where it is kept (for a store that is
    loaded after this object is made). ``persist(counter)`` must store it durably and raise
    if it cannot: :meth:`check` then raises that error and the command must not run.
    """

    def __init__(
        self,
        *,
        key: bytes,
        vehicle: str,
        highest_counter: int | Callable[[], int],
        persist: Callable[[int], None],
    ) -> None:
        if len(key) < KEY_BYTES:
            raise ValueError(f"key: must be at least {KEY_BYTES} bytes, got {len(key)}")
        if isinstance(highest_counter, int) and highest_counter < 0:
            raise ValueError(f"highest_counter: must be 0 or more, got {highest_counter}")
        self._key = key
        self.vehicle = vehicle
        self._read: Callable[[], int] | None = None
        self._highest = 0
        if callable(highest_counter):
            self._read = highest_counter
        else:
            self._highest = highest_counter
        self._persist = persist

    @property
    def highest_counter(self) -> int:
        """The highest counter accepted so far (0 before any)."""
        return self._read() if self._read is not None else self._highest

    @property
    def key_fingerprint(self) -> str:
        """:func:`fingerprint` of the key: which key the counter belongs to."""
        return fingerprint(self._key)

    def __repr__(self) -> str:  # never the key
        return (
            f"Authenticator(vehicle={self.vehicle!r}, key={fingerprint(self._key)}, "
            f"highest_counter={self.highest_counter})"
        )

    def check(
        self, *, counter: int | None, mac: str | None, name: str, args: Mapping[str, Any]
    ) -> None:
        """Return if the command may run (its counter is then consumed); else raise AuthError.

        Order: unsigned, malformed, bad_mac, then replayed/stale, so only a command with a
        valid mac learns about, or consumes, a counter.
        """
        if counter is None or mac is None:
            fields = (("counter", counter), ("mac", mac))
            missing = " and no ".join(field for field, value in fields if value is None)
            raise AuthError("unsigned", f"no {missing}: the command is not signed")
        if (
            isinstance(counter, bool)
            or not isinstance(counter, int)
            or not 0 < counter <= MAX_COUNTER
        ):
            raise AuthError(
                "malformed",
                f"counter must be an integer from 1 to {MAX_COUNTER}: got {_short(counter)}",
            )
        if not isinstance(mac, str) or not _MAC.fullmatch(mac):
            raise AuthError("malformed", "mac must be 64 lowercase hex digits")
        try:
            expected = sign(self._key, vehicle=self.vehicle, counter=counter, name=name, args=args)
        except (TypeError, ValueError) as exc:
            raise AuthError("malformed", f"the command has no canonical JSON form: {exc}") from None
        if not hmac.compare_digest(expected, mac):
            raise AuthError(
                "bad_mac",
                f"mac does not match {name} counter {counter} for vehicle {self.vehicle} "
                f"(wrong key, or the command was changed after signing)",
            )
        highest = self.highest_counter
        if counter == highest:
            raise AuthError("replayed", f"counter {counter} was already used")
        if counter < highest:
            raise AuthError(
                "stale",
                f"counter {counter} is below the highest accepted counter "
                f"{highest}; sign with a counter above {highest}",
            )
        self._persist(counter)  # before the command runs: a crash after it cannot re-open it
        if self._read is None:
            self._highest = counter


def _short(value: object) -> str:
    """``repr`` of a refused value, cut to 40 characters (a counter may be any JSON)."""
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**30 else "a huge integer"
    return text if len(text) <= 40 else text[:37] + "..."


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
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise KeyFileError(path, "does not exist") from None
    except PermissionError:
        raise KeyFileError(path, "not readable: permission denied") from None
    except OSError as exc:
        raise KeyFileError(path, f"not readable: {exc.strerror or exc}") from None
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
    path = Path(path)
    key = secrets.token_bytes(KEY_BYTES)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        raise KeyFileError(path, "already exists; refusing to overwrite it") from None
    except FileNotFoundError:
        raise KeyFileError(path, f"cannot create: directory {path.parent} does not exist") from None
    except OSError as exc:
        raise KeyFileError(path, f"cannot create: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as stream:
            os.fchmod(fd, 0o600)  # exactly 0600 whatever the umask
            stream.write(key.hex().encode("ascii") + b"\n")
            stream.flush()
            os.fsync(fd)
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise KeyFileError(path, f"cannot write: {exc.strerror or exc}") from None
