"""Shared fixtures: a real mosquitto broker per test (see isru/broker.py), and the emulated
boards at ``handle()`` level on a manual clock for the firmware tests (tests/test_sim_*.py).

The ``req(*ids)`` marker ties a test to the requirement ids of docs/ (tests/requirements.py);
``pytest --collect-only -q --requirements`` lists, per requirement, the tests that prove it."""

from __future__ import annotations

import random
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from isru.broker import Mosquitto
from sim.boot_store import BootStore
from sim.clock import ManualClock
from sim.elec_board import ElecFirmware
from sim.oven_board import OvenFirmware
from sim.scoop_board import ScoopFirmware
from tests.firmware_requests import Collector
from tests.requirements import documented

#: Signals a shell leaves ignored in what it starts in the background (SIGINT, SIGQUIT: POSIX,
#: job control off) or under nohup (SIGHUP), and the disposition each test's children need.
_DEAFENED = (
    (signal.SIGINT, signal.default_int_handler),
    (signal.SIGQUIT, signal.SIG_DFL),
    (signal.SIGHUP, signal.SIG_DFL),
)


def pytest_configure(config: pytest.Config) -> None:
    # Processes inherit an ignored signal through exec. A suite started in the background by a
    # script or a CI runner would start every flight, sim and verb deaf to the Ctrl-C, SIGQUIT
    # and SIGHUP its tests send, and those tests would hang: hear them again.
    for signum, disposition in _DEAFENED:
        if signal.getsignal(signum) == signal.SIG_IGN:
            signal.signal(signum, disposition)
    config.addinivalue_line(
        "markers",
        "req(*ids): the test proves the requirements with these ids (FLT-08, GND-22...) of docs/",
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--requirements",
        action="store_true",
        help="after the run (or --collect-only), list each requirement of docs/ with its tests",
    )


_PROVED: dict[str, list[str]] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _PROVED.clear()
    for item in items:
        for marker in item.iter_markers("req"):
            for rid in marker.args:
                _PROVED.setdefault(rid, []).append(item.nodeid)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    if not config.getoption("requirements"):
        return
    terminalreporter.section("requirements")
    ids = documented()
    for rid, page in sorted(ids.items()):
        tests = _PROVED.get(rid, [])
        terminalreporter.write_line(f"{rid} ({page}): {len(tests)} test(s)")
        for nodeid in tests:
            terminalreporter.write_line(f"    {nodeid}")
    for rid in sorted(_PROVED.keys() - ids.keys()):
        terminalreporter.write_line(f"{rid}: not a requirement in docs/ ({_PROVED[rid][0]})")


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


@pytest.fixture
def oven(clock: ManualClock) -> OvenFirmware:
    """A booted oven board on ``clock``, without its host watchdog (lid sealed, empty)."""
    fw = OvenFirmware(
        clock=clock, boot_store=BootStore("oven"), rng=random.Random(3), host_timeout_s=None
    )
    fw.start()
    return fw
