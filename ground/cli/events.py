"""``isru ground events [--min-severity SEVERITY]``: stream events."""

from __future__ import annotations

import argparse

from ground.cli.online import run_online, stream
from ground.cli.output import event_picker
from ground.client import GroundClient


def run(args: argparse.Namespace) -> int:
    async def work(client: GroundClient) -> int:
        return await stream(client, event_picker(args.min_severity, as_json=args.json), args.count)

    return run_online(args, None, work)
