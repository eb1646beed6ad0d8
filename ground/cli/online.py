"""What the verbs that talk to the vehicle share: the login and key from the options, one
connected :class:`ground.GroundClient`, its errors as exit statuses, and printing a stream."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiomqtt

from ground.cli.output import Pick, fail
from ground.cli.parser import MISMATCH, NOT_AUTHORISED, OK, UNREACHABLE, USAGE
from ground.cli.words import UsageError
from ground.client import GroundClient
from ground.connection import LoginRefused
from ground.messages import GroundError
from ground.password import PasswordFileError, read_password
from ground.session import DictionaryMismatch, VehicleUnavailable
from interface.catalog import DICTIONARY
from interface.signing import KeyFileError, load_key

#: The command a verb sends: its name, its arguments, and the topic attribute of Topics
#: it goes to (None: ``cmd``).
Request = tuple[str, dict[str, Any], str | None]
Work = Callable[[GroundClient], Awaitable[int]]


def key(path: Path | None) -> bytes | None:
    """The command key of ``--key``; UsageError for a key file that cannot be used."""
    try:
        return None if path is None else load_key(path)
    except KeyFileError as exc:
        raise UsageError(str(exc)) from None


def login(args: argparse.Namespace) -> dict[str, Any]:
    """GroundClient's ``username``, ``password`` and ``ca_file`` from the options; UsageError
    for half a login or a password file that cannot be read or is not private."""
    if bool(args.username) != (args.password_file is not None):
        raise UsageError(
            "--username and --password-file go together "
            "(or ISRU_MQTT_USERNAME and ISRU_MQTT_PASSWORD_FILE)"
        )
    try:
        password = None if args.password_file is None else read_password(args.password_file)
    except PasswordFileError as exc:
        raise UsageError(str(exc)) from None
    return {"username": args.username, "password": password, "ca_file": args.ca_file}


def run_online(args: argparse.Namespace, request: Request | None, work: Work) -> int:
    """Connect (checking the dictionary when ``request`` commands), run ``work`` on the
    client; the exit status, or the one each error means (one line on stderr)."""
    try:
        return asyncio.run(_online(args, request, work))
    except DictionaryMismatch as exc:
        return fail(MISMATCH, str(exc))
    except VehicleUnavailable as exc:
        return fail(UNREACHABLE, str(exc))
    except LoginRefused as exc:
        return fail(NOT_AUTHORISED, str(exc))
    except aiomqtt.MqttError as exc:
        return fail(UNREACHABLE, f"broker {args.broker} unreachable: {exc}")
    except GroundError as exc:  # the dictionary refused the command or its arguments
        return fail(USAGE, str(exc))


async def _online(args: argparse.Namespace, request: Request | None, work: Work) -> int:
    try:
        client = GroundClient(
            broker=args.broker,
            vehicle=args.vehicle,
            expected=DICTIONARY,
            key=None if request is None else key(args.key),
            check_dictionary=request is not None,  # watching another dictionary is harmless
            timeout_s=args.timeout or 10.0,
            **login(args),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if request is not None:
        client.check(request[0], request[1])  # before connecting: a usage error stays one
    async with client:
        return await work(client)


async def stream(client: GroundClient, pick: Pick, count: int | None) -> int:
    """Print what ``pick`` makes of each message, until ``count`` lines or Ctrl-C."""
    lines: asyncio.Queue[str] = asyncio.Queue()

    def take(suffix: str, document: dict[str, Any]) -> None:
        if suffix == "status" and document.get("state") == "offline":
            fail(OK, f"vehicle {client.vehicle} is offline")
        if (line := pick(suffix, document)) is not None:
            lines.put_nowait(line)

    remove = client.listen(take)
    offline = " (the vehicle is offline)" if client.status.get("state") == "offline" else ""
    fail(OK, f"watching {client.vehicle} on {client.broker}{offline} (Ctrl-C stops)")
    try:
        shown = 0
        while count is None or shown < count:
            print(await lines.get(), flush=True)
            shown += 1
    finally:
        remove()
    return OK
