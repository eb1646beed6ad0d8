"""Shared fixtures: a real mosquitto broker per test (see isru/broker.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from isru.broker import Mosquitto


@pytest.fixture
async def mosquitto(tmp_path: Path) -> AsyncIterator[Mosquitto]:
    """A started anonymous-access broker on a free port, stopped after the test."""
    async with Mosquitto(tmp_path / "mosquitto") as broker:
        yield broker
