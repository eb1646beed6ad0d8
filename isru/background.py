"""A coroutine run as a task for the duration of a block, then cancelled and awaited."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

from interface.broker import stop_task

T = TypeVar("T")


@contextlib.asynccontextmanager
async def background(coroutine: Coroutine[Any, Any, T]) -> AsyncIterator[asyncio.Task[T]]:
    """``coroutine`` as a task for the block's duration, cancelled and awaited after it.

    Its own outcome after the block is dropped (the block read what it needed), but not a
    cancellation of ours: a stop that comes while the task is being ended still stops us."""
    task = asyncio.create_task(coroutine)
    try:
        yield task
    finally:
        task.add_done_callback(_retrieved)
        with contextlib.suppress(Exception):
            await stop_task(task)


def _retrieved(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()  # read, so that asyncio does not print it as never retrieved
