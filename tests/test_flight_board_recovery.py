"""Host behaviour a board firmware exposed: the uptime wrap, FAULT-tolerant commands,
completion tolerances, a stream switched off, and a flight software that froze.

The boards are the simulator over real ptys (``tests/flightstack.py``). Where a real board
differs from the simulated one (a supply a few percent off, a joint that stops short, 49.7
days of uptime) the test changes the simulated board's physics or state in-process, as a
fault injection would.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flight.dispatcher import Reason, Stage
from flight.events import Event
from flight.handlers import CELL_CURRENT_TOLERANCE_A, JOINT_TOLERANCE_DEG
from flight.verify import not_older
from hal import Joint, Valve
from interface.dictionary import Mode
from isru.broker import Mosquitto
from isru.sim_child import SimChild
from tests.flightstack import Stack, flight_stack
from tests.ground_probe import Received, ground_probe
from tests.test_flight_cli import flight_process, write_config

WRAP = 1 << 32


def on(board: str) -> Callable[[Event], bool]:
    return lambda event: event.args.get("board") == board


@pytest.fixture
async def stack(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with flight_stack(tmp_path) as s:
        yield s


# --- uptime wrap ------------------------------------------------------------------------


@given(since=st.integers(0, WRAP - 1), ahead=st.integers(0, WRAP // 2 - 1))
def test_flight_board_recovery_uptime_later_across_the_wrap_is_not_older(
    since: int, ahead: int
) -> None:
    later = (since + ahead) % WRAP
    assert not_older(later, since)
    if ahead:
        assert not not_older(since, later)


@pytest.mark.req("FLT-08")
async def test_flight_board_recovery_uptime_wrapping_during_a_move_still_completes(
    tmp_path: Path,
) -> None:
    # Time scale 10: the 3 s to the wrap are 0.3 s of the test, ample for the command's ACK.
    async with flight_stack(tmp_path, time_scale=10) as stack:
        await stack.ok("MODE.IDLE")
        await stack.ok("SCOOP.HOME")
        seen: list[tuple[int, str]] = []

        def record(packet: str, values: dict[str, Any]) -> None:
            if packet == "scoop" and "scoop.uptime_ms" in values:
                seen.append((values["scoop.uptime_ms"], values["scoop.state"]))

        stack.app.channels.listen(record)
        board = stack.sim.scoop
        board.boot_time = board.clock.now() - (WRAP - 3_000) / 1000  # up 49.7 days, 3 s to go
        acks = await stack.send("SCOOP.MOVE", joint="BOOM", angle_deg=90.0, speed_dps=10.0)
        assert acks[-1].stage is Stage.COMPLETED, acks[-1]
        assert any(uptime > WRAP // 2 and state == "MOVING" for uptime, state in seen)
        assert seen[-1][0] < 60_000  # ...and it came to rest after the wrap
        assert stack.app.channels.values["scoop.boom_angle_deg"] == pytest.approx(90.0, abs=0.5)


# --- commands a board in FAULT carries out --------------------------------------------


async def test_flight_board_recovery_vent_and_close_on_an_over_pressure_fault_complete(
    stack: Stack,
) -> None:
    await stack.ok("MODE.IDLE")
    stack.sim.set_drift("elec", "h2_pressure", 100.0)  # the H2 reading climbs 100 kPa/s
    await stack.until(lambda v: v.get("elec.h2_overpressure") is True)
    stack.sim.set_drift("elec", "h2_pressure", 0.0)  # and stays above the 400 kPa trip
    fault = await stack.event("BOARD_FAULT", on("elec"))
    assert fault.args["cause"] == "H2_OVERPRESSURE"
    await stack.until(lambda v: v.get("core.mode") == "SAFE")  # its red limit came first
    await stack.ok("MODE.IDLE")
    await stack.ok("CORE.ARM", command="ELEC.VENT")
    vent = await stack.send("ELEC.VENT", gas="H2")
    assert vent[-1].stage is Stage.COMPLETED, vent[-1]
    assert stack.sim.elec.valves[Valve.H2_VENT]
    assert stack.app.channels.values["elec.state"] == "FAULT"  # the cause is still there
    close = await stack.send("ELEC.VENT_CLOSE", gas="H2")
    assert close[-1].stage is Stage.COMPLETED, close[-1]
    assert not stack.sim.elec.valves[Valve.H2_VENT]
    stack.sim.clear_faults("elec")  # the reading is true again: the cause is gone
    await stack.ok("ELEC.STOP")
    await stack.event("BOARD_FAULT_CLEARED", on("elec"))
    assert stack.app.channels.values["elec.state"] == "IDLE"


async def test_flight_board_recovery_stop_completes_while_its_fault_cause_remains(
    stack: Stack,
) -> None:
    await stack.ok("MODE.IDLE")
    stack.sim.set_drift("elec", "h2_pressure", 100.0)
    await stack.until(lambda v: v.get("elec.h2_overpressure") is True)
    stack.sim.set_drift("elec", "h2_pressure", 0.0)
    await stack.ok("ELEC.STOP")  # current off, as asked; the FAULT stays, and says why
    assert stack.app.channels.values["elec.state"] == "FAULT"


async def test_flight_board_recovery_move_on_a_board_in_fault_still_fails_device_fault(
    stack: Stack,
) -> None:
    await stack.ok("MODE.IDLE")
    await stack.ok("SCOOP.HOME")
    stack.sim.set_stall(Joint.BOOM, True)
    acks = await stack.send("SCOOP.MOVE", joint="BOOM", angle_deg=45.0, speed_dps=10.0)
    assert acks[-1].reason in (Reason.DEVICE_FAULT, Reason.ABORTED), acks[-1]
    fault = await stack.event("BOARD_FAULT", on("scoop"))
    assert fault.args["cause"] == "BOOM_STALL"


# --- completion tolerances ------------------------------------------------------------


def supply_gain(monkeypatch: pytest.MonkeyPatch, stack: Stack, gain: float) -> None:
    """The cell's current source delivers ``gain`` times its setpoint."""
    cell = stack.sim.elec.cell
    step = cell.step

    def off_by_gain(dt: float) -> None:
        cell.setpoint_a *= gain  # the firmware sets the setpoint again before every step
        step(dt)

    monkeypatch.setattr(cell, "step", off_by_gain)


async def test_flight_board_recovery_cell_current_3_percent_off_completes(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    supply_gain(monkeypatch, stack, 1.03)
    await stack.ok("MODE.IDLE")
    acks = await stack.send("ELEC.START", current_a=2.0)
    assert acks[-1].stage is Stage.COMPLETED, acks[-1]
    assert stack.app.channels.values["elec.cell_current_a"] == pytest.approx(2.06, abs=0.001)
    await stack.ok("ELEC.STOP")


@pytest.mark.req("FLT-08")
async def test_flight_board_recovery_cell_current_beyond_tolerance_fails_naming_the_current(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    supply_gain(monkeypatch, stack, 1 + 1.5 * CELL_CURRENT_TOLERANCE_A / 4.0)
    await stack.ok("MODE.IDLE")
    acks = await stack.send("ELEC.START", current_a=4.0)
    assert acks[-1].reason is Reason.VERIFY_TIMEOUT, acks[-1]
    assert "cell current at 4 A +- 0.2 A not seen within 10 s" in acks[-1].detail
    assert "cell current 4.300 A" in acks[-1].detail


def joint_stops_short(monkeypatch: pytest.MonkeyPatch, stack: Stack, short_deg: float) -> None:
    """The joint's controller comes to rest ``short_deg`` before the target."""
    arm = stack.sim.scoop.arm
    move = arm.move
    monkeypatch.setattr(
        arm, "move", lambda joint, angle, speed: move(joint, angle - short_deg, speed)
    )


async def test_flight_board_recovery_move_resting_within_tolerance_completes(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    await stack.ok("MODE.IDLE")
    await stack.ok("SCOOP.HOME")
    joint_stops_short(monkeypatch, stack, 1.5)
    acks = await stack.send("SCOOP.MOVE", joint="BOOM", angle_deg=45.0, speed_dps=10.0)
    assert acks[-1].stage is Stage.COMPLETED, acks[-1]
    assert stack.app.channels.values["scoop.boom_angle_deg"] == pytest.approx(43.5, abs=0.1)


async def test_flight_board_recovery_move_resting_beyond_tolerance_fails_at_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    await stack.ok("MODE.IDLE")
    await stack.ok("SCOOP.HOME")
    joint_stops_short(monkeypatch, stack, JOINT_TOLERANCE_DEG + 1.0)
    acks = await stack.send("SCOOP.MOVE", joint="BOOM", angle_deg=45.0, speed_dps=10.0)
    final = acks[-1]
    assert final.reason is Reason.DEVICE_FAULT, final
    assert final.detail == (
        "boom came to rest at 42.00 deg, 3.00 deg from the 45 deg commanded (tolerance 2 deg)"
    )
    # Not after the 60 s window: as soon as the joint was at rest (a 4.2 s slew).
    assert (final.time - acks[0].time).total_seconds() < 15


# --- telemetry stream off -------------------------------------------------------------


@pytest.mark.req("FLT-08")
async def test_flight_board_recovery_commands_verify_with_the_stream_off(stack: Stack) -> None:
    await stack.ok("MODE.IDLE")
    await stack.ok("CORE.TM_RATE", board="scoop", rate_hz=0)
    for name, args in (
        ("SCOOP.HOME", {}),
        ("SCOOP.MOVE", {"joint": "SCOOP", "angle_deg": 30.0, "speed_dps": 15.0}),
    ):
        acks = await stack.send(name, **args)
        assert acks[-1].stage is Stage.COMPLETED, acks[-1]
        # Seen when it happened (a 2 s slew), not at the end of the 30 s or 60 s window.
        assert (acks[-1].time - acks[0].time).total_seconds() < 10, name
    assert stack.sim.scoop.tm_rate_hz == 0  # nothing was streamed: the host asked


async def test_flight_board_recovery_limits_are_checked_with_the_stream_off(stack: Stack) -> None:
    await stack.ok("MODE.IDLE")
    await stack.ok("CORE.TM_RATE", board="elec", rate_hz=0)
    stack.sim.set_drift("elec", "h2_pressure", 20.0)
    red = await stack.event("LIMIT_RED")
    assert red.args["channel"] == "elec.h2_pressure_kpa"
    await stack.until(lambda v: v.get("core.mode") == "SAFE")


# --- the flight software froze --------------------------------------------------------


@pytest.mark.req("FLT-15")
async def test_flight_board_recovery_host_timeout_after_a_freeze_is_reported_safed_and_cleared(
    tmp_path: Path,
) -> None:
    # Real time (scale 1): the boards' 3 s watchdog and the 1 s heartbeat as on the payload.
    async with flight_stack(tmp_path, time_scale=1) as stack:
        await stack.ok("MODE.IDLE")
        await stack.ok("ELEC.START", current_a=2.0)
        frozen = asyncio.Event()

        def freeze() -> None:
            time.sleep(3.5)  # the whole event loop stops, as in a SIGSTOP or a long GC pause
            frozen.set()

        asyncio.get_running_loop().call_soon(freeze)
        await frozen.wait()
        faults = [await stack.event("BOARD_FAULT", on(board)) for board in ("scoop", "elec")]
        assert all(f.args["cause"] == "HOST_TIMEOUT" for f in faults)
        assert "host watchdog tripped" in faults[0].text
        safing = await stack.event("SAFING")
        assert "host watchdog" in safing.args["reason"]
        await stack.until(
            lambda v: (
                v.get("core.mode") == "SAFE"
                and v.get("scoop.state") == "IDLE"
                and v.get("elec.state") == "IDLE"
                and v.get("elec.host_timeout") is False
            )
        )
        for board in ("scoop", "elec"):
            await stack.event("BOARD_FAULT_CLEARED", on(board))
        # The operator goes on.
        await stack.ok("MODE.IDLE")
        await stack.ok("ELEC.START", current_a=2.0)
        assert stack.app.modes.mode is Mode.OPERATING


def event_of(board: str, event_id: str) -> Callable[[Received], bool]:
    return lambda m: (
        m.topic.endswith("/evr")
        and m.payload.get("id") == event_id
        and m.payload["args"].get("board") == board
    )


@pytest.mark.req("FLT-15")
async def test_flight_board_recovery_host_timeout_after_sigstop_of_isru_flight(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    async with (
        SimChild(args=["--link-dir", str(tmp_path)]) as sim,
        ground_probe(mosquitto.host, mosquitto.port, "cli-test") as ground,
    ):
        config = write_config(
            tmp_path / "flight.toml", sim.urls, tmp_path / "state", broker=mosquitto.url
        )
        flight = flight_process(config)
        async with flight:  # its stderr is read all along
            try:
                await ground.wait_for(  # a whole elec packet: the interlocks have their values
                    lambda m: m.topic.endswith("/tm/elec") and "elec.state" in m.payload["values"]
                )
                for name, args in (("MODE.IDLE", {}), ("ELEC.START", {"current_a": 2.0})):
                    ack = await ground.final_ack(await ground.command(name, args))
                    assert ack["stage"] == "COMPLETED", (ack.get("reason"), ack.get("detail"))
                flight.send_signal(signal.SIGSTOP)
                await asyncio.sleep(3.5)  # the freeze itself, longer than the boards' 3 s watchdog
                flight.send_signal(signal.SIGCONT)
                for board in ("scoop", "elec"):
                    fault = await ground.wait_for(event_of(board, "BOARD_FAULT"))
                    assert fault.payload["args"]["cause"] == "HOST_TIMEOUT"
                    await ground.wait_for(event_of(board, "BOARD_FAULT_CLEARED"))
                await ground.wait_for(
                    lambda m: (
                        m.topic.endswith("/tm/core") and m.payload["values"]["core.mode"] == "SAFE"
                    )
                )
                for name, args in (("MODE.IDLE", {}), ("ELEC.START", {"current_a": 2.0})):
                    ack = await ground.final_ack(await ground.command(name, args))
                    assert ack["stage"] == "COMPLETED", (ack.get("reason"), ack.get("detail"))
            finally:
                flight.send_signal(signal.SIGCONT)
                flight.send_signal(signal.SIGTERM)
                async with asyncio.timeout(20):
                    code = await flight.wait()
                await flight.stop()  # exited: the rest of its output
    stderr = "\n".join(flight.stderr_lines)
    assert code == 0, stderr
    assert "Traceback" not in stderr
