"""A GroundClient's session against the SIL stack: what it hears, and what ends its reading."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ground import GroundClient
from isru.testing import Sil


@pytest.mark.sil(time_scale=10)
async def test_ground_session_persistent_client_closed_mid_stream_misses_no_sample(
    sil: Sil,
) -> None:
    # Closed while telemetry pours in (200 messages a second), a persistent client must not
    # drop a message it had acknowledged: the broker would never send it again.
    heard: dict[str, set[int]] = {}
    arrived = asyncio.Event()

    def listener(suffix: str, document: dict[str, Any]) -> None:
        if suffix.startswith("tm/"):
            heard.setdefault(suffix, set()).add(document["seq"])
            arrived.set()

    async def hear(count: int) -> None:
        target = sum(map(len, heard.values())) + count
        async with asyncio.timeout(20):
            while sum(map(len, heard.values())) < target:
                arrived.clear()
                await arrived.wait()

    def reopened() -> GroundClient:
        ground = GroundClient(
            broker=sil.stack.broker,
            vehicle=sil.stack.vehicle,
            identifier="reopened",
            clean_session=False,
        )
        ground.listen(listener)  # before entering: the messages kept for it come at once
        return ground

    for _ in range(12):
        async with reopened():
            await hear(7)
    newest = {stream: max(seqs) for stream, seqs in heard.items()}
    async with reopened():
        async with asyncio.timeout(20):
            while any(max(heard[stream]) <= seq for stream, seq in newest.items()):
                arrived.clear()
                await arrived.wait()
    for stream, seqs in heard.items():
        missing = set(range(min(seqs), max(seqs) + 1)) - seqs
        assert not missing, f"{stream}: samples {sorted(missing)} were acknowledged, never heard"


@pytest.mark.sil(time_scale=10)
async def test_ground_session_listener_error_is_raised_on_close(sil: Sil) -> None:
    raised = asyncio.Event()

    def listener(suffix: str, document: dict[str, Any]) -> None:
        if suffix.startswith("tm/"):
            raised.set()
            raise ValueError("a listener's bug")

    ground = GroundClient(broker=sil.stack.broker, vehicle=sil.stack.vehicle)
    ground.listen(listener)
    with pytest.raises(ValueError, match="a listener's bug"):
        async with ground:
            await asyncio.wait_for(raised.wait(), 20)
    assert not ground.connected
