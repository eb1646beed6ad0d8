"""The HAL drivers against the simulated boards, end to end over real pseudo-terminals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hal import (
    DeviceNack,
    DumpTarget,
    ElecDriver,
    ElecFlags,
    ElecState,
    Joint,
    LinkState,
    NackCode,
    ScoopDriver,
    ScoopFlags,
    ScoopState,
    SerialLink,
    Valve,
    WrongBoard,
)
from isru.sim_child import SimChild
from sim import ManualClock, SimBoards, StartFaults
from sim.scoop_arm import sample_mass_g

#: What a 30 mm cut collects (sim/scoop_arm.py: the bowl's 25 cm2 x the regolith above 30 mm).
DUG_30_MM_G = sample_mass_g(30.0)
TM_TIMEOUT_S = 5.0


class Bench:
    """The simulated boards on a manual clock, with both drivers connected."""

    def __init__(self, sim: SimBoards, scoop: ScoopDriver, elec: ElecDriver) -> None:
        self.sim, self.scoop, self.elec = sim, scoop, elec
        assert isinstance(sim.clock, ManualClock)
        self.clock: ManualClock = sim.clock

    async def run_scoop_until_idle(self, *, seconds: float) -> None:
        """Advance virtual time a second at a time until the scoop reports IDLE."""
        for _ in range(int(seconds)):
            await self.clock.advance(1.0)
            if (await self.scoop.get_status()).state is ScoopState.IDLE:
                return
        raise AssertionError(f"scoop not idle after {seconds} s: {self.scoop.latest}")


async def open_bench(**sim_options: object) -> AsyncIterator[Bench]:
    clock = ManualClock()
    # Tests here sit idle on the virtual clock with actuators on; the watchdog has its own test.
    options = {"host_timeout_s": None, **sim_options}
    sim = SimBoards(clock=clock, **options)  # type: ignore[arg-type]
    async with (
        sim,
        SerialLink(url=sim.urls["scoop"], timeout_s=0.1, retries=5) as scoop_link,
        SerialLink(url=sim.urls["elec"], timeout_s=0.1, retries=5) as elec_link,
    ):
        yield Bench(sim, ScoopDriver(scoop_link), ElecDriver(elec_link))


@pytest.fixture
async def bench() -> AsyncIterator[Bench]:
    async for b in open_bench():
        yield b


async def scoop_cycle(bench: Bench) -> float:
    """Home, tare, dig 30 mm, weigh, dump: every scoop command. Returns the weighed mass."""
    scoop = bench.scoop
    await scoop.home()
    await bench.run_scoop_until_idle(seconds=60)
    assert ScoopFlags.HOMED in (await scoop.get_status()).flags
    await scoop.tare()
    await scoop.dig(depth_mm=30)
    assert (await scoop.get_status()).state is ScoopState.DIGGING
    await bench.run_scoop_until_idle(seconds=120)
    mass = await scoop.weigh()
    assert (await scoop.get_status()).sample_mass_g == pytest.approx(mass)
    await scoop.move_joint(Joint.BOOM, angle_deg=20.0, speed_dps=10.0)
    await bench.run_scoop_until_idle(seconds=30)
    assert (await scoop.get_status()).boom_angle_deg == pytest.approx(20.0, abs=0.5)
    await scoop.dump(target=DumpTarget.GROUND)
    await bench.run_scoop_until_idle(seconds=60)
    assert (await scoop.get_status()).load_mass_g == pytest.approx(0.0, abs=2.0)
    return mass


async def test_drivers_sim_scoop_driver_every_command_against_sim(bench: Bench) -> None:
    info = await bench.scoop.info()
    assert info.protocol_version == 1
    mass = await scoop_cycle(bench)
    assert mass == pytest.approx(DUG_30_MM_G, abs=2.0)
    await bench.scoop.move_joint(Joint.SCOOP, angle_deg=45.0, speed_dps=5.0)
    await bench.scoop.stop()
    assert (await bench.scoop.get_status()).state is ScoopState.IDLE


@pytest.mark.req("SIM-04")
async def test_drivers_sim_scoop_driver_streams_telemetry_at_the_set_rate(bench: Bench) -> None:
    await bench.scoop.set_telemetry_rate(50)
    before = bench.scoop.link.stats.telemetry
    await bench.clock.advance(1.0)
    snapshot = await bench.scoop.wait_for(lambda t: t.uptime_ms >= 1000, timeout_s=TM_TIMEOUT_S)
    assert snapshot.boot_count >= 1
    await bench.scoop.set_telemetry_rate(0)
    await bench.scoop.get_status()  # a marker: every frame sent before it has arrived
    assert bench.scoop.link.stats.telemetry - before == pytest.approx(50, abs=2)


async def test_drivers_sim_elec_driver_every_command_against_sim(bench: Bench) -> None:
    elec = bench.elec
    assert (await elec.info()).fw_major >= 0
    await elec.set_heater(enabled=True, setpoint_c=40.0)
    await elec.set_valve(Valve.WATER_FEED, open=True)
    await elec.set_current(current_a=2.0)
    await elec.start()
    await bench.clock.advance(60.0)
    running = await elec.get_status()
    assert running.state is ElecState.RUNNING
    assert running.cell_current_a == pytest.approx(2.0, rel=0.02)
    assert 1.4 < running.cell_voltage_v < 2.2
    assert running.h2_pressure_kpa > 100.0
    assert ElecFlags.HEATER_ON in running.flags
    await elec.set_valve(Valve.H2_VENT, open=True)
    assert ElecFlags.H2_VENT_OPEN in (await elec.get_status()).flags
    await elec.set_valve(Valve.H2_VENT, open=False)
    await elec.stop()
    stopped = await elec.get_status()
    assert stopped.state is ElecState.IDLE
    assert ElecFlags.CURRENT_ON not in stopped.flags
    assert ElecFlags.HEATER_ON not in stopped.flags


async def test_drivers_sim_elec_driver_reset_bumps_boot_count(bench: Bench) -> None:
    before = (await bench.elec.info()).boot_count
    await bench.elec.reset()
    assert (await bench.elec.info()).boot_count == before + 1


async def test_drivers_sim_scoop_driver_out_of_range_is_nacked_with_argument(bench: Bench) -> None:
    with pytest.raises(DeviceNack, match=r"MOVE_JOINT.*OUT_OF_RANGE.*argument 1") as info:
        await bench.scoop.move_joint(Joint.BOOM, angle_deg=120.0, speed_dps=5.0)
    assert info.value.code == NackCode.OUT_OF_RANGE
    with pytest.raises(DeviceNack, match=r"DIG.*OUT_OF_RANGE.*argument 0"):
        await bench.scoop.dig(depth_mm=500)
    with pytest.raises(DeviceNack, match=r"SET_CURRENT.*OUT_OF_RANGE"):
        await bench.elec.set_current(current_a=50.0)


async def test_drivers_sim_scoop_driver_dig_before_home_is_nacked(bench: Bench) -> None:
    with pytest.raises(DeviceNack, match="NOT_HOMED"):
        await bench.scoop.dig(depth_mm=30)


async def test_drivers_sim_driver_on_the_wrong_board_refuses(bench: Bench) -> None:
    confused = ScoopDriver(bench.elec.link)
    with pytest.raises(WrongBoard, match="expected the SCOOP board"):
        await confused.info()


async def test_drivers_sim_complete_every_command_with_one_percent_corruption() -> None:
    async for bench in open_bench(faults=StartFaults(corrupt=0.01), seed=7):
        await bench.scoop.set_telemetry_rate(20)
        mass = await scoop_cycle(bench)
        assert mass == pytest.approx(DUG_30_MM_G, abs=2.0)
        await bench.elec.set_current(current_a=1.0)
        await bench.elec.start()
        await bench.elec.stop()
        stats = bench.scoop.link.stats
        assert stats.crc_errors + stats.framing_errors > 0  # the corruption did reach us
        assert stats.timeouts == 0


async def test_drivers_sim_link_recovers_when_the_simulator_is_killed_and_restarted(
    tmp_path: Path,
) -> None:
    args = ["--link-dir", str(tmp_path), "--state-dir", str(tmp_path), "--time-scale", "10"]
    async with SimChild(args=args) as sim:
        url = sim.urls["scoop"]
        assert url == str(tmp_path / "scoop")
        async with SerialLink(url=url, timeout_s=0.2, reconnect_s=0.05) as link:
            scoop = ScoopDriver(link)
            first_boot = (await scoop.info()).boot_count
            await sim.kill()
            await link.wait_state(LinkState.LOST, timeout_s=10)
            await sim.start()
            await link.wait_state(LinkState.OPEN, timeout_s=10)
            info = await scoop.info()
            await scoop.home()
    assert info.boot_count == first_boot + 1
    assert link.stats.losses == 1
    assert link.stats.reopens == 1
