"""What every handler module shares: the clock, the verification timeouts and ``_settle``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flight.clock import Clock
from flight.dispatcher import Execution
from flight.verify import FAULT_TOLERANT, describe, settle


class Handlers:
    """The base of each board's handlers (:class:`flight.handlers.Payload` is all of them):
    a handler waits for its command's effect with :meth:`_settle`."""

    clock: Clock
    #: Each command's ``completion_timeout_s``, by name.
    timeouts: dict[str, float]

    async def _settle(
        self,
        driver: Any,
        run: Execution,
        done: Callable[[Any], bool],
        what: str,
        *,
        seen: Callable[[Any], str] = describe,
        timeout_s: float | None = None,
    ) -> Any:
        """Wait for ``done`` on ``driver``'s telemetry, within the command's timeout (or
        ``timeout_s``); the board in FAULT fails it unless the command is fault tolerant."""
        name = run.command.name
        return await settle(
            driver,
            self.clock,
            done=done,
            timeout_s=self.timeouts[name] if timeout_s is None else timeout_s,
            what=what,
            fault_ok=name in FAULT_TOLERANT,
            seen=seen,
        )
