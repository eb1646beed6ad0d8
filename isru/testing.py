"""The SIL test harness: a pytest plugin whose ``sil`` fixture runs the whole stack for a test.

Installed with the package (entry point ``pytest11``), so a payload team's own tests get it::

    @pytest.mark.sil(time_scale=20)
    async def test_cell_makes_hydrogen(sil):
        await sil.send_and_await("MODE.IDLE")
        await sil.send_and_await("ELEC.START", current_a=2.0)
        await sil.wait_telemetry("elec.h2_pressure_kpa >= 150", timeout=60)

Each test gets its own broker (mosquitto, or the embedded one), simulator and ``isru flight``
with a temporary config, and a connected :class:`ground.GroundClient`. Timeouts are real
seconds; with ``time_scale=20`` a 10-minute sequence takes 30 s.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from ground import Ack, CommandRefused, Event, GroundClient
from interface.signing import load_key
from isru.stack import Stack, sil_stack

#: How long the harness waits for an ack, a value or an event unless a test says otherwise (real
#: seconds). Generous: on a loaded CI machine a stage that takes 50 ms at rest can take several
#: seconds, and a bound is only a failure when nothing comes at all.
DEFAULT_TIMEOUT_S = 30.0


class FaultError(RuntimeError):
    """The simulator refused a fault request; the message is its answer."""


class Sil:
    """What a test gets: the running stack and a ground client connected to it."""

    def __init__(self, stack: Stack, client: GroundClient) -> None:
        self.stack = stack
        self.client = client

    @property
    def values(self) -> dict[str, Any]:
        """The latest value of every channel heard so far."""
        return self.client.values

    async def send_and_await(
        self,
        name: str,
        /,
        *,
        stage: str = "COMPLETED",
        timeout: float = DEFAULT_TIMEOUT_S,
        **args: Any,
    ) -> list[Ack]:
        """Send ``name`` with ``args``; return its acks once ``stage`` arrived.

        Raises :class:`ground.CommandRefused` if the vehicle answers FAILED.
        """
        return await self.client.send(name, args, wait=stage, timeout_s=timeout)

    async def send_expect_failure(
        self,
        name: str,
        /,
        *,
        reason: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        **args: Any,
    ) -> Ack:
        """Send a command that must fail (with ``reason`` when given); return its FAILED ack."""
        try:
            await self.client.send(name, args, timeout_s=timeout)
        except CommandRefused as refused:
            if reason is not None and refused.ack.reason != reason:
                raise AssertionError(
                    f"{name} failed with {refused.ack.reason}, not {reason}"
                ) from None
            return refused.ack
        raise AssertionError(f"{name} completed, but it was expected to fail")

    async def wait_telemetry(
        self, condition: str, *, timeout: float = DEFAULT_TIMEOUT_S
    ) -> dict[str, Any]:
        """Wait until ``condition`` (``elec.h2_pressure_kpa >= 150``) holds on telemetry."""
        return await self.client.wait_telemetry(condition, timeout_s=timeout)

    async def await_event(
        self,
        event_id: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        where: Callable[[Event], bool] = lambda _: True,
    ) -> Event:
        """The first event ``event_id`` (so far or from now on) for which ``where`` holds."""
        return await self.client.await_event(event_id, timeout_s=timeout, where=where)

    async def inject_fault(self, board: str, fault: str, **params: Any) -> None:
        """Inject a simulator fault at run time, e.g. ``inject_fault("scoop", "stall",
        joint="boom", on=True)`` or ``inject_fault("elec", "drift", sensor="h2_pressure",
        rate=5.0)``; see docs/sim.md for every fault."""
        answer = await self.stack.sim.send_control(
            json.dumps({"board": board, "fault": fault, **params})
        )
        if not json.loads(answer).get("ok"):
            raise FaultError(answer)

    async def run_sequence(
        self, text: str, *, name: str = "test", timeout: float = 60.0
    ) -> tuple[Event, dict[str, Any]]:
        """Upload and start a sequence; return its end event and final status."""
        await self.client.upload_sequence(name, text)
        mark = await self.client.start_sequence(name)
        return await self.client.wait_sequence_end(name, since=mark, timeout_s=timeout)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sil(time_scale=1.0, key=None, embedded_broker=False, vehicle='sil'): options of the "
        "`sil` fixture (key: path of a command key file)",
    )


@pytest_asyncio.fixture
async def sil(request: pytest.FixtureRequest) -> AsyncIterator[Sil]:
    """The whole SIL stack for one test, and a ground client connected to it."""
    marker = request.node.get_closest_marker("sil")
    options: dict[str, Any] = dict(marker.kwargs) if marker else {}
    key_path = Path(options["key"]) if options.get("key") else None
    key = await asyncio.to_thread(load_key, key_path) if key_path else None
    async with (
        sil_stack(
            vehicle=options.get("vehicle", "sil"),
            key=key_path,
            time_scale=float(options.get("time_scale", 1.0)),
            embedded_broker=bool(options.get("embedded_broker", False)),
        ) as stack,
        GroundClient(broker=stack.broker, vehicle=stack.vehicle, key=key) as client,
    ):
        await client.wait_telemetry("scoop.link_up == true and elec.link_up == true", timeout_s=30)
        yield Sil(stack, client)
