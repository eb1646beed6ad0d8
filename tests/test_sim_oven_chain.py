"""The emulated oven among the others: regolith in from the scoop, water out to the elec
board, the HAL driver on the oven's own pty, and any command sequence keeping the board's
state and flags consistent (hypothesis)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hal import DeviceNack, OvenDriver, SerialLink
from hal.commands import (
    Dig,
    DumpCommand,
    DumpTarget,
    HeatCommand,
    LidCommand,
    TransferCommand,
    TrapCommand,
)
from hal.message import MsgType, NackCode
from hal.telemetry import OvenFlags, OvenState
from sim import ManualClock, SimBoards
from sim.boot_store import BootStore
from sim.oven_board import HEATER_RATED_W, OvenFirmware
from sim.oven_control import PUMP_FLOW_G_S
from sim.scoop_arm import sample_mass_g
from tests.firmware_requests import acked, homed, oven_tm, request
from tests.test_sim_oven_board import FAULTS, LID, load, water_on_trap


@pytest.fixture
async def sim() -> AsyncIterator[SimBoards]:
    async with SimBoards(tcp=True, clock=ManualClock(), host_timeout_s=None, seed=7) as boards:
        yield boards


DUG_G = sample_mass_g(30.0)


async def dig_and_dump(sim: SimBoards, target: DumpTarget, depth_mm: float = 30.0) -> None:
    """HOME, DIG (30 mm: ``sample_mass_g(30.0)``, 92.3 g), DUMP at ``target``."""
    assert isinstance(sim.clock, ManualClock)
    await homed(sim.scoop, sim.clock)
    acked(request(sim.scoop, "DIG", Dig(depth_mm)))
    await sim.clock.advance(10.0)
    acked(request(sim.scoop, "DUMP", DumpCommand(target)))
    await sim.clock.advance(10.0)


async def open_lid(sim: SimBoards) -> None:
    assert isinstance(sim.clock, ManualClock)
    acked(request(sim.oven, "SET_LID", LidCommand(1)))
    await sim.clock.advance(2.5)


@pytest.mark.req("SIM-16")
async def test_sim_oven_chain_dump_to_an_open_oven_fills_its_hopper(sim: SimBoards) -> None:
    await open_lid(sim)
    await dig_and_dump(sim, DumpTarget.OVEN)
    tm = oven_tm(sim.oven)
    assert sim.oven_loaded_g == pytest.approx(DUG_G)
    # on the load cell: less the ice subliming in the open hopper (about 1 %), and its noise
    assert tm.sample_mass_g == pytest.approx(DUG_G, rel=0.02)
    assert tm.flags & OvenFlags.SAMPLE_LOADED
    assert sim.oven.physics.water_in_g == pytest.approx(DUG_G * (5.6 + 0.15) / 100)
    assert sim.ground_g == 0.0


@pytest.mark.req("SIM-16")
@pytest.mark.parametrize("target", [DumpTarget.OVEN, DumpTarget.GROUND])
async def test_sim_oven_chain_dump_at_a_closed_lid_or_the_ground_is_lost(
    sim: SimBoards, target: DumpTarget
) -> None:
    if target is DumpTarget.GROUND:
        await open_lid(sim)  # open or not, the ground is the ground
    await dig_and_dump(sim, target)
    assert sim.ground_g == pytest.approx(DUG_G)
    assert sim.oven.physics.sample_mass_g == 0.0


async def test_sim_oven_chain_ice_content_is_the_simulator_s_setting() -> None:
    async with SimBoards(tcp=True, clock=ManualClock(), host_timeout_s=None, ice_wt_pct=10) as sim:
        await open_lid(sim)
        await dig_and_dump(sim, DumpTarget.OVEN)
        assert sim.oven.physics.water_in_g == pytest.approx(DUG_G * (10 + 0.15) / 100)


@pytest.mark.req("SIM-16")
async def test_sim_oven_chain_pump_fills_the_elec_reservoir(sim: SimBoards) -> None:
    assert isinstance(sim.clock, ManualClock)
    before = sim.elec.cell.water_g
    liquid = await water_on_trap(sim.oven, sim.clock)
    acked(request(sim.oven, "TRANSFER", TransferCommand(1.0)))
    await sim.clock.advance(1.0 / PUMP_FLOW_G_S + 0.5)
    assert liquid > 1.0
    assert sim.elec.cell.water_g == pytest.approx(before + 1.0, abs=1e-6)
    assert oven_tm(sim.oven).water_transferred_g == pytest.approx(1.0, abs=1e-6)


@pytest.mark.req("SIM-16")
async def test_sim_oven_chain_heat_cycle_turns_dug_regolith_into_cell_water(
    sim: SimBoards,
) -> None:
    """Dig, dump into the oven, seal, freeze the vapour out, melt it, pump it to the cell."""
    clock, oven = sim.clock, sim.oven
    assert isinstance(clock, ManualClock)
    acked(request(oven, "SET_TRAP", TrapCommand(1, -60.0)))
    await open_lid(sim)
    await homed(sim.scoop, clock)
    acked(request(sim.scoop, "DIG", Dig(13.0)))  # 37.7 g
    await clock.advance(10.0)
    acked(request(sim.scoop, "DUMP", DumpCommand(DumpTarget.OVEN)))
    while not oven_tm(oven).flags & OvenFlags.SAMPLE_LOADED:
        await clock.advance(0.1)
    acked(request(oven, "SET_LID", LidCommand(0)))  # at once: the ice sublimes to vacuum
    await clock.advance(2.5)
    sealed_in = oven.physics.water_in_g - oven.physics.lost_g  # what the sealed oven holds
    assert sealed_in > 1.0  # of 2.16 g (5.6 % ice and 0.15 % bound water)
    acked(request(oven, "HEAT", HeatCommand(120.0, 30.0, 150.0)))
    for _ in range(30):
        await clock.advance(10.0)
        assert oven_tm(oven).state is not OvenState.FAULT
    tm = oven_tm(oven)
    assert tm.state is OvenState.HOLDING
    assert tm.sample_temp_c == pytest.approx(120.0, abs=2.0)
    assert tm.water_collected_g > 0.85 * sealed_in  # the trap catches 90 % of what it sees
    acked(request(oven, "HEATER_OFF"))
    acked(request(oven, "SET_TRAP", TrapCommand(1, 10.0)))
    await clock.advance(60.0)
    water_before = sim.elec.cell.water_g
    acked(request(oven, "TRANSFER", TransferCommand(100.0)))
    await clock.advance(tm.water_collected_g / PUMP_FLOW_G_S + 5.0)
    tm = oven_tm(oven)
    assert tm.state is OvenState.IDLE
    assert tm.water_transferred_g > 0.8 * sealed_in
    assert sim.elec.cell.water_g - water_before == pytest.approx(tm.water_transferred_g, rel=1e-5)


async def test_sim_oven_chain_answers_the_hal_driver_on_its_own_pty() -> None:
    """The SIL oven: OvenDriver over a real pty, every command, an INTERLOCK as DeviceNack."""
    clock = ManualClock()
    async with (
        SimBoards(clock=clock, host_timeout_s=None) as sim,
        SerialLink(url=sim.urls["oven"], timeout_s=0.1, retries=5) as link,
    ):
        oven = OvenDriver(link)
        assert (await oven.info()).board.name == "OVEN"
        with pytest.raises(DeviceNack, match="INTERLOCK") as refusal:
            await oven.heat(setpoint_c=100.0, ramp_c_per_min=10.0, power_limit_w=50.0)
        assert refusal.value.code == NackCode.INTERLOCK
        load(sim.oven)
        await oven.set_trap(enabled=True, setpoint_c=-60.0)
        await oven.heat(setpoint_c=60.0, ramp_c_per_min=60.0, power_limit_w=100.0)
        await oven.hold()
        assert (await oven.get_status()).state is OvenState.HOLDING
        await clock.advance(60.0)
        await oven.heater_off()
        await oven.set_trap(enabled=True, setpoint_c=10.0)
        await clock.advance(30.0)
        await oven.transfer(water_g=0.5)
        assert (await oven.get_status()).flags & OvenFlags.PUMP_ON
        await clock.advance(10.0)
        await oven.eject()
        await oven.set_lid(open=True)
        tm = await oven.get_status()
        assert tm.state is OvenState.EJECTING
        assert tm.flags & OvenFlags.LID_MOVING
        assert tm.water_transferred_g == pytest.approx(0.5, abs=1e-6)
        await oven.stop()


# -- any sequence of commands, time and faults ---------------------------------------------

_COMMANDS = st.one_of(
    st.tuples(st.just("SET_LID"), st.builds(LidCommand, st.integers(0, 1))),
    st.tuples(
        st.just("HEAT"),
        st.builds(
            HeatCommand,
            st.floats(-50.0, 450.0),
            st.floats(0.5, 60.0),
            st.floats(1.0, 200.0),
        ),
    ),
    st.tuples(st.sampled_from(["HOLD", "HEATER_OFF", "EJECT", "STOP", "GET_STATUS"]), st.none()),
    st.tuples(
        st.just("SET_TRAP"), st.builds(TrapCommand, st.integers(0, 1), st.floats(-150.0, 40.0))
    ),
    st.tuples(st.just("TRANSFER"), st.builds(TransferCommand, st.floats(0.5, 100.0))),
)
_ACTIONS = st.one_of(
    st.tuples(st.just("request"), _COMMANDS),
    st.tuples(st.just("wait"), st.floats(0.01, 2.0)),
    st.tuples(st.just("load"), st.floats(0.5, 5.0)),
    st.tuples(st.just("fault"), st.sampled_from(["stuck", "stall", "open", "hot", "clear"])),
)


def _check_invariants(oven: OvenFirmware, stuck: bool) -> None:
    tm = oven.telemetry()
    lid = tm.flags & LID
    assert lid in (OvenFlags(0), OvenFlags.LID_SEALED, OvenFlags.LID_OPEN, OvenFlags.LID_MOVING)
    assert (tm.state is OvenState.FAULT) == bool(tm.flags & FAULTS)
    heater_on = bool(tm.flags & OvenFlags.HEATER_ON)
    if tm.state in (OvenState.HEATING, OvenState.HOLDING):
        assert heater_on
    if heater_on:
        assert tm.state in (OvenState.HEATING, OvenState.HOLDING, OvenState.TRANSFERRING)
        assert tm.heater_power_w <= (HEATER_RATED_W if stuck else oven.heater.limit_w)
    else:
        assert tm.heater_power_w == 0.0
    assert (tm.state is OvenState.TRANSFERRING) == (
        bool(tm.flags & OvenFlags.PUMP_ON) and tm.state is not OvenState.EJECTING
    ) or tm.state is OvenState.FAULT
    if tm.state is OvenState.FAULT:
        assert not tm.flags & (OvenFlags.HEATER_ON | OvenFlags.PUMP_ON)


@settings(max_examples=150, deadline=None)
@given(actions=st.lists(_ACTIONS, max_size=15))
@example(  # a lower power limit while heating holds from that HEAT on (found by this test)
    actions=[
        ("load", 2.0),
        ("request", ("HEAT", HeatCommand(0.0, 1.0, 2.0))),
        ("wait", 1.0),
        ("request", ("HEAT", HeatCommand(0.0, 1.0, 1.0))),
    ]
)
@example(  # a heater that stops being stuck follows its controller at once (found by this test)
    actions=[("load", 2.0), ("fault", "stuck"), ("request", ("HOLD", None)), ("fault", "clear")]
)
def test_sim_oven_chain_any_sequence_keeps_its_state_and_flags_consistent(
    actions: list[tuple[str, object]],
) -> None:
    clock = ManualClock()
    oven = OvenFirmware(
        clock=clock, boot_store=BootStore("oven"), rng=random.Random(0), host_timeout_s=None
    )
    oven.start()
    for kind, what in actions:
        if kind == "request":
            assert isinstance(what, tuple)
            reply = request(oven, what[0], what[1])
            assert reply.type in (MsgType.ACK, MsgType.NACK)
        elif kind == "wait":
            assert isinstance(what, float)
            clock.step_to(clock.now() + what)
        elif kind == "load":
            assert isinstance(what, float)
            load(oven, what)
        elif what == "clear":
            oven.heater_stuck = oven.pump.stalled = False
            oven.sensors.clear()
        else:
            oven.heater_stuck |= what == "stuck"
            oven.pump.stalled |= what == "stall"
            if what == "open":
                oven.sensors.open.add("trap_temp")
            if what == "hot":
                oven.sensors.drift["wall_temp"] = 600.0
        _check_invariants(oven, oven.heater_stuck)
