"""The status lines ``isru sil`` prints without a terminal: one a second from the telemetry."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiomqtt

from interface.broker import NODELAY, parse_broker
from isru.background import background
from isru.stack import SilError, Stack


async def live_view(stack: Stack) -> None:
    """One status line a second from the telemetry, until stopped (cancelled); raises
    SilError when a process of the stack exits on its own, MqttError when the broker goes."""
    host, port = parse_broker(stack.broker)
    latest: dict[str, Any] = {}
    async with aiomqtt.Client(host, port, socket_options=NODELAY) as client:
        await client.subscribe(f"isru/{stack.vehicle}/tm/+", qos=0)

        async def collect() -> None:
            async for message in client.messages:
                latest.update(json.loads(message.payload)["values"])  # type: ignore[arg-type]

        async with background(collect()) as collector, background(stack.watch()) as watch:
            while not (collector.done() or watch.done()):
                print(status_line(latest), flush=True)
                await asyncio.wait({collector, watch}, timeout=1.0)
            if watch.done():
                raise SilError(watch.result())
            collector.result()  # its error: the broker went away
            raise SilError("telemetry ended")


def status_line(values: dict[str, Any]) -> str:
    """One status line from the latest telemetry ``values`` (name -> value)."""
    if not values:
        return "waiting for telemetry"
    v = values.get
    return (
        f"mode {v('core.mode', '?'):<9} "
        f"scoop {v('scoop.state', '?'):<8} load {v('scoop.load_mass_g', 0):6.1f} g"
        f" | cell {v('elec.state', '?'):<7} {v('elec.cell_current_a', 0):4.1f} A"
        f"  H2 {v('elec.h2_pressure_kpa', 0):6.1f} kPa"
        f" | oven {v('oven.state', '?'):<12} {v('oven.sample_temp_c', 0):6.1f} degC"
        f" {v('oven.chamber_pressure_kpa', 0):6.3f} kPa"
        f"  water {v('oven.water_collected_g', 0):5.2f} g"
    )
