"""Stateful properties of the flight app against the simulated boards, over real ptys.

Hypothesis draws short scenarios (operator commands, a short sequence, injected faults); each
runs in its own event loop against a fresh flight stack. After each step, once the app has
settled, and at the end:

1. In SAFE every actuator is off on the boards themselves (cell current, heater, valves,
   joint motors: the simulator's state is the ground truth), and the flight telemetry agrees
   once a packet each board made after that moment has landed.
2. The mode is SAFE whenever a SAFE response was called for (a red limit whose response is
   SAFE, or a lost link) and no MODE.IDLE has been carried out since.

Starting a sequence, disconnecting a board and a command sent :class:`Concurrently` are
*background* steps: the next step starts at once, while the sequence runs, the port is away
or the command is under way; the check after the next step waits for them.

``ISRU_STATEFUL_EXAMPLES=500 pytest tests/test_flight_stateful.py`` explores 500 random
scenarios instead of the fixed ones CI runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from flight.events import Event
from flight.sequencer import SequencerBusy
from hal import Joint, Valve
from interface.dictionary import Mode
from tests.flightstack import WAIT_S, Stack, flight_stack

BOARDS = ("scoop", "elec")


@dataclass
class Run:
    """One scenario being played: the stack and the background steps still going."""

    stack: Stack
    pending: set[asyncio.Task[None]] = field(default_factory=set)


# --- steps ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One step of a scenario; ``background`` ones are checked only after the next step."""

    background = False

    async def run(self, run: Run) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class Send(Action):
    """An operator command, run to its end (whatever the end is: it may be refused)."""

    name: str
    args: tuple[tuple[str, Any], ...] = ()

    async def run(self, run: Run) -> None:
        await run.stack.send(self.name, **dict(self.args))

    def __repr__(self) -> str:
        args = "".join(f", {k}={v!r}" for k, v in self.args)
        return f"send({self.name!r}{args})"


def send(name: str, **args: Any) -> Send:
    return Send(name, tuple(args.items()))


@dataclass(frozen=True)
class ArmVent(Action):
    """CORE.ARM command=ELEC.VENT, then ELEC.VENT gas=..."""

    gas: str

    async def run(self, run: Run) -> None:
        await run.stack.send("CORE.ARM", command="ELEC.VENT")
        await run.stack.send("ELEC.VENT", gas=self.gas)


@dataclass(frozen=True)
class Concurrently(Action):
    """A step started and left running while the next step goes."""

    step: Action
    background = True

    async def run(self, run: Run) -> None:
        task = asyncio.create_task(self.step.run(run))
        run.pending.add(task)


SEQUENCES = {
    # The WAIT may time out: the sequence then aborts and leaves the payload SAFE.
    "cell": (
        "MODE.IDLE\nELEC.START current_a=2.0\n"
        "WAIT elec.h2_pressure_kpa >= 130 TIMEOUT 00:00:20\nELEC.STOP\n"
    ),
    "arm": "MODE.IDLE\nSCOOP.HOME\nSCOOP.MOVE joint=BOOM angle_deg=30 speed_dps=20\n",
    # Ends leaving the heater and the water feed on, in IDLE.
    "heat": (
        "MODE.IDLE\nELEC.HEATER enabled=true setpoint_c=40\nELEC.WATER open=true\n"
        "R00:00:05 CORE.NOOP\n"
    ),
}


@dataclass(frozen=True)
class StartSequence(Action):
    key: str
    background = True

    async def run(self, run: Run) -> None:
        with contextlib.suppress(SequencerBusy):
            run.stack.app.start_sequence(SEQUENCES[self.key], name=self.key)


@dataclass(frozen=True)
class Stall(Action):
    joint: str

    async def run(self, run: Run) -> None:
        run.stack.sim.set_stall(Joint[self.joint], True)


@dataclass(frozen=True)
class DriftH2(Action):
    """The H2 pressure reading climbs at ``rate`` kPa per simulated second."""

    rate: float

    async def run(self, run: Run) -> None:
        run.stack.sim.set_drift("elec", "h2_pressure", self.rate)


@dataclass(frozen=True)
class Disconnect(Action):
    """The board's port vanishes for ``seconds`` of real time."""

    board: str
    seconds: float
    background = True

    async def run(self, run: Run) -> None:
        run.stack.sim.disconnect(self.board, self.seconds)


@dataclass(frozen=True)
class ClearFaults(Action):
    board: str

    async def run(self, run: Run) -> None:
        run.stack.sim.clear_faults(self.board)


@dataclass(frozen=True)
class AfterRed(Action):
    """Wait (bounded) for a red limit on ``channel``: explicit examples use it to be sure the
    fault they inject has acted before what follows."""

    channel: str

    async def run(self, run: Run) -> None:
        await run.stack.event("LIMIT_RED", lambda e: e.args["channel"] == self.channel)


def _cmd(name: str, **args: st.SearchStrategy[Any]) -> st.SearchStrategy[Send]:
    """The command ``name`` with valid arguments drawn from ``args``."""
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
    st.builds(Concurrently, _commands),
    st.builds(StartSequence, st.sampled_from(sorted(SEQUENCES))),
    _faults,
)
#: Up to 8 steps, the first leaving SAFE (in SAFE most commands are refused).
scenarios = st.lists(_step, max_size=7).map(lambda steps: [send("MODE.IDLE"), *steps])

# --- settling ---------------------------------------------------------------------------


async def _next_packet(stack: Stack, packet: str | None = None) -> None:
    """Wait for the next telemetry packet: ``packet``, or any (the core one always comes)."""
    landed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def heard(name: str, _: dict[str, Any]) -> None:
        if (packet is None or name == packet) and not landed.done():
            landed.set_result(None)

    remove = stack.app.channels.listen(heard)
    try:
        await landed
    finally:
        remove()


def in_flight(run: Run) -> list[str]:
    """What is under way: background steps, commands, tasks the app spawned (safing, board
    configuration), a sequence, a port that is away or a link the app has not seen back."""
    app, sim = run.stack.app, run.stack.sim
    busy = [f"background step {task.get_name()}" for task in run.pending if not task.done()]
    busy += [f"command on {device}" for device in app.dispatcher.active]
    busy += [
        f"task {getattr(task.get_coro(), '__qualname__', task)}"
        for task in app._tasks
        if not task.done()
    ]
    if app.sequencer.running:
        busy.append("sequence")
    for board in BOARDS:
        if not sim.ports[board].opened.is_set():
            busy.append(f"{board} port away")
        elif app.channels.values.get(f"{board}.link_up") is not True:
            busy.append(f"{board} link not up")
    return busy


async def settle(run: Run) -> None:
    """Return once nothing is under way, and a fresh packet of each board has been taken in
    without starting anything. Fails (a hang) after WAIT_S of real time."""
    stack = run.stack
    try:
        async with asyncio.timeout(WAIT_S):
            while True:
                while in_flight(run):
                    await _next_packet(stack)
                for board in BOARDS:
                    await _next_packet(stack, board)
                if not in_flight(run):
                    break
    except TimeoutError:
        raise AssertionError(
            f"the app did not settle within {WAIT_S} s: {', '.join(in_flight(run))}"
        ) from None
    for task in run.pending:
        task.result()  # a background step's own failure (a command that hung, say)
    run.pending.clear()


async def _packets_made_from_now(stack: Stack) -> None:
    """Wait until each board's telemetry in the app was made after this moment."""
    marks = {board: stack.sim.boards[board].uptime_ms for board in BOARDS}
    async with asyncio.timeout(WAIT_S):
        for board, mark in marks.items():
            while stack.app.channels.values.get(f"{board}.uptime_ms", -1) <= mark:
                await _next_packet(stack, board)


# --- the properties ---------------------------------------------------------------------


def actuators_on(stack: Stack) -> list[str]:
    """What the simulated boards have on, from their own state."""
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


#: Telemetry channels that must read False in SAFE.
OFF_IN_SAFE = (
    "elec.current_on",
    "elec.heater_on",
    "elec.water_valve_open",
    "elec.h2_vent_open",
    "elec.o2_vent_open",
    "scoop.motors_on",
)


def safe_called_for(events: list[Event]) -> Event | None:
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


async def check(run: Run, where: str) -> None:
    await settle(run)
    stack, app = run.stack, run.stack.app
    call = safe_called_for(stack.events)
    if call is not None:
        assert app.modes.mode is Mode.SAFE, (
            f"{where}: mode {app.modes.mode.value} after {call.id}: {call.text}"
        )
    if app.modes.mode is not Mode.SAFE:
        return
    on = actuators_on(stack)
    assert not on, f"{where}: SAFE with {', '.join(on)} on the boards"
    await _packets_made_from_now(stack)
    assert app.modes.mode is Mode.SAFE, f"{where}: left SAFE with nothing commanded"
    shown = [name for name in OFF_IN_SAFE if app.channels.values.get(name) is not False]
    assert not shown, f"{where}: SAFE but the telemetry shows {', '.join(shown)}"


def play(steps: list[Action]) -> None:
    """Play ``steps`` on a fresh stack, checking after each one and at the end."""
    with tempfile.TemporaryDirectory() as tmp:
        # Stable port names: a board back from a disconnect may get another pty number.
        state_dir, link_dir = Path(tmp, "state"), Path(tmp, "ports")
        link_dir.mkdir()
        asyncio.run(_play(steps, state_dir, link_dir))


async def _play(steps: list[Action], state_dir: Path, link_dir: Path) -> None:
    async with flight_stack(state_dir, link_dir=link_dir) as stack:
        run = Run(stack)
        await check(run, "at boot")
        try:
            for index, step in enumerate(steps, 1):
                await step.run(run)
                if not step.background:
                    await check(run, f"after step {index}, {step!r}")
            await check(run, "at the end")
        finally:
            for task in run.pending:
                task.cancel()
            await asyncio.gather(*run.pending, return_exceptions=True)


#: CI runs a fixed set of examples; ISRU_STATEFUL_EXAMPLES=N explores N random ones.
_EXPLORE = int(os.environ.get("ISRU_STATEFUL_EXAMPLES", "0"))


@settings(
    max_examples=_EXPLORE or 60,
    derandomize=not _EXPLORE,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
@given(scenarios)
# Each fault path at least once, whatever the draw.
@example(
    [
        send("MODE.IDLE"),
        send("ELEC.START", current_a=2.0),
        DriftH2(20.0),
        AfterRed("elec.h2_pressure_kpa"),
    ]
)
@example(
    [
        send("MODE.IDLE"),
        send("SCOOP.HOME"),
        Stall("BOOM"),
        send("SCOOP.MOVE", joint="BOOM", angle_deg=60.0, speed_dps=15.0),
        AfterRed("scoop.boom_stall"),
    ]
)
@example(
    [
        send("MODE.IDLE"),
        send("ELEC.HEATER", enabled=True, setpoint_c=60.0),
        ArmVent("H2"),
        send("ELEC.START", current_a=4.0),
        Disconnect("scoop", 0.3),
        send("CORE.NOOP"),
    ]
)
@example([send("MODE.IDLE"), StartSequence("heat"), send("MODE.SAFE")])
@example(
    [
        send("MODE.IDLE"),
        StartSequence("cell"),
        DriftH2(20.0),
        AfterRed("elec.h2_pressure_kpa"),
    ]
)
@example(
    [
        send("MODE.IDLE"),
        send("SCOOP.HOME"),
        Concurrently(send("SCOOP.MOVE", joint="SCOOP", angle_deg=60.0, speed_dps=5.0)),
        Concurrently(send("ELEC.START", current_a=4.0)),
        send("MODE.SAFE"),
    ]
)
# A MODE.IDLE after the red limit: leaving SAFE is the operator's call.
@example(
    [
        send("MODE.IDLE"),
        send("ELEC.START", current_a=1.0),
        DriftH2(20.0),
        AfterRed("elec.h2_pressure_kpa"),
        send("MODE.IDLE"),
        ClearFaults("elec"),
        send("CORE.NOOP"),
    ]
)
def test_flight_stateful_no_actuator_on_in_safe(steps: list[Action]) -> None:
    play(steps)


def test_flight_stateful_valves_closed_in_safe_after_the_elec_link_returns() -> None:
    play(
        [
            send("MODE.IDLE"),
            send("ELEC.WATER", open=True),
            Disconnect("elec", 0.3),
            send("CORE.NOOP"),
        ]
    )
