"""Shared fixtures: a real mosquitto broker per test (see isru/broker.py), and the emulated
boards at ``handle()`` level on a manual clock for the firmware tests (tests/test_sim_*.py)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from isru.broker import Mosquitto
from sim.boot_store import BootStore
from sim.clock import ManualClock
from sim.elec_board import ElecFirmware
from sim.scoop_board import ScoopFirmware
from tests.firmware_requests import Collector


@pytest.fixture
async def mosquitto(tmp_path: Path) -> AsyncIterator[Mosquitto]:
    """A started anonymous-access broker on a free port, stopped after the test."""
    async with Mosquitto(tmp_path / "mosquitto") as broker:
        yield broker


@pytest.fixture
def clock() -> ManualClock:
    """The firmware tests' manual clock (sim.clock): time moves only by ``advance``."""
    return ManualClock()


@pytest.fixture
def scoop_tm_out() -> Collector:
    """Every telemetry message the ``scoop`` board emits."""
    return Collector()


@pytest.fixture
def scoop(clock: ManualClock, scoop_tm_out: Collector) -> ScoopFirmware:
    """A booted scoop board on ``clock``, without its host watchdog."""
    # The host watchdog has tests of its own; here the "host" may sit silent for minutes.
    fw = ScoopFirmware(
        clock=clock,
        boot_store=BootStore("scoop"),
        rng=random.Random(1),
        emit=scoop_tm_out,
        host_timeout_s=None,
    )
    fw.start()
    return fw


@pytest.fixture
def elec(clock: ManualClock) -> ElecFirmware:
    """A booted electrolysis board on ``clock``, without its host watchdog."""
    fw = ElecFirmware(
        clock=clock, boot_store=BootStore("elec"), rng=random.Random(2), host_timeout_s=None
    )
    fw.start()
    return fw
