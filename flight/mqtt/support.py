"""What the MQTT side's parts share: one-line logging and the session's background tasks."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any

#: aiomqtt warns once per publish while more than ten are in flight, which a replay or a
#: 50 Hz stream always has: that is our design, not news, so only its errors are logged, one
#: line each and never a traceback (see :class:`_OneLine`).
MQTT_LOG = logging.getLogger("isru.uplink.mqtt")
MQTT_LOG.setLevel(logging.ERROR)
#: The uplink's own trouble (a bug caught so that the session goes on): one line each.
log = logging.getLogger("isru.uplink")


class _OneLine(logging.Handler):
    """Writes a record as one line on stderr, the exception (if any) by name and message:
    never a traceback."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text = f"{text}: {describe(record.exc_info[1])}"
            print(f"isru uplink: {text}", file=sys.stderr, flush=True)
        except Exception:  # a log line that cannot be written is dropped
            pass


for _logger in (MQTT_LOG, log):
    _logger.addHandler(_OneLine())
    _logger.propagate = False


def describe(exc: BaseException) -> str:
    """``Type: message`` of an exception, on one line and at most 300 characters."""
    try:
        text = str(exc)
    except Exception:  # e.g. a huge integer in the message
        text = ""
    text = " ".join(f"{type(exc).__name__}: {text}".split()) if text else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def guard(what: str, function: Callable[..., Any], *args: Any) -> None:
    """Call ``function``; a failure is logged on one line, never raised."""
    try:
        function(*args)
    except Exception as exc:
        log.error("%s failed: %s", what, describe(exc))


class Tasks:
    """The session's background tasks (publishes, commands, the replay): each one's failure
    is logged on one line, and :meth:`cancel` ends those still running."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._reap)
        return task

    def _reap(self, task: asyncio.Task[Any]) -> None:
        """A task ended: its failure, if any, is logged on one line (an exception left
        unretrieved would be printed with a traceback when the task is collected)."""
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("%s failed: %s", task.get_name(), describe(exc))

    async def cancel(self) -> None:
        for task in tuple(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
