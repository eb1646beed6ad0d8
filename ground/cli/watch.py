"""``isru ground watch [CHANNEL...]``: stream telemetry, all channels or those named."""

from __future__ import annotations

import argparse

from ground.cli.online import run_online, stream
from ground.cli.output import telemetry_picker
from ground.client import GroundClient


def run(args: argparse.Namespace) -> int:
    async def work(client: GroundClient) -> int:
        assert client.dictionary is not None
        pick = telemetry_picker(client.dictionary, args.channels, as_json=args.json)
        return await stream(client, pick, args.count)

    return run_online(args, None, work)
