"""The SIL harness end to end: the `sil` fixture runs broker, simulator and flight per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from ground import CommandRefused, DictionaryMismatch, GroundClient, VehicleUnavailable
from interface.catalog import DICTIONARY
from isru.testing import FaultError, Sil
from sim.scoop_arm import sample_mass_g

DEMO = Path(__file__).parents[1] / "sequences" / "demo.seq"


@pytest.mark.req("GND-04", "GND-17")
async def test_harness_sends_and_awaits_every_stage(sil: Sil) -> None:
    acks = await sil.send_and_await("CORE.NOOP")
    assert [a.stage for a in acks] == ["ACCEPTED", "STARTED", "COMPLETED"]
    assert sil.client.status["mode"] == "SAFE"


@pytest.mark.req("GND-04")
async def test_harness_refused_command_shows_its_reason(sil: Sil) -> None:
    ack = await sil.send_expect_failure("SCOOP.HOME", reason="NOT_ALLOWED_IN_MODE")
    assert "not allowed in SAFE" in (ack.detail or "")
    with pytest.raises(CommandRefused, match="NOT_ALLOWED_IN_MODE"):
        await sil.send_and_await("SCOOP.HOME")


@pytest.mark.req("GND-03")
async def test_harness_checks_arguments_before_sending(sil: Sil) -> None:
    with pytest.raises(Exception, match="depth_mm"):
        await sil.send_and_await("SCOOP.DIG", depth_mm=500)


@pytest.mark.req("GND-17")
@pytest.mark.sil(time_scale=20)
async def test_harness_stall_fault_ends_in_safe(sil: Sil) -> None:
    await sil.send_and_await("MODE.IDLE")
    await sil.send_and_await("SCOOP.HOME", timeout=20)
    await sil.inject_fault("scoop", "stall", joint="boom", on=True)
    with pytest.raises(CommandRefused):
        await sil.send_and_await("SCOOP.MOVE", joint="BOOM", angle_deg=40.0, speed_dps=10.0)
    red = await sil.await_event(
        "LIMIT_RED", where=lambda e: e.args["channel"] == "scoop.boom_stall"
    )
    assert red.args["response"] == "SAFE"
    await sil.wait_telemetry("core.mode == SAFE")


@pytest.mark.req("GND-17")
async def test_harness_unknown_fault_is_refused(sil: Sil) -> None:
    with pytest.raises(FaultError, match="fault"):
        await sil.inject_fault("scoop", "meteorite")


@pytest.mark.req("GND-17")
@pytest.mark.sil(time_scale=20)
async def test_harness_runs_the_demo_sequence(sil: Sil) -> None:
    end, status = await sil.run_sequence(DEMO.read_text(), name="demo", timeout=90)
    assert end.id == "SEQ_COMPLETED", status
    assert sil.values["scoop.sample_mass_g"] == pytest.approx(sample_mass_g(30.0), abs=2.0)
    assert sil.values["elec.h2_pressure_kpa"] >= 150


@pytest.mark.req("GND-01")
async def test_harness_ground_client_refuses_a_vehicle_with_another_dictionary(sil: Sil) -> None:
    other = DICTIONARY.model_copy(update={"version": "0.0.0-other"})
    other = type(DICTIONARY).model_validate(other.model_dump())
    with pytest.raises(DictionaryMismatch, match="runs dictionary") as refused:
        async with GroundClient(broker=sil.stack.broker, vehicle="sil", expected=other):
            pass
    assert refused.value.found == DICTIONARY.hash
    async with GroundClient(
        broker=sil.stack.broker, vehicle="sil", expected=other, check_dictionary=False
    ) as watcher:
        assert watcher.status["state"] == "online"


@pytest.mark.req("GND-02")
async def test_harness_ground_client_names_a_missing_vehicle(sil: Sil) -> None:
    with pytest.raises(VehicleUnavailable, match="no dictionary from vehicle 'ghost'"):
        async with GroundClient(broker=sil.stack.broker, vehicle="ghost", timeout_s=0.5):
            pass
