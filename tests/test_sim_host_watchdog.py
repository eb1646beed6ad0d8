"""The boards' host watchdog (ICD §7) on manual clocks: safing when the host goes quiet, in
virtual and real seconds."""

from __future__ import annotations

import random

import pytest

from hal.commands import (
    CellCurrent,
    HeaterCommand,
    Valve,
    ValveCommand,
)
from hal.message import NackCode
from hal.telemetry import (
    ElecFlags,
    ElecState,
    ScoopFlags,
)
from sim.boot_store import BootStore
from sim.clock import ManualClock
from sim.elec_board import ElecFirmware
from sim.firmware import DEFAULT_HOST_TIMEOUT_S
from sim.scoop_board import ScoopFirmware
from tests.firmware_requests import acked, nack, request


@pytest.mark.req("SIM-14")
async def test_sim_host_watchdog_safes_the_elec_board_when_the_host_goes_quiet(
    clock: ManualClock,
) -> None:
    fw = ElecFirmware(clock=clock, boot_store=BootStore("elec"), rng=random.Random(5))
    fw.start()
    acked(request(fw, "SET_VALVE", ValveCommand(Valve.WATER_FEED, 1)))
    acked(request(fw, "SET_HEATER", HeaterCommand(1, 40.0)))
    acked(request(fw, "SET_CURRENT", CellCurrent(2.0)))
    acked(request(fw, "START"))
    for _ in range(5):  # a host that keeps talking keeps the cell running
        await clock.advance(2.0)
        acked(request(fw, "GET_INFO"))
    assert fw.current_on
    await clock.advance(DEFAULT_HOST_TIMEOUT_S + 0.1)
    assert not fw.current_on
    assert not fw.heater_enabled
    assert not any(fw.valves.values())
    tm = fw.telemetry()
    assert ElecFlags.HOST_TIMEOUT in tm.flags
    assert tm.state is ElecState.FAULT
    assert nack(request(fw, "START")) == (NackCode.FAULT, None)
    acked(request(fw, "STOP"))  # the host is back and acknowledges
    assert ElecFlags.HOST_TIMEOUT not in fw.telemetry().flags


@pytest.mark.req("SIM-14")
async def test_sim_host_watchdog_sleeps_until_the_host_first_speaks(clock: ManualClock) -> None:
    fw = ScoopFirmware(clock=clock, boot_store=BootStore("scoop"), rng=random.Random(6))
    fw.start()
    await clock.advance(60.0)
    assert not fw.in_fault
    acked(request(fw, "HOME"))
    await clock.advance(DEFAULT_HOST_TIMEOUT_S + 0.1)
    assert ScoopFlags.HOST_TIMEOUT in fw.telemetry().flags
    assert not fw.arm.motors_on


class SpedUpClock(ManualClock):
    """A manual clock standing in for ``RealClock(40)``: 40 virtual seconds a real second."""

    scale = 40.0


@pytest.mark.req("SIM-14")
async def test_sim_host_watchdog_on_a_sped_up_clock_gives_the_host_its_real_seconds() -> None:
    # At a time scale of 40, 3 virtual seconds are 75 ms of real time: a flight process
    # held up that long on a busy machine used to find its boards in FAULT (HOME refused).
    clock = SpedUpClock()
    fw = ScoopFirmware(clock=clock, boot_store=BootStore("scoop"), rng=random.Random(7))
    fw.start()
    acked(request(fw, "GET_INFO"))
    await clock.advance(0.5 * 40)  # half a real second without a request
    assert not fw.in_fault
    acked(request(fw, "HOME"))
    assert fw.host_timeout_virtual_s == DEFAULT_HOST_TIMEOUT_S * 40
    await clock.advance(DEFAULT_HOST_TIMEOUT_S * 40 - 1.0)
    assert not fw.in_fault
    await clock.advance(1.1)  # 3 s of real time: the host is gone, the board safes itself
    assert ScoopFlags.HOST_TIMEOUT in fw.telemetry().flags
    assert not fw.arm.motors_on


class SlowedClock(ManualClock):
    """A manual clock standing in for ``RealClock(0.5)``: slow motion."""

    scale = 0.5


async def test_sim_host_watchdog_on_a_slowed_clock_keeps_its_virtual_seconds() -> None:
    clock = SlowedClock()
    fw = ElecFirmware(clock=clock, boot_store=BootStore("elec"), rng=random.Random(8))
    fw.start()
    acked(request(fw, "GET_INFO"))
    assert fw.host_timeout_virtual_s == DEFAULT_HOST_TIMEOUT_S
    await clock.advance(DEFAULT_HOST_TIMEOUT_S + 0.1)
    assert ElecFlags.HOST_TIMEOUT in fw.telemetry().flags
