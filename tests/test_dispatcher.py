"""The command dispatcher over the dictionary with no-op handlers on the manual clock:
stages, argument checks, modes, ARM/FIRE, interlocks, busy devices, pre-emption, errors.

The handlers are plain async functions at the dispatcher's handler seam.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from flight.arming import Arming
from flight.clock import ManualClock
from flight.dispatcher import (
    Ack,
    Command,
    Dispatcher,
    Execution,
    Reason,
    Route,
    Stage,
)
from flight.handlers import Payload
from flight.interlocks import Interlocks
from flight.modes import ModeKeeper
from hal.errors import DeviceNack, DeviceTimeout, LinkDown, ProtocolError
from interface.catalog import DICTIONARY
from interface.dictionary import Mode, Severity
from tests.recorder import WINDOW_S, Recorder


def stages(acks: list[Ack]) -> list[Stage]:
    return [ack.stage for ack in acks]


def waiting_handler(release: asyncio.Event, after: list[str] | None = None) -> Route:
    """A scoop route that starts, waits for ``release``, then notes its command in ``after``."""

    async def handler(run: Execution) -> None:
        run.started()
        await release.wait()
        if after is not None:
            after.append(run.command.name)

    return Route(handler, "scoop")


async def _started(run: Execution) -> None:
    run.started()


def default_route(name: str) -> Route:
    """A no-op on the device of the real route (flight/handlers.py): SCOOP.* on the scoop,
    ELEC.* on the cell, OVEN.* on the oven, their STOPs pre-empting; everything else on no
    device."""
    family, _, verb = name.partition(".")
    device = {"SCOOP": "scoop", "ELEC": "elec", "OVEN": "oven"}.get(family)
    return Route(_started, device, preempts=device is not None and verb == "STOP")


class Bench:
    """A real Dispatcher over the dictionary, with no-op handlers (``routes`` override them).

    CORE.ARM, CORE.DISARM, MODE.IDLE and MODE.SAFE do their small part (arm, disarm, set the
    mode) so that ARM/FIRE and modes can be exercised. The mode starts IDLE and follows the
    dispatcher's activity; ``values`` are the live channel values the interlocks read, and
    start out satisfying every interlock.
    """

    def __init__(self, routes: dict[str, Route] | None = None) -> None:
        self.clock = ManualClock()
        self.rec = Recorder(self.clock)
        self.log = self.rec.log
        self.modes = ModeKeeper(events=self.log)
        self.modes.set(Mode.IDLE, reason="bench")
        self.arming = Arming(clock=self.clock, events=self.log, window_s=WINDOW_S)
        self.values: dict[str, Any] = {
            "scoop.homed": True,
            "scoop.state": "IDLE",
            "elec.h2_pressure_kpa": 100.0,
            "elec.o2_pressure_kpa": 100.0,
            "elec.cell_temp_c": 20.0,
            "elec.water_mass_g": 200.0,
            "elec.state": "IDLE",
            "oven.lid_sealed": True,
            "oven.lid_open": False,
            "oven.sample_loaded": True,
            "oven.sample_temp_c": 20.0,
            "oven.chamber_pressure_kpa": 1.0,
            "oven.heater_on": False,
            "oven.trap_temp_c": 5.0,
        }
        table = {c.name: default_route(c.name) for c in DICTIONARY.commands}
        table |= {
            "CORE.ARM": Route(self._arm),
            "CORE.DISARM": Route(self._disarm),
            "MODE.IDLE": Route(self._mode_idle),
            "MODE.SAFE": Route(self._mode_safe),
        }
        table |= routes or {}
        self.dispatcher = Dispatcher(
            dictionary=DICTIONARY,
            routes=table,
            modes=self.modes,
            arming=self.arming,
            interlocks=Interlocks(dictionary=DICTIONARY),
            values=self.values,
            events=self.log,
            clock=self.clock,
        )
        self.dispatcher.on_activity = lambda: self.modes.follow_activity(
            busy=bool(self.dispatcher.active)
        )
        self._ids = itertools.count(1)

    async def _arm(self, run: Execution) -> None:
        run.started()
        self.arming.arm(run.args["command"])

    async def _disarm(self, run: Execution) -> None:
        run.started()
        self.arming.disarm("commanded")

    async def _mode_idle(self, run: Execution) -> None:
        run.started()
        self.modes.set(Mode.IDLE, reason="commanded")

    async def _mode_safe(self, run: Execution) -> None:
        run.started()
        self.dispatcher.abort_all()
        self.arming.disarm("going SAFE")
        self.modes.set(Mode.SAFE, reason="commanded")

    def command(self, name: str, /, **args: Any) -> Command:
        return Command(f"c{next(self._ids)}", name, args)

    async def run(self, name: str, /, **args: Any) -> list[Ack]:
        """Run one command to its end; every ack it got, in order."""
        acks: list[Ack] = []
        await self.dispatcher.run(self.command(name, **args), acks.append)
        return acks

    def start(self, name: str, /, **args: Any) -> tuple[asyncio.Task[Ack], list[Ack]]:
        """Start one command; its task (the final ack) and the list its acks go to."""
        acks: list[Ack] = []
        task = asyncio.create_task(self.dispatcher.run(self.command(name, **args), acks.append))
        return task, acks


def test_dispatcher_bench_routes_sit_on_the_devices_of_the_flight_routes() -> None:
    flight_routes = Payload.routes(object.__new__(Payload))  # only bound methods are needed
    bench_routes = {c.name: default_route(c.name) for c in DICTIONARY.commands}
    for name, route in flight_routes.items():
        assert (bench_routes[name].device, bench_routes[name].preempts) == (
            route.device,
            route.preempts,
        ), name


def test_dispatcher_needs_a_route_for_every_command() -> None:
    bench = Bench()
    routes = {c.name: default_route(c.name) for c in DICTIONARY.commands}
    del routes["SCOOP.DIG"], routes["ELEC.VENT"]
    with pytest.raises(ValueError, match=r"routes: no handler for SCOOP\.DIG, ELEC\.VENT"):
        Dispatcher(
            dictionary=DICTIONARY,
            routes=routes,
            modes=bench.modes,
            arming=bench.arming,
            interlocks=Interlocks(dictionary=DICTIONARY),
            values=bench.values,
            events=bench.log,
            clock=bench.clock,
        )


@pytest.mark.req("FLT-02")
async def test_dispatcher_noop_is_accepted_started_completed() -> None:
    bench = Bench()
    await bench.clock.advance(3)
    acks = await bench.run("CORE.NOOP")
    assert stages(acks) == [Stage.ACCEPTED, Stage.STARTED, Stage.COMPLETED]
    assert {(a.id, a.name, a.reason, a.detail) for a in acks} == {("c1", "CORE.NOOP", None, "")}
    assert {a.time for a in acks} == {datetime(2026, 1, 1, 0, 0, 3, tzinfo=UTC)}
    assert (bench.dispatcher.completed, bench.dispatcher.failed) == (1, 0)
    assert "COMMAND_FAILED" not in bench.rec.ids()


async def test_dispatcher_run_returns_the_final_ack() -> None:
    bench = Bench()
    acks: list[Ack] = []
    final = await bench.dispatcher.run(Command("x1", "CORE.NOOP"), acks.append)
    assert final is acks[-1] and final.stage is Stage.COMPLETED


async def test_dispatcher_unknown_command_fails_without_accepted() -> None:
    bench = Bench()
    acks = await bench.run("CORE.NOPE")
    assert stages(acks) == [Stage.FAILED]
    assert acks[0].reason is Reason.UNKNOWN_COMMAND
    assert acks[0].detail == "'CORE.NOPE' is not a command"
    assert bench.dispatcher.failed == 1


@pytest.mark.req("FLT-03")
@pytest.mark.parametrize(
    ("args", "detail"),
    [
        ({"depth_mm": 500}, "depth_mm: Input should be less than or equal to 100 (got 500)"),
        ({}, "depth_mm: missing"),
        ({"depth_mm": 30, "speed": 2}, "speed: not an argument of this command"),
        ({"depth_mm": "30"}, "depth_mm: Input should be a valid number (got '30')"),
    ],
)
async def test_dispatcher_invalid_argument_names_the_argument(
    args: dict[str, Any], detail: str
) -> None:
    bench = Bench()
    acks = await bench.run("SCOOP.DIG", **args)
    assert stages(acks) == [Stage.FAILED]
    assert acks[0].reason is Reason.INVALID_ARGUMENT
    assert acks[0].detail == detail


@pytest.mark.req("FLT-03")
async def test_dispatcher_bool_argument_is_strict() -> None:
    bench = Bench()
    refused = await bench.run("ELEC.WATER", open=1)
    assert refused[0].reason is Reason.INVALID_ARGUMENT
    assert refused[0].detail.startswith("open: ")
    assert stages(await bench.run("ELEC.WATER", open=True))[-1] is Stage.COMPLETED


async def test_dispatcher_handler_gets_the_validated_arguments() -> None:
    seen: list[dict[str, Any]] = []

    async def dig(run: Execution) -> None:
        seen.append(run.args)
        run.started()

    bench = Bench({"SCOOP.DIG": Route(dig, "scoop")})
    await bench.run("SCOOP.DIG", depth_mm=30)
    assert seen == [{"depth_mm": 30.0}]


@pytest.mark.req("FLT-04")
async def test_dispatcher_not_allowed_in_mode_names_the_mode() -> None:
    bench = Bench()
    bench.modes.set(Mode.SAFE, reason="test")
    acks = await bench.run("SCOOP.HOME")
    assert stages(acks) == [Stage.FAILED]
    assert acks[0].reason is Reason.NOT_ALLOWED_IN_MODE
    assert acks[0].detail == "SCOOP.HOME is not allowed in SAFE (allowed in: IDLE, OPERATING)"
    assert stages(await bench.run("SCOOP.STOP"))[-1] is Stage.COMPLETED  # allowed in SAFE
    assert stages(await bench.run("MODE.IDLE"))[-1] is Stage.COMPLETED
    assert stages(await bench.run("SCOOP.HOME"))[-1] is Stage.COMPLETED


async def test_dispatcher_mode_follows_device_activity() -> None:
    release = asyncio.Event()
    bench = Bench({"SCOOP.HOME": waiting_handler(release)})
    assert bench.modes.mode is Mode.IDLE
    await bench.run("CORE.NOOP")  # no device: the mode does not move
    assert bench.modes.mode is Mode.IDLE
    home, _ = bench.start("SCOOP.HOME")
    await bench.clock.advance(0)
    assert bench.modes.mode is Mode.OPERATING
    release.set()
    await home
    assert bench.modes.mode is Mode.IDLE


@pytest.mark.req("FLT-05")
async def test_dispatcher_hazardous_command_without_arm_fails_not_armed() -> None:
    bench = Bench()
    acks = await bench.run("SCOOP.DUMP", target="GROUND")
    assert stages(acks) == [Stage.FAILED]
    assert acks[0].reason is Reason.NOT_ARMED
    assert acks[0].detail == "SCOOP.DUMP is hazardous: send CORE.ARM first"


@pytest.mark.req("FLT-05")
async def test_dispatcher_hazardous_arm_then_fire_completes_once() -> None:
    bench = Bench()
    assert stages(await bench.run("CORE.ARM", command="SCOOP.DUMP"))[-1] is Stage.COMPLETED
    assert bench.arming.armed == "SCOOP.DUMP"
    await bench.clock.advance(WINDOW_S)
    fire = await bench.run("SCOOP.DUMP", target="GROUND")
    assert stages(fire) == [Stage.ACCEPTED, Stage.STARTED, Stage.COMPLETED]
    assert bench.arming.armed is None
    assert (await bench.run("SCOOP.DUMP", target="GROUND"))[0].reason is Reason.NOT_ARMED  # used up
    assert bench.rec.of("ARM_CANCELLED") == []


async def test_dispatcher_hazardous_after_the_window_fails_not_armed() -> None:
    bench = Bench()
    await bench.run("CORE.ARM", command="SCOOP.DUMP")
    await bench.clock.advance(WINDOW_S + 0.5)
    assert (await bench.run("SCOOP.DUMP", target="GROUND"))[0].reason is Reason.NOT_ARMED
    (cancelled,) = bench.rec.of("ARM_CANCELLED")
    assert cancelled.args["reason"] == "window expired"


async def test_dispatcher_hazardous_above_an_argument_value_needs_arming() -> None:
    bench = Bench()
    assert stages(await bench.run("ELEC.START", current_a=5.0))[-1] is Stage.COMPLETED
    high = await bench.run("ELEC.START", current_a=6.0)
    assert high[0].reason is Reason.NOT_ARMED
    await bench.run("CORE.ARM", command="ELEC.START")
    assert stages(await bench.run("ELEC.START", current_a=6.0))[-1] is Stage.COMPLETED


@pytest.mark.req("FLT-05")
async def test_dispatcher_hazardous_fire_refused_by_an_interlock_keeps_the_arm() -> None:
    bench = Bench()
    bench.values["scoop.homed"] = False
    await bench.run("CORE.ARM", command="SCOOP.DUMP")
    refused = await bench.run("SCOOP.DUMP", target="GROUND")
    assert stages(refused) == [Stage.FAILED]
    assert refused[0].reason is Reason.INTERLOCK
    assert refused[0].detail.startswith("SCOOP_NOT_HOMED: ")
    assert bench.arming.armed == "SCOOP.DUMP"
    bench.values["scoop.homed"] = True
    assert stages(await bench.run("SCOOP.DUMP", target="GROUND"))[-1] is Stage.COMPLETED
    assert bench.arming.armed is None
    assert bench.rec.of("ARM_CANCELLED") == []


@pytest.mark.req("FLT-05")
async def test_dispatcher_hazardous_fire_refused_busy_keeps_the_arm() -> None:
    release = asyncio.Event()
    bench = Bench({"SCOOP.HOME": waiting_handler(release)})
    await bench.run("CORE.ARM", command="SCOOP.DUMP")
    home, _ = bench.start("SCOOP.HOME")  # the FIRE is not the next command: this cancels
    await bench.clock.advance(0)
    assert bench.arming.armed is None
    await bench.run("CORE.ARM", command="SCOOP.DUMP")
    refused = await bench.run("SCOOP.DUMP", target="GROUND")
    assert refused[0].reason is Reason.BUSY
    assert bench.arming.armed == "SCOOP.DUMP"
    release.set()
    await home
    assert stages(await bench.run("SCOOP.DUMP", target="GROUND"))[-1] is Stage.COMPLETED


@pytest.mark.parametrize(
    ("name", "args", "reason"),
    [
        ("CORE.NOOP", {}, None),
        ("CORE.NOPE", {}, Reason.UNKNOWN_COMMAND),
        ("SCOOP.DIG", {"depth_mm": 500}, Reason.INVALID_ARGUMENT),
        ("ELEC.VENT", {"gas": "H2"}, Reason.NOT_ARMED),
    ],
)
async def test_dispatcher_hazardous_any_other_command_in_between_cancels_the_arm(
    name: str, args: dict[str, Any], reason: Reason | None
) -> None:
    bench = Bench()
    await bench.run("CORE.ARM", command="SCOOP.DUMP")
    between = await bench.run(name, **args)
    assert between[-1].reason is reason
    (cancelled,) = bench.rec.of("ARM_CANCELLED")
    assert cancelled.args == {"command": "SCOOP.DUMP", "reason": f"{name} was sent in between"}
    assert bench.arming.armed is None
    assert (await bench.run("SCOOP.DUMP", target="GROUND"))[0].reason is Reason.NOT_ARMED


async def test_dispatcher_disarm_cancels_the_arm() -> None:
    bench = Bench()
    await bench.run("CORE.ARM", command="ELEC.VENT")
    assert stages(await bench.run("CORE.DISARM"))[-1] is Stage.COMPLETED
    assert [e.args["reason"] for e in bench.rec.of("ARM_CANCELLED")] == [
        "CORE.DISARM was sent in between"
    ]
    assert (await bench.run("ELEC.VENT", gas="H2"))[0].reason is Reason.NOT_ARMED


async def test_dispatcher_second_arm_replaces_the_first() -> None:
    bench = Bench()
    await bench.run("CORE.ARM", command="SCOOP.DUMP")
    await bench.run("CORE.ARM", command="ELEC.VENT")
    (cancelled,) = bench.rec.of("ARM_CANCELLED")
    assert cancelled.args["reason"] == "replaced by arming ELEC.VENT"
    assert (await bench.run("SCOOP.DUMP", target="GROUND"))[0].reason is Reason.NOT_ARMED


@pytest.mark.req("FLT-06")
@pytest.mark.parametrize(
    ("channel", "value", "detail"),
    [
        (
            "elec.h2_pressure_kpa",
            190.0,
            "H2_PRESSURE_HIGH: no cell current while the H2 tank is above its yellow limit"
            " (elec.h2_pressure_kpa < 180)",
        ),
        (
            "elec.o2_pressure_kpa",
            180.0,
            "O2_PRESSURE_HIGH: no cell current while the O2 tank is above its yellow limit"
            " (elec.o2_pressure_kpa < 180)",
        ),
        (
            "elec.cell_temp_c",
            4.9,
            "CELL_TOO_COLD: no cell current while the cell is near freezing"
            " (elec.cell_temp_c >= 5)",
        ),
        (
            "elec.water_mass_g",
            29.0,
            "WATER_LOW: no cell current with too little water in the reservoir"
            " (elec.water_mass_g >= 30)",
        ),
    ],
)
async def test_dispatcher_interlock_detail_names_the_interlock(
    channel: str, value: float, detail: str
) -> None:
    bench = Bench()
    bench.values[channel] = value
    acks = await bench.run("ELEC.START", current_a=2.0)
    assert stages(acks) == [Stage.FAILED]
    assert acks[0].reason is Reason.INTERLOCK
    assert acks[0].detail == detail


async def test_dispatcher_interlock_channel_never_heard_refuses() -> None:
    bench = Bench()
    del bench.values["scoop.state"]
    acks = await bench.run("SCOOP.WEIGH")
    assert acks[0].reason is Reason.INTERLOCK
    assert acks[0].detail.startswith("ARM_IN_MOTION: ")


@pytest.mark.req("FLT-06")
async def test_dispatcher_interlock_refuses_until_telemetry_allows() -> None:
    bench = Bench()
    bench.values["scoop.homed"] = False
    refused = await bench.run("SCOOP.DIG", depth_mm=30)
    assert stages(refused) == [Stage.FAILED]
    assert refused[0].reason is Reason.INTERLOCK
    assert refused[0].detail == (
        "SCOOP_NOT_HOMED: no arm motion but HOME before the joints are homed (scoop.homed == true)"
    )
    bench.values["scoop.homed"] = True  # the dispatcher reads the live values
    assert (await bench.run("SCOOP.DIG", depth_mm=30))[-1].stage is Stage.COMPLETED


@pytest.mark.req("FLT-07")
async def test_dispatcher_second_command_on_a_busy_device_fails_busy() -> None:
    release = asyncio.Event()
    bench = Bench({"SCOOP.HOME": waiting_handler(release)})
    first, first_acks = bench.start("SCOOP.HOME")
    await bench.clock.advance(0)
    second = await bench.run("SCOOP.TARE")
    assert stages(second) == [Stage.FAILED]
    assert second[0].reason is Reason.BUSY
    assert second[0].detail == "scoop is busy with a command"
    other_device = await bench.run("ELEC.HEATER", enabled=True, setpoint_c=20.0)
    assert other_device[-1].stage is Stage.COMPLETED
    release.set()
    assert (await first).stage is Stage.COMPLETED
    assert stages(first_acks) == [Stage.ACCEPTED, Stage.STARTED, Stage.COMPLETED]


@pytest.mark.req("FLT-07")
async def test_dispatcher_preempting_stop_aborts_the_running_command() -> None:
    release = asyncio.Event()
    after_wait: list[str] = []
    stopped: list[str] = []

    async def stop(run: Execution) -> None:
        run.started()
        stopped.append("stop")

    bench = Bench(
        {
            "SCOOP.DIG": waiting_handler(release, after_wait),
            "SCOOP.STOP": Route(stop, "scoop", preempts=True),
        }
    )
    dig, dig_acks = bench.start("SCOOP.DIG", depth_mm=30)
    await bench.clock.advance(0)
    stop_acks = await bench.run("SCOOP.STOP")
    final = await dig
    assert stages(stop_acks) == [Stage.ACCEPTED, Stage.STARTED, Stage.COMPLETED]
    assert stages(dig_acks) == [Stage.ACCEPTED, Stage.STARTED, Stage.FAILED]
    assert final.reason is Reason.ABORTED and final.detail == "aborted"
    assert stopped == ["stop"] and after_wait == []
    assert bench.dispatcher.active == {}
    assert bench.dispatcher.completed == 1 and bench.dispatcher.failed == 1


async def test_dispatcher_abort_all_fails_every_running_command_aborted() -> None:
    release = asyncio.Event()

    async def heat(run: Execution) -> None:
        run.started()
        await release.wait()

    bench = Bench({"SCOOP.HOME": waiting_handler(release), "ELEC.HEATER": Route(heat, "elec")})
    home, home_acks = bench.start("SCOOP.HOME")
    heater, heater_acks = bench.start("ELEC.HEATER", enabled=True, setpoint_c=20.0)
    await bench.clock.advance(0)
    assert set(bench.dispatcher.active) == {"scoop", "elec"}
    bench.dispatcher.abort_all()
    for task in (home, heater):
        final = await task
        assert (final.stage, final.reason) == (Stage.FAILED, Reason.ABORTED)
    assert Stage.COMPLETED not in stages(home_acks) + stages(heater_acks)
    assert bench.dispatcher.active == {}
    assert bench.dispatcher.failed == 2


@pytest.mark.parametrize(("name", "device"), [("SCOOP.HOME", "scoop"), ("CORE.NOOP", None)])
async def test_dispatcher_cancelled_caller_takes_its_command_with_it(
    name: str, device: str | None
) -> None:
    # A command of no device runs in its caller's task, one of a device in its own task: a
    # caller that stops takes either with it.
    release = asyncio.Event()
    route = waiting_handler(release)
    bench = Bench({name: Route(route.handler, device)})
    task, acks = bench.start(name)
    await bench.clock.advance(0)
    assert stages(acks) == [Stage.ACCEPTED, Stage.STARTED]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert acks[-1].stage is Stage.FAILED and acks[-1].reason is Reason.ABORTED
    assert acks[-1].detail == "its caller stopped"
    assert bench.dispatcher.active == {}
    assert (bench.dispatcher.completed, bench.dispatcher.failed) == (0, 1)


async def test_dispatcher_command_of_no_device_fails_with_its_handlers_reason() -> None:
    async def nacked(run: Execution) -> None:
        run.started()
        raise DeviceNack("SCOOP.HOME", 3, "BAD_STATE", None)

    bench = Bench({"CORE.NOOP": Route(nacked, None)})
    task, acks = bench.start("CORE.NOOP")
    final = await task
    assert stages(acks) == [Stage.ACCEPTED, Stage.STARTED, Stage.FAILED]
    assert final.reason is Reason.DEVICE_NACK
    assert bench.dispatcher.active == {}


@pytest.mark.req("FLT-02")
@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (DeviceNack("DIG", 3, "BAD_ARG", 0), Reason.DEVICE_NACK),
        (DeviceTimeout("DIG", 3, 0.2), Reason.DEVICE_TIMEOUT),
        (LinkDown("/dev/ttyUSB0"), Reason.LINK_DOWN),
    ],
)
@pytest.mark.parametrize("after_started", [False, True])
async def test_dispatcher_device_errors_map_to_reasons(
    error: Exception, reason: Reason, after_started: bool
) -> None:
    async def dig(run: Execution) -> None:
        if after_started:
            run.started()
        raise error

    bench = Bench({"SCOOP.DIG": Route(dig, "scoop")})
    acks = await bench.run("SCOOP.DIG", depth_mm=30)
    assert Stage.COMPLETED not in stages(acks)
    expected = (
        [Stage.ACCEPTED, Stage.STARTED, Stage.FAILED]
        if after_started
        else [
            Stage.ACCEPTED,
            Stage.FAILED,
        ]
    )
    assert stages(acks) == expected
    assert acks[-1].reason is reason
    assert acks[-1].detail == str(error)
    assert bench.dispatcher.failed == 1 and bench.dispatcher.completed == 0
    assert bench.dispatcher.active == {}


@pytest.mark.req("FLT-02")
@pytest.mark.parametrize("error", [ProtocolError("bad frame"), RuntimeError("handler bug")])
async def test_dispatcher_any_handler_error_ends_failed(error: Exception) -> None:
    async def dig(run: Execution) -> None:
        run.started()
        raise error

    bench = Bench({"SCOOP.DIG": Route(dig, "scoop")})
    acks = await bench.run("SCOOP.DIG", depth_mm=30)
    assert stages(acks) == [Stage.ACCEPTED, Stage.STARTED, Stage.FAILED]
    assert bench.dispatcher.failed == 1


async def test_dispatcher_counters_and_command_failed_events() -> None:
    bench = Bench()
    await bench.run("CORE.NOOP")
    await bench.run("CORE.NOOP")
    await bench.run("SCOOP.DIG", depth_mm=1)
    assert (bench.dispatcher.completed, bench.dispatcher.failed) == (2, 1)
    (failed,) = bench.rec.of("COMMAND_FAILED")
    assert failed.severity is Severity.WARNING
    assert failed.args["name"] == "SCOOP.DIG" and failed.args["id"] == "c3"
    assert failed.args["reason"] == "INVALID_ARGUMENT"
    assert failed.text.startswith("SCOOP.DIG (c3) failed: INVALID_ARGUMENT: depth_mm: ")
