"""The emulated scoop board at handle() level, on a manual clock: home, joints, dig cycle,
stall, stop."""

from __future__ import annotations

import pytest

from hal.commands import (
    Dig,
    DumpCommand,
    DumpTarget,
    Joint,
    MoveJoint,
    TelemetryRate,
    WeighResult,
)
from hal.layout import layout_of
from hal.message import NackCode
from hal.telemetry import (
    ScoopFlags,
    ScoopState,
)
from sim.clock import ManualClock
from sim.scoop_arm import sample_mass_g
from sim.scoop_board import ScoopFirmware
from tests.firmware_requests import acked, homed, nack, request, scoop_tm


async def test_sim_scoop_board_home_acks_at_once_then_homes_in_telemetry(
    scoop: ScoopFirmware, clock: ManualClock
) -> None:
    acked(request(scoop, "HOME"))
    assert scoop_tm(scoop).state is ScoopState.HOMING
    assert scoop_tm(scoop).flags & ScoopFlags.MOTORS_ON
    await clock.advance(10.0)
    tm = scoop_tm(scoop)
    assert tm.state is ScoopState.IDLE
    home = ScoopFlags.HOMED | ScoopFlags.BOOM_HOME_SWITCH | ScoopFlags.SCOOP_HOME_SWITCH
    assert tm.flags & home == home
    assert (tm.boom_angle_deg, tm.scoop_angle_deg) == (0.0, 0.0)


async def test_sim_scoop_board_move_joint_slews_and_motion_while_moving_is_busy(
    scoop: ScoopFirmware, clock: ManualClock
) -> None:
    acked(request(scoop, "MOVE_JOINT", MoveJoint(Joint.BOOM, 60.0, 20.0)))
    assert scoop_tm(scoop).state is ScoopState.MOVING
    for name, args in (
        ("HOME", None),
        ("MOVE_JOINT", MoveJoint(Joint.SCOOP, 0.0, 5.0)),
        ("DUMP", DumpCommand(DumpTarget.GROUND)),
        ("TARE", None),
        ("WEIGH", None),
    ):
        assert nack(request(scoop, name, args))[0] is NackCode.BUSY, name
    await clock.advance(2.0)
    assert scoop.arm.boom_angle_deg == pytest.approx(60.0)
    assert scoop_tm(scoop).state is ScoopState.IDLE


async def test_sim_scoop_board_dig_needs_home(scoop: ScoopFirmware, clock: ManualClock) -> None:
    assert nack(request(scoop, "DIG", Dig(30.0))) == (NackCode.NOT_HOMED, None)
    await homed(scoop, clock)
    acked(request(scoop, "DIG", Dig(30.0)))
    assert nack(request(scoop, "DIG", Dig(30.0)))[0] is NackCode.BUSY


async def test_sim_scoop_board_dig_tare_weigh_dump_cycle(
    scoop: ScoopFirmware, clock: ManualClock
) -> None:
    await homed(scoop, clock)
    acked(request(scoop, "TARE"))
    acked(request(scoop, "DIG", Dig(30.0)))
    await clock.advance(3.0)
    tm = scoop_tm(scoop)
    assert tm.state is ScoopState.DIGGING
    assert tm.tool_depth_mm == pytest.approx(15.0, abs=0.2)
    await clock.advance(7.0)  # 6 s of penetration + 3 s of curl
    assert scoop_tm(scoop).state is ScoopState.IDLE
    weigh = layout_of(WeighResult).unpack(acked(request(scoop, "WEIGH")))
    assert weigh.mass_g == pytest.approx(sample_mass_g(30.0), abs=0.3)  # 92.3 g
    tm = scoop_tm(scoop)
    assert tm.sample_mass_g == weigh.mass_g
    assert tm.load_mass_g == pytest.approx(sample_mass_g(30.0), abs=1.0)
    acked(request(scoop, "DUMP", DumpCommand(DumpTarget.GROUND)))
    assert scoop_tm(scoop).state is ScoopState.DUMPING
    await clock.advance(10.0)
    assert scoop_tm(scoop).state is ScoopState.IDLE
    assert scoop_tm(scoop).load_mass_g == pytest.approx(0.0, abs=1.0)


@pytest.mark.req("SIM-09")
async def test_sim_scoop_board_stall_trips_to_fault_and_stop_clears_it(
    scoop: ScoopFirmware, clock: ManualClock
) -> None:
    scoop.arm.boom.stuck = True
    acked(request(scoop, "MOVE_JOINT", MoveJoint(Joint.BOOM, 60.0, 20.0)))
    await clock.advance(0.15)
    assert scoop_tm(scoop).boom_current_a == pytest.approx(2.5)
    await clock.advance(0.1)
    tm = scoop_tm(scoop)
    assert tm.state is ScoopState.FAULT
    assert tm.flags & ScoopFlags.BOOM_STALL
    assert not tm.flags & ScoopFlags.MOTORS_ON
    assert tm.boom_current_a == 0.0
    # In FAULT only STOP, RESET, GET_*, SET_TM_RATE answer normally.
    assert nack(request(scoop, "HOME"))[0] is NackCode.FAULT
    assert nack(request(scoop, "TARE"))[0] is NackCode.FAULT
    acked(request(scoop, "SET_TM_RATE", TelemetryRate(5.0)))
    acked(request(scoop, "GET_INFO"))
    acked(request(scoop, "STOP"))
    assert scoop_tm(scoop).state is ScoopState.IDLE


async def test_sim_scoop_board_stop_ends_a_motion(scoop: ScoopFirmware, clock: ManualClock) -> None:
    acked(request(scoop, "HOME"))
    await clock.advance(0.5)
    acked(request(scoop, "STOP"))
    angle = scoop.arm.boom_angle_deg
    await clock.advance(2.0)
    assert scoop.arm.boom_angle_deg == angle
    assert scoop_tm(scoop).state is ScoopState.IDLE
    assert not scoop.homed
