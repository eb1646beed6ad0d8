"""``isru ground``'s entry: connect to the vehicle, run the console, disconnect."""

from __future__ import annotations

import asyncio
import sys

from ground.client import GroundClient
from ground.console.app import ConsoleApp
from ground.messages import GroundError


def run_console(
    *, broker: str, vehicle: str, key: bytes | None = None, check_dictionary: bool = True
) -> int:
    """Run the console until the operator quits; 0, or 1 with the reason on stderr when the
    vehicle cannot be reached. ``check_dictionary=False`` watches a vehicle that runs another
    dictionary (the console then refuses to command it)."""
    try:
        return asyncio.run(
            _run(broker=broker, vehicle=vehicle, key=key, check_dictionary=check_dictionary)
        )
    except (GroundError, ValueError, OSError) as exc:
        print(f"isru ground: {exc}", file=sys.stderr)
        return 1


async def _run(*, broker: str, vehicle: str, key: bytes | None, check_dictionary: bool) -> int:
    try:
        client = GroundClient(
            broker=broker, vehicle=vehicle, key=key, check_dictionary=check_dictionary
        )
        async with client:
            app = ConsoleApp(client=client)
            result = await app.run_async()
    except GroundError:
        raise
    except Exception as exc:  # aiomqtt.MqttError: the broker is not there
        raise GroundError(f"cannot connect to {broker}: {exc}") from exc
    return result or 0
