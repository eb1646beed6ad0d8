"""The onboard application against the simulated boards over real ptys."""

from __future__ import annotations

from pathlib import Path

import pytest

from flight.dictionary import Mode
from flight.dispatcher import Reason, Stage
from tests.flightstack import Stack, flight_stack


@pytest.fixture
async def stack(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with flight_stack(tmp_path) as s:
        yield s


async def test_app_boots_safe_with_actuators_off(stack: Stack) -> None:
    assert stack.app.modes.mode is Mode.SAFE
    boot = await stack.event("BOOT")
    assert "mode SAFE" in boot.text
    assert not stack.sim.elec.current_on
    assert stack.app.channels.values["elec.current_on"] is False


async def test_app_noop_reports_every_stage_in_safe(stack: Stack) -> None:
    acks = await stack.send("CORE.NOOP")
    assert [a.stage for a in acks] == [Stage.ACCEPTED, Stage.STARTED, Stage.COMPLETED]


async def test_app_device_command_in_safe_is_refused_naming_the_mode(stack: Stack) -> None:
    acks = await stack.send("SCOOP.HOME")
    assert [a.stage for a in acks] == [Stage.FAILED]
    assert acks[0].reason is Reason.NOT_ALLOWED_IN_MODE
    assert "not allowed in SAFE" in acks[0].detail


async def test_app_scoop_cycle_completes_only_when_confirmed(stack: Stack) -> None:
    await stack.ok("MODE.IDLE")
    acks = await stack.send("SCOOP.HOME")
    assert [a.stage for a in acks] == [Stage.ACCEPTED, Stage.STARTED, Stage.COMPLETED]
    assert stack.app.channels.values["scoop.homed"] is True
    await stack.ok("SCOOP.TARE")
    await stack.ok("SCOOP.DIG", depth_mm=30)
    assert stack.sim.scoop.state.name == "IDLE"  # the device had finished when we said so
    await stack.ok("SCOOP.WEIGH")
    assert stack.app.channels.values["scoop.sample_mass_g"] == pytest.approx(112.5, abs=2.0)
    assert stack.app.state.scoop_cycles_total == 1
