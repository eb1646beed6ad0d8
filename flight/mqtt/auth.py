"""Command authentication on the vehicle: the mac and replay-counter check of each command.

:class:`Authenticator` accepts a command only if its mac (``interface.signing.sign`` under the
shared key) is right and its counter is above every counter accepted before; the highest one
is persisted before the command may run, so a restart cannot re-open a replay. No error, log
line or message here ever contains the key.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

from interface.signing import KEY_BYTES, MAX_COUNTER, fingerprint, sign

__all__ = ["AuthError", "Authenticator", "Reason"]

Reason = Literal["unsigned", "bad_mac", "replayed", "stale", "malformed"]
_MAC = re.compile(r"[0-9a-f]{64}")


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
