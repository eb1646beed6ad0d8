"""``isru ground seq check|upload|start|abort|status``: sequences from a shell."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from ground.cli.online import Request, run_online
from ground.cli.output import fail, sequence_status_line
from ground.cli.parser import FAILED, OK, USAGE
from ground.cli.send import send_request
from ground.cli.words import SequenceProblems, UsageError, check_sequence_file
from ground.client import GroundClient
from interface.catalog import DICTIONARY


def run(args: argparse.Namespace) -> int:
    if args.action == "check":
        return check(args.files)
    if args.action == "status":
        return run_online(args, None, lambda client: status(client, as_json=args.json))
    return send_request(args, _request(args))


def _request(args: argparse.Namespace) -> Request:
    """The command of ``upload`` (its file checked offline first), ``start`` or ``abort``."""
    if args.action == "upload":
        text, _ = check_sequence_file(args.file, DICTIONARY)
        return "SEQ.UPLOAD", {"name": args.name or args.file.stem, "text": text}, "seq_upload"
    if args.action == "start":
        return "SEQ.START", {"name": args.name}, "seq_start"
    return "SEQ.ABORT", {}, "seq_abort"


def check(files: list[Path]) -> int:
    """``seq check``: each file ``ok (N steps)`` or its problems, offline."""
    code = OK
    for path in files:
        try:
            _, sequence = check_sequence_file(path, DICTIONARY)
            print(f"{path}: ok ({len(sequence.steps)} steps)")
        except SequenceProblems as exc:
            print("\n".join(exc.lines))
            code = max(code, FAILED)
        except UsageError as exc:
            code = max(code, fail(USAGE, str(exc)))
    return code


async def status(client: GroundClient, *, as_json: bool) -> int:
    """The retained ``seq/status``: it follows the dictionary at once, if there is one."""
    for _ in range(20):
        if client.sequence_status:
            break
        await asyncio.sleep(0.05)
    found = client.sequence_status
    if not found:
        print(f"no sequence has run on vehicle {client.vehicle} (no retained seq/status)")
    else:
        print(json.dumps(found) if as_json else sequence_status_line(found))
    return OK
