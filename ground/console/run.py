"""``isru ground``'s entry: connect to the vehicle, run the console, disconnect."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from ground import GroundClient, GroundError, LoginRefused
from ground.console.app import ConsoleApp


def run_console(
    *,
    broker: str,
    vehicle: str,
    key: bytes | None = None,
    check_dictionary: bool = True,
    username: str | None = None,
    password: str | None = None,
    ca_file: Path | None = None,
    images_dir: Path | None = None,
) -> int:
    """Run the console until the operator quits; 0, or 1 with the reason on stderr when the
    vehicle cannot be reached (5 when the broker refuses the login). ``check_dictionary=False``
    watches a vehicle that runs another dictionary (the console then refuses to command it).
    ``username``, ``password`` and ``ca_file`` are GroundClient's; ``images_dir`` the
    console's (keep the vehicle's images there)."""
    client = {"username": username, "password": password, "ca_file": ca_file}
    try:
        return asyncio.run(
            _run(
                broker=broker,
                vehicle=vehicle,
                key=key,
                check_dictionary=check_dictionary,
                images_dir=images_dir,
                **client,
            )
        )
    except LoginRefused as exc:
        print(f"isru ground: {exc}", file=sys.stderr)
        return 5
    except (GroundError, ValueError, OSError) as exc:
        print(f"isru ground: {exc}", file=sys.stderr)
        return 1


async def _run(
    *,
    broker: str,
    vehicle: str,
    key: bytes | None,
    check_dictionary: bool,
    images_dir: Path | None,
    **login: Any,
) -> int:
    try:
        client = GroundClient(
            broker=broker, vehicle=vehicle, key=key, check_dictionary=check_dictionary, **login
        )
        async with client:
            app = ConsoleApp(client=client, images_dir=images_dir)
            result = await app.run_async()
    except GroundError:
        raise
    except Exception as exc:  # aiomqtt.MqttError: the broker is not there
        raise GroundError(f"cannot connect to {broker}: {exc}") from exc
    return result or 0
