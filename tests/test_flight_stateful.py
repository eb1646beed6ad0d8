"""Stateful properties of the flight app against the simulated boards.

Hypothesis draws short lists of actions (operator commands, a short sequence, injected faults);
each list runs in one event loop against a fresh flight stack. After each action, once the app
has settled, and at the end:

1. In SAFE every actuator is off, on the boards themselves (cell current, heater, valves,
   joint motors: the simulator's state is the ground truth) and in the flight telemetry once
   a packet the board made after that moment has landed.
2. The mode is SAFE whenever a safing response SAFE was called for (a red limit whose
   response is SAFE, or a lost link) and no MODE.IDLE was carried out after it.

Starting a sequence and disconnecting a board are *background* actions: the next action runs
at once, while the sequence runs or the port is gone, and the check waits until after it.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from flight.dictionary import Mode
from flight.events import Event
from flight.sequencer import SequencerBusy
from hal import Joint, Valve
from tests.flightstack import WAIT_S, Stack, flight_stack

BOARDS = ("scoop", "elec")

# --- actions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One step of a scenario; ``background`` ones are checked only after the next step."""

    background = False

    async def run(self, stack: Stack) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class Send(Action):
    name: str
    args: tuple[tuple[str, Any], ...] = ()

    async def run(self, stack: Stack) -> None:
        await stack.send(self.name, **dict(self.args))

    def __repr__(self) -> str:
        args = "".join(f", {k}={v!r}" for k, v in self.args)
        return f"send({self.name!r}{args})"


def send(name: str, **args: Any) -> Send:
    return Send(name, tuple(args.items()))


@dataclass(frozen=True)
class ArmVent(Action):
    """CORE.ARM command=ELEC.VENT, then ELEC.VENT gas=..."""

    gas: str

    async def run(self, stack: Stack) -> None:
        await stack.send("CORE.ARM", command="ELEC.VENT")
        await stack.send("ELEC.VENT", gas=self.gas)


SEQUENCES = {
    # The WAIT may time out: the sequence then aborts and leaves the payload SAFE.
    "cell": (
        "MODE.IDLE\nELEC.START current_a=2.0\n"
        "WAIT elec.h2_pressure_kpa >= 130 TIMEOUT 00:00:20\nELEC.STOP\n"
    ),
    "arm": "MODE.IDLE\nSCOOP.HOME\nSCOOP.MOVE joint=BOOM angle_deg=30 speed_dps=20\n",
    # Ends with the heater and the water feed on, in IDLE.
    "heat": (
        "MODE.IDLE\nELEC.HEATER enabled=true setpoint_c=40\nELEC.WATER open=true\n"
        "R00:00:05 CORE.NOOP\n"
    ),
}


@dataclass(frozen=True)
class StartSequence(Action):
    key: str
    background = True

    async def run(self, stack: Stack) -> None:
        try:
            stack.app.start_sequence(SEQUENCES[self.key], name=self.key)
        except SequencerBusy:
            pass


@dataclass(frozen=True)
class Stall(Action):
    joint: str

    async def run(self, stack: Stack) -> None:
        stack.sim.set_stall(Joint[self.joint], True)


@dataclass(frozen=True)
class DriftH2(Action):
    """The H2 pressure sensor reading climbs at ``rate`` kPa per simulated second."""

    rate: float

    async def run(self, stack: Stack) -> None:
        stack.sim.set_drift("elec", "h2_pressure", self.rate)


@dataclass(frozen=True)
class Disconnect(Action):
    board: str
    seconds: float
    background = True

    async def run(self, stack: Stack) -> None:
        stack.sim.disconnect(self.board, self.seconds)


@dataclass(frozen=True)
class ClearFaults(Action):
    board: str

    async def run(self, stack: Stack) -> None:
        stack.sim.clear_faults(self.board)


def _cmd(name: str, **args: st.SearchStrategy[Any]) -> st.SearchStrategy[Send]:
    """The command ``name`` with arguments drawn from ``args`` (valid ones)."""
    return st.builds(send, st.just(name), **args)


_commands = st.one_of(
    _cmd("MODE.IDLE"),
    _cmd("MODE.SAFE"),
    _cmd("SCOOP.HOME"),
    _cmd(
        "SCOOP.MOVE",
        joint=st.sampled_from(["BOOM", "SCOOP"]),
        angle_deg=st.sampled_from([0.0, 15.0, 30.0, 60.0]),
        speed_dps=st.sampled_from([5.0, 15.0, 30.0]),
    ),
    _cmd("SCOOP.STOP"),
    _cmd("ELEC.START", current_a=st.sampled_from([0.5, 1.0, 2.0, 4.0])),
    _cmd("ELEC.STOP"),
    _cmd("ELEC.HEATER", enabled=st.just(True), setpoint_c=st.sampled_from([30.0, 60.0])),
    _cmd("ELEC.WATER", open=st.just(True)),
    st.builds(ArmVent, st.sampled_from(["H2", "O2"])),
    _cmd("CORE.NOOP"),
)
_faults = st.one_of(
    st.builds(Stall, st.sampled_from(["BOOM", "SCOOP"])),
    st.builds(DriftH2, st.sampled_from([5.0, 20.0])),
    st.builds(Disconnect, st.sampled_from(BOARDS), st.sampled_from([0.05, 0.3])),
    st.builds(ClearFaults, st.sampled_from(BOARDS)),
)
_step = st.one_of(
    _cmd("MODE.IDLE"),
    _commands,
    _commands,
    st.builds(StartSequence, st.sampled_from(sorted(SEQUENCES))),
    _faults,
)
#: Up to 8 steps, the first leaving SAFE (most commands are refused in SAFE).
actions = st.lists(_step, max_size=7).map(lambda steps: [send("MODE.IDLE"), *steps])

# --- settling and checking --------------------------------------------------------------


async def _next_packet(stack: Stack, packet: str | None = None) -> None:
    """Wait for the next telemetry packet (``packet``, or any: the core one comes always)."""
    landed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def heard(name: str, _: dict[str, Any]) -> None:
        if (packet is None or name == packet) and not landed.done():
            landed.set_result(None)

    remove = stack.app.channels.listen(heard)
    try:
        await landed
    finally:
        remove()


def _in_flight(stack: Stack) -> list[str]:
    """What is still under way: commands, spawned tasks (safing, reconfiguring), a sequence,
    a port that is away or a link the app has not seen back."""
    app = stack.app
    busy = [f"command on {device}" for device in app.dispatcher.active]
    busy += [
        f"task {task.get_coro().__qualname__}"  # type: ignore[union-attr]
        for task in app._tasks
        if not task.done() and task.get_coro().__qualname__ != "FlightApp._core_telemetry"  # type: ignore[union-attr]
    ]
    if app.sequencer.running:
        busy.append("sequence")
    for board in BOARDS:
        if not stack.sim.ports[board].opened.is_set():
            busy.append(f"{board} port away")
        elif app.channels.values.get(f"{board}.link_up") is not True:
            busy.append(f"{board} link not up")
    return busy


async def settle(stack: Stack) -> None:
    """Return once nothing is under way and a fresh packet of each board has been taken in
    with nothing started by it. Bounded by WAIT_S of real time."""
    try:
        async with asyncio.timeout(WAIT_S):
            while True:
                while _in_flight(stack):
                    await _next_packet(stack)
                for board in BOARDS:
                    await _next_packet(stack, board)
                if not _in_flight(stack):
                    return
    except TimeoutError:
        raise AssertionError(
            f"the app did not settle within {WAIT_S} s: {', '.join(_in_flight(stack))}"
        ) from None


def actuators_on_board(stack: Stack) -> list[str]:
    """What the simulated boards have on (their own state: the ground truth)."""
    elec, arm = stack.sim.elec, stack.sim.scoop.arm
    on = []
    if elec.current_on:
        on.append("cell current")
    if elec.heater_enabled or elec.heater_on:
        on.append("heater")
    on += [f"{valve.name} open" for valve in Valve if elec.valves[valve]]
    on += [
        f"{joint.name} driven to {arm.joint(joint).target_deg}"
        for joint in Joint
        if arm.joint(joint).target_deg is not None
    ]
    return on


TELEMETRY_OFF = (
    "elec.current_on",
    "elec.heater_on",
    "elec.water_valve_open",
    "elec.h2_vent_open",
    "elec.o2_vent_open",
    "scoop.motors_on",
)


async def _packets_after_now(stack: Stack) -> None:
    """Wait until each board's telemetry was made after this moment (board uptime)."""
    marks = {board: stack.sim.boards[board].uptime_ms for board in BOARDS}
    async with asyncio.timeout(WAIT_S):
        for board, mark in marks.items():
            while stack.app.channels.values.get(f"{board}.uptime_ms", -1) <= mark:
                await _next_packet(stack, board)


def safe_was_called_for(events: list[Event]) -> Event | None:
    """The last call for a SAFE response with no commanded MODE.IDLE after it, if any."""
    called: Event | None = None
    for event in events:
        if event.id in ("LIMIT_RED", "SAFING") and str(event.args.get("response")) == "SAFE":
            called = event
        elif (
            event.id == "MODE_CHANGED"
            and event.args.get("new") == "IDLE"
            and event.args.get("reason") == "commanded"
        ):
            called = None
    return called


async def check(stack: Stack, where: str) -> None:
    await settle(stack)
    app = stack.app
    call = safe_was_called_for(stack.events)
    if call is not None:
        assert app.modes.mode is Mode.SAFE, f"{where}: mode {app.modes.mode} after {call.text}"
    if app.modes.mode is not Mode.SAFE:
        return
    on = actuators_on_board(stack)
    assert not on, f"{where}: SAFE with {', '.join(on)} on the boards"
    await _packets_after_now(stack)
    if app.modes.mode is Mode.SAFE:
        values = app.channels.values
        shown = [name for name in TELEMETRY_OFF if values.get(name) is not False]
        assert not shown, f"{where}: SAFE but telemetry shows {shown}"


async def play(actions: list[Action]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        state_dir, link_dir = Path(tmp, "state"), Path(tmp, "ports")
        link_dir.mkdir()
        async with flight_stack(state_dir, link_dir=link_dir) as stack:
            await check(stack, "at boot")
            for index, action in enumerate(actions):
                await action.run(stack)
                if not action.background:
                    await check(stack, f"after step {index + 1} {action!r}")
            await check(stack, "at the end")


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


# --- the properties ---------------------------------------------------------------------


#: CI runs a fixed, small set of examples; ISRU_STATEFUL_EXAMPLES=N explores N random ones.
_EXPLORE = int(os.environ.get("ISRU_STATEFUL_EXAMPLES", "0"))
STATEFUL = settings(
    max_examples=_EXPLORE or 15,
    derandomize=not _EXPLORE,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@STATEFUL
@given(actions)
def test_no_actuator_on_in_safe(actions: list[Action]) -> None:
    run(lambda: play(actions))
