"""The flight application against the simulated boards over real ptys, both on one time scale."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flight.boards import BOARDS
from flight.clock import ScaledClock
from flight.config import FlightConfig
from flight.dispatcher import Ack, Command, Stage
from flight.events import Event
from flight.vehicle import FlightApp
from sim import RealClock, SimBoards, StartFaults

#: Simulated seconds per real second: a 200 s electrolysis run takes 4 s of the test.
TIME_SCALE = 50.0
#: Real-time bound on any wait in these tests: generous, never the thing that passes a test.
WAIT_S = 20.0


@dataclass
class Stack:
    app: FlightApp
    sim: SimBoards
    events: list[Event] = field(default_factory=list)
    time_scale: float = TIME_SCALE
    _ids: int = 0

    async def send(self, name: str, /, **args: Any) -> list[Ack]:
        """Run one command to its end; return every ack it produced, in order."""
        self._ids += 1
        acks: list[Ack] = []
        command = Command(f"t{self._ids}", name, args, "test")
        async with asyncio.timeout(WAIT_S):
            await self.app.execute(command, acks.append)
        return acks

    async def ok(self, name: str, /, **args: Any) -> None:
        """Run a command that must complete."""
        acks = await self.send(name, **args)
        assert acks[-1].stage is Stage.COMPLETED, acks[-1]

    async def event(self, event_id: str, where: Callable[[Event], bool] = lambda _: True) -> Event:
        """The first event ``event_id`` so far or from now on."""
        for event in self.events:
            if event.id == event_id and where(event):
                return event
        return await self.app.events.wait_for(
            event_id, timeout_s=WAIT_S * self.time_scale, where=where
        )

    async def until(self, predicate: Callable[[dict[str, Any]], bool]) -> None:
        """Wait until the channel values satisfy ``predicate``."""
        await self.app.channels.wait_until(predicate, timeout_s=WAIT_S * self.time_scale)

    def ids(self) -> list[str]:
        return [e.id for e in self.events]


def flight_config(urls: dict[str, str], state_dir: Path, **overrides: Any) -> FlightConfig:
    document: dict[str, Any] = {
        "vehicle": "testbed",
        "devices": {
            board: {"url": url, "timeout_s": 0.2, "retries": 3, "reconnect_s": 0.05}
            for board, url in urls.items()
        },
        "telemetry": {"scoop_hz": 10, "elec_hz": 10, "oven_hz": 10, "core_hz": 1},
        "state": {"dir": str(state_dir)},
    }
    document.update(overrides)
    return FlightConfig.model_validate(document)


def _heard(values: dict[str, Any], board: str) -> bool:
    return bool(values.get(f"{board}.link_up")) and f"{board}.state" in values


@asynccontextmanager
async def flight_stack(
    state_dir: Path,
    *,
    faults: StartFaults | None = None,
    time_scale: float = TIME_SCALE,
    link_dir: Path | None = None,
    **overrides: Any,
) -> AsyncIterator[Stack]:
    """Simulated boards and the flight app, both at ``time_scale``.

    With ``link_dir`` the app opens the boards by stable symlinks there, so a board that is
    disconnected comes back at the same name even when its pty gets another number.
    """
    sim = SimBoards(clock=RealClock(time_scale), faults=faults, link_dir=link_dir)
    async with sim:
        config = flight_config(sim.urls, state_dir, **overrides)
        app = FlightApp(config=config, clock=ScaledClock(scale=time_scale))
        stack = Stack(app, sim, time_scale=time_scale)
        app.events.subscribe(stack.events.append)
        async with app:
            await stack.until(lambda v: all(_heard(v, board) for board in BOARDS))
            yield stack
