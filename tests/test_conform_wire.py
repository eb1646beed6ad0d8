"""The conformance kit's wire (isru/conform/wire.py): waiting on frames gives way to Ctrl-C."""

from __future__ import annotations

import asyncio

import pytest

from isru.conform.wire import BoardWire


async def test_board_wire_wait_until_ends_on_a_cancel_that_lands_with_a_frame() -> None:
    # Ctrl-C cancels the kit's task; at 50 Hz a frame often wakes the same wait in the same
    # turn. asyncio.wait_for (Python 3.11) returned the frame and dropped the cancel, so the
    # kit went on waiting for a sample nobody would load (CPython gh-86296).
    wire = BoardWire("socket://127.0.0.1:9", baudrate=115200, packet_id=3, telemetry_class=object)
    waiting = asyncio.create_task(wire.wait_until(lambda: None, timeout_s=60.0))
    loop = asyncio.get_running_loop()

    def frame_then_cancel() -> None:
        wire._notify()  # the frame wakes the wait ...
        loop.call_soon(waiting.cancel)  # ... and Ctrl-C lands right after it, same turn

    loop.call_soon(frame_then_cancel)
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(5.0):
            await waiting
