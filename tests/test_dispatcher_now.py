"""Commands that wait for nothing (``Route.immediate``): run to their end by
``Dispatcher.run_now`` in the caller, with the same stages, checks and failures as
``Dispatcher.run``; any other command is left untouched for ``run``."""

from __future__ import annotations

import pytest

from flight.dispatcher import Ack, Execution, Reason, Route, Stage
from flight.handlers import Payload
from hal.errors import DeviceNack
from tests.test_dispatcher import Bench, stages


def started(run: Execution) -> None:
    run.started()


def test_dispatcher_run_now_immediate_command_ends_before_it_returns() -> None:
    bench = Bench({"CORE.NOOP": Route.immediate(started)})
    acks: list[Ack] = []
    final = bench.dispatcher.run_now(bench.command("CORE.NOOP"), acks.append)
    assert stages(acks) == [Stage.ACCEPTED, Stage.STARTED, Stage.COMPLETED]
    assert final is acks[-1]
    assert bench.dispatcher.completed == 1


async def test_dispatcher_run_immediate_command_runs_the_same_way() -> None:
    # A sequence runs commands with run(): an immediate route serves it too.
    bench = Bench({"CORE.NOOP": Route.immediate(started)})
    acks = await bench.run("CORE.NOOP")
    assert stages(acks) == [Stage.ACCEPTED, Stage.STARTED, Stage.COMPLETED]


async def test_dispatcher_run_now_command_that_waits_is_left_untouched() -> None:
    bench = Bench()
    await bench.run("CORE.ARM", command="SCOOP.DUMP")
    acks: list[Ack] = []
    assert bench.dispatcher.run_now(bench.command("SCOOP.HOME"), acks.append) is None
    assert bench.dispatcher.run_now(bench.command("NO.SUCH"), acks.append) is None
    assert acks == []
    assert bench.arming.armed == "SCOOP.DUMP"  # not even the arm saw it


def test_dispatcher_run_now_refused_command_fails_with_the_reason() -> None:
    bench = Bench({"CORE.NOOP": Route.immediate(started)})
    acks: list[Ack] = []
    final = bench.dispatcher.run_now(bench.command("CORE.NOOP", times=2), acks.append)
    assert final is not None and stages(acks) == [Stage.FAILED]
    assert final.reason is Reason.INVALID_ARGUMENT and "times" in final.detail
    (failed,) = bench.rec.of("COMMAND_FAILED")
    assert failed.args["reason"] == "INVALID_ARGUMENT"


def _nack(run: Execution) -> None:
    raise DeviceNack("SCOOP_HOME", 3, "BAD_STATE", None)


def _bug(run: Execution) -> None:
    run.started()
    raise ZeroDivisionError("division by zero")


@pytest.mark.parametrize(
    ("handler", "reason", "detail"),
    [(_nack, Reason.DEVICE_NACK, "SCOOP_HOME"), (_bug, Reason.INTERNAL_ERROR, "ZeroDivision")],
)
def test_dispatcher_run_now_handler_that_raises_fails_its_command(
    handler: object, reason: Reason, detail: str
) -> None:
    bench = Bench({"CORE.NOOP": Route.immediate(handler)})  # type: ignore[arg-type]
    acks: list[Ack] = []
    final = bench.dispatcher.run_now(bench.command("CORE.NOOP"), acks.append)
    assert final is not None and final.stage is Stage.FAILED
    assert final.reason is reason and detail in final.detail
    assert stages(acks)[0] is Stage.ACCEPTED and bench.dispatcher.failed == 1


def test_dispatcher_immediate_flight_routes_occupy_no_device() -> None:
    routes = Payload.routes(object.__new__(Payload))  # only bound methods are needed
    immediate = {name for name, route in routes.items() if route.now is not None}
    assert {"CORE.NOOP", "CORE.ARM", "MODE.IDLE"} <= immediate
    assert all(routes[name].device is None for name in immediate)
