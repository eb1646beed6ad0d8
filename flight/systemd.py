"""systemd integration: readiness, status and watchdog notifications over ``NOTIFY_SOCKET``.

Written by hand rather than taken from a package: the sd_notify protocol is one datagram of
``KEY=VALUE`` lines to a unix socket named by ``$NOTIFY_SOCKET`` (a path, or ``@name`` for
the abstract namespace), which is ~60 lines and not worth a dependency. Outside systemd
(no ``NOTIFY_SOCKET``) every notification is a no-op, so the app calls them unconditionally.

The watchdog (``WatchdogSec=`` in the unit) is pinged by :func:`run_watchdog`, a task on the
app's own event loop: if the loop hangs, the pings stop and systemd kills and restarts us.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


def _always() -> bool:
    return True


class Notifier:
    """Sends sd_notify messages; a no-op when not started by systemd with ``Type=notify``."""

    def __init__(self, *, address: str | None) -> None:
        self.address = address or None
        self._target: str | bytes | None = None
        self._socket: socket.socket | None = None
        if self.address is None:
            return
        if self.address.startswith("@"):
            self._target = b"\0" + self.address[1:].encode()
        elif self.address.startswith("/"):
            self._target = self.address
        else:
            log.warning("NOTIFY_SOCKET %r is not a unix socket: notifications off", self.address)

    @classmethod
    def from_environ(cls, *, environ: Mapping[str, str] | None = None) -> Notifier:
        """The notifier of ``$NOTIFY_SOCKET`` (``environ`` defaults to ``os.environ``)."""
        return cls(address=(os.environ if environ is None else environ).get("NOTIFY_SOCKET"))

    @property
    def enabled(self) -> bool:
        return self._target is not None

    def notify(self, *, fields: Mapping[str, str]) -> bool:
        """Send ``KEY=VALUE`` lines in one datagram; True if sent. I/O errors are only logged."""
        if not fields:
            raise ValueError("fields: must not be empty")
        if self._target is None:
            return False
        # One line per field: a newline inside a value would start a bogus field.
        lines = [f"{key}={' '.join(value.splitlines())}" for key, value in fields.items()]
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._socket.setblocking(False)  # a full queue must not stall the event loop
            self._socket.sendto("\n".join(lines).encode(), self._target)
        except OSError as exc:
            log.warning("sd_notify to %s failed: %s", self.address, exc)
            return False
        return True

    def ready(self, *, status: str | None = None) -> bool:
        """Startup is done: systemd now considers the unit started."""
        return self.notify(fields={"READY": "1", **({"STATUS": status} if status else {})})

    def status(self, text: str) -> bool:
        """A one-line status shown by ``systemctl status``."""
        return self.notify(fields={"STATUS": text})

    def stopping(self, *, status: str | None = None) -> bool:
        """Shutdown has begun."""
        return self.notify(fields={"STOPPING": "1", **({"STATUS": status} if status else {})})

    def watchdog(self) -> bool:
        """Still alive: reset systemd's watchdog timer."""
        return self.notify(fields={"WATCHDOG": "1"})

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def watchdog_interval_s(
    *, environ: Mapping[str, str] | None = None, pid: int | None = None
) -> float | None:
    """systemd's watchdog timeout for this process in seconds, or None if it has none.

    From ``$WATCHDOG_USEC``; when ``$WATCHDOG_PID`` is set it must be this process (``pid``,
    default ``os.getpid()``), otherwise the watchdog is meant for someone else.
    """
    env = os.environ if environ is None else environ
    usec, owner = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
    try:
        if not usec or int(usec) <= 0:
            return None
        if owner and int(owner) != (os.getpid() if pid is None else pid):
            return None
    except ValueError:
        log.warning("WATCHDOG_USEC %r / WATCHDOG_PID %r not understood: no watchdog", usec, owner)
        return None
    return int(usec) / 1e6


async def run_watchdog(
    notifier: Notifier, interval_s: float, *, healthy: Callable[[], bool] = _always
) -> None:
    """Ping ``notifier`` every ``interval_s / 2`` from this event loop until cancelled.

    ``healthy`` may hold the pings back (e.g. while a required task is dead), which lets
    systemd restart the service.
    """
    if not interval_s > 0:
        raise ValueError(f"interval_s: must be positive, got {interval_s}")
    while True:
        if healthy():
            notifier.watchdog()
        await asyncio.sleep(interval_s / 2)
