"""``isru ground``: command and watch one vehicle from a shell; no verb opens the console."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import aiomqtt

from ground.cli_args import (
    DELEGATED,
    Pick,
    SequenceProblems,
    UsageError,
    build_parser,
    check_sequence_file,
    command_args,
    event_picker,
    sequence_status_line,
    stage_line,
    telemetry_picker,
)
from ground.client import (
    STAGES,
    DictionaryMismatch,
    GroundClient,
    LoginRefused,
    PasswordFileError,
    VehicleUnavailable,
    read_password,
)
from ground.messages import Ack, GroundError
from interface.catalog import DICTIONARY
from interface.signing import KeyFileError, load_key

__all__ = ["main"]

OK, FAILED, USAGE, MISMATCH, UNREACHABLE, NOT_AUTHORISED = 0, 1, 2, 3, 4, 5
DESCRIPTION = "Command and watch one vehicle from a shell; with no verb, open the console."
#: The common options and the environment variable that gives each one's default.
ENVIRONMENT = {
    "--broker": "ISRU_BROKER",
    "--vehicle": "ISRU_VEHICLE",
    "--key": "ISRU_KEY_FILE",
    "--timeout": "",
    "--username": "ISRU_MQTT_USERNAME",
    "--password-file": "ISRU_MQTT_PASSWORD_FILE",
    "--ca-file": "ISRU_MQTT_CA_FILE",
}
COMMON = tuple(ENVIRONMENT)
#: What the archive verbs take of them: the broker, the vehicle and the login.
FORWARDED = ("--broker", "--vehicle", "--username", "--password-file", "--ca-file")
Request = tuple[str, dict[str, Any], str | None]  # command, arguments, topic attribute


def main(argv: list[str] | None = None) -> int:
    """Run ``isru ground``; return the exit status (see the --help epilog)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        delegated = _delegate(argv)
        args = None if delegated is not None else build_parser(DESCRIPTION).parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else USAGE
    if args is None:
        return delegated or OK
    try:
        return _run(args)
    except UsageError as exc:
        return _fail(USAGE, str(exc))
    except SequenceProblems as exc:
        print("\n".join(exc.lines))
        return FAILED
    except KeyboardInterrupt:  # Ctrl-C ends a stream normally
        return OK if args.verb in ("watch", "events") else 130


def _fail(code: int, message: str) -> int:
    print(f"isru ground: {message}", file=sys.stderr)
    return code


def _delegate(argv: list[str]) -> int | None:
    """``record``, ``archive``, ``plot`` go to ground.archive_cli, with the broker, vehicle
    and login given before the verb (or by the environment); None for any other verb."""
    at = 0
    while at < len(argv) and argv[at].split("=")[0] in COMMON:
        at += 1 if "=" in argv[at] else 2
    if at >= len(argv) or argv[at] not in DELEGATED:
        return None
    given = build_parser(DESCRIPTION).parse_args(argv[:at])
    flags, forward = {word.split("=")[0] for word in argv[:at]}, []
    for flag in FORWARDED:
        if flag in flags or os.environ.get(ENVIRONMENT[flag]):
            forward += [flag, str(getattr(given, flag[2:].replace("-", "_")))]
    try:
        module = importlib.import_module("ground.archive_cli")
    except ModuleNotFoundError as exc:
        return _fail(FAILED, f"{argv[at]}: not available in this build (no module {exc.name})")
    return int(module.main([*forward, *argv[at:]]))


def _run(args: argparse.Namespace) -> int:
    action = getattr(args, "action", None)
    if action == "check":
        return _seq_check(args.files)
    if args.verb is None:
        return _console(args)
    request = _request(args, action)  # offline checks first: main reports their errors
    try:
        return asyncio.run(_online(args, request))
    except DictionaryMismatch as exc:
        return _fail(MISMATCH, str(exc))
    except VehicleUnavailable as exc:
        return _fail(UNREACHABLE, str(exc))
    except LoginRefused as exc:
        return _fail(NOT_AUTHORISED, str(exc))
    except aiomqtt.MqttError as exc:
        return _fail(UNREACHABLE, f"broker {args.broker} unreachable: {exc}")
    except GroundError as exc:  # the dictionary refused the command or its arguments
        return _fail(USAGE, str(exc))


def _key(path: Path | None) -> bytes | None:
    try:
        return None if path is None else load_key(path)
    except KeyFileError as exc:
        raise UsageError(str(exc)) from None


def _login(args: argparse.Namespace) -> dict[str, Any]:
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


def _console(args: argparse.Namespace) -> int:
    try:
        console = importlib.import_module("ground.console")
    except ModuleNotFoundError as exc:
        return _fail(FAILED, f"the console is not available (no module {exc.name}); see --help")
    login, key = _login(args), _key(args.key)
    return int(console.run_console(broker=args.broker, vehicle=args.vehicle, key=key, **login))


def _seq_check(files: list[Path]) -> int:
    status = OK
    for path in files:
        try:
            _, sequence = check_sequence_file(path, DICTIONARY)
            print(f"{path}: ok ({len(sequence.steps)} steps)")
        except SequenceProblems as exc:
            print("\n".join(exc.lines))
            status = max(status, FAILED)
        except UsageError as exc:
            status = max(status, _fail(USAGE, str(exc)))
    return status


def _request(args: argparse.Namespace, action: str | None) -> Request | None:
    """The command a verb sends (checked offline first), or None for a verb that only reads."""
    if args.verb == "send":
        return args.name, command_args(args.args), None
    if action == "upload":
        text, _ = check_sequence_file(args.file, DICTIONARY)
        return "SEQ.UPLOAD", {"name": args.name or args.file.stem, "text": text}, "seq_upload"
    if action == "start":
        return "SEQ.START", {"name": args.name}, "seq_start"
    return ("SEQ.ABORT", {}, "seq_abort") if action == "abort" else None


async def _online(args: argparse.Namespace, request: Request | None) -> int:
    try:
        client = GroundClient(
            broker=args.broker,
            vehicle=args.vehicle,
            expected=DICTIONARY,
            key=None if request is None else _key(args.key),
            check_dictionary=request is not None,  # watching another dictionary is harmless
            timeout_s=args.timeout or 10.0,
            **_login(args),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if request is not None:
        client.check(request[0], request[1])  # before connecting: a usage error stays one
    async with client:
        as_json = getattr(args, "json", False)
        if request is not None:
            name, values, topic = request
            return await _send(
                client,
                name,
                values,
                topic=topic and getattr(client.topics, topic),
                wait=getattr(args, "wait", "completed").upper(),
                as_json=as_json,
                timeout_s=args.timeout,
            )
        if args.verb == "watch":
            assert client.dictionary is not None
            pick = telemetry_picker(client.dictionary, args.channels, as_json=as_json)
            return await _stream(client, pick, args.count)
        if args.verb == "events":
            pick = event_picker(args.min_severity, as_json=as_json)
            return await _stream(client, pick, args.count)
        return await _seq_status(client, as_json=as_json)


async def _send(
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
        return await asyncio.wait_for(_stages(acks, command_id, wait, as_json=as_json), limit)
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


async def _stream(client: GroundClient, pick: Pick, count: int | None) -> int:
    """Print what ``pick`` makes of each message, until ``count`` lines or Ctrl-C."""
    lines: asyncio.Queue[str] = asyncio.Queue()

    def take(suffix: str, document: dict[str, Any]) -> None:
        if suffix == "status" and document.get("state") == "offline":
            print(f"isru ground: vehicle {client.vehicle} is offline", file=sys.stderr)
        if (line := pick(suffix, document)) is not None:
            lines.put_nowait(line)

    remove = client.listen(take)
    offline = " (the vehicle is offline)" if client.status.get("state") == "offline" else ""
    _fail(OK, f"watching {client.vehicle} on {client.broker}{offline} (Ctrl-C stops)")
    try:
        shown = 0
        while count is None or shown < count:
            print(await lines.get(), flush=True)
            shown += 1
    finally:
        remove()
    return OK


async def _seq_status(client: GroundClient, *, as_json: bool) -> int:
    """The retained ``seq/status``: it follows the dictionary at once, if there is one."""
    for _ in range(20):
        if client.sequence_status:
            break
        await asyncio.sleep(0.05)
    status = client.sequence_status
    if not status:
        print(f"no sequence has run on vehicle {client.vehicle} (no retained seq/status)")
    else:
        print(json.dumps(status) if as_json else sequence_status_line(status))
    return OK
