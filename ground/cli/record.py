"""``isru ground record``: run the recorder (:mod:`ground.recorder`) until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path
from typing import Any

from ground.cli.output import note
from ground.password import read_password
from ground.recorder import record

DEFAULT_VEHICLE = "sil"


def run(options: argparse.Namespace) -> int:
    counts = asyncio.run(
        _record_until_signal(
            broker=options.broker,
            vehicle=options.vehicle or DEFAULT_VEHICLE,
            archive_path=options.archive,
            username=options.username,
            password=read_password(options.password_file) if options.password_file else None,
            ca_file=options.ca_file,
        )
    )
    note(
        f"archive {options.archive}: {counts['telemetry']} telemetry samples, "
        f"{counts['events']} events, {counts['acks']} acks"
        + (f" ({counts['rejected']} malformed messages ignored)" if counts["rejected"] else "")
    )
    return 0


async def _record_until_signal(
    *, broker: str, vehicle: str, archive_path: Path, **login: Any
) -> dict[str, int]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    note(f"recording vehicle {vehicle} from {broker} (Ctrl-C to stop)")
    try:
        return await record(
            broker=broker,
            vehicle=vehicle,
            archive_path=archive_path,
            stop=stop,
            log=note,
            **login,
        )
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
