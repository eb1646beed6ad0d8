"""``isru ground send NAME ARG=VALUE...``: send a command, print each stage as it arrives."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from ground.cli.online import Request, run_online
from ground.cli.output import stage_line
from ground.cli.parser import FAILED, OK
from ground.cli.words import command_args
from ground.client import GroundClient
from ground.commanding import STAGES
from ground.messages import Ack


def run(args: argparse.Namespace) -> int:
    return send_request(args, (args.name, command_args(args.args), None))


def send_request(args: argparse.Namespace, request: Request) -> int:
    """Send ``request`` (checked offline first) and print its stages until ``--wait``."""
    name, values, topic = request

    async def work(client: GroundClient) -> int:
        return await send(
            client,
            name,
            values,
            topic=topic and getattr(client.topics, topic),
            wait=getattr(args, "wait", "completed").upper(),
            as_json=args.json,
            timeout_s=args.timeout,
        )

    return run_online(args, request, work)


async def send(
    client: GroundClient,
    name: str,
    args: dict[str, Any],
    *,
    topic: str | None,
    wait: str,
    as_json: bool,
    timeout_s: float | None,
) -> int:
    """Publish ``name``; print each of its acks as it arrives; OK once ``wait`` is reached."""
    limit = timeout_s or max(10.0, client.expected.command_index[name].completion_timeout_s + 5)
    acks: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    remove = client.listen(
        lambda suffix, doc: acks.put_nowait(doc) if suffix == "cmd/ack" else None
    )
    try:
        command_id = await client.publish_command(name, args, topic=topic)
        async with asyncio.timeout(limit):  # not wait_for: it can drop a cancel (Ctrl-C)
            return await _stages(acks, command_id, wait, as_json=as_json)
    except TimeoutError:
        print(f"FAILED TIMEOUT: {name} did not reach {wait} in {limit:g} s", file=sys.stderr)
        return FAILED
    finally:
        remove()


async def _stages(
    acks: asyncio.Queue[dict[str, Any]], command_id: str, wait: str, *, as_json: bool
) -> int:
    while True:
        document = await acks.get()
        ack = Ack.from_message(document)
        if ack.id != command_id:
            continue
        print(json.dumps(document) if as_json else stage_line(ack), flush=True)
        if ack.stage == "FAILED":
            print(f"FAILED {ack.reason}: {ack.detail}", file=sys.stderr)
            return FAILED
        if ack.stage in STAGES and STAGES.index(ack.stage) >= STAGES.index(wait):
            return OK
