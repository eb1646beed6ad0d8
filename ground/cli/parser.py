"""The options and verbs of ``isru ground`` (the archive verbs have their own parser,
:mod:`ground.cli.archive_parser`), its ``--help`` epilog and its exit statuses."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from interface.dictionary import Severity

#: The exit statuses (documented in the epilog).
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

EPILOG = """\
exit status:
  0  done: the command reached the wanted stage, or the stream ended
  1  the vehicle answered FAILED (FAILED <reason>: <detail> on stderr), no stage in time,
     or a sequence file has problems
  2  usage error: bad option, unknown command or channel, arguments the dictionary
     rejects (the message names the argument), an unreadable key or sequence file
  3  the vehicle runs another dictionary than this console: commanding refused
  4  broker or vehicle unreachable
  5  the broker refused the login: not authorised (wrong user name or password, or none)
environment: ISRU_BROKER, ISRU_VEHICLE, ISRU_KEY_FILE, ISRU_MQTT_USERNAME,
  ISRU_MQTT_PASSWORD_FILE, ISRU_MQTT_CA_FILE are the options' defaults"""
DELEGATED = ("record", "archive", "plot")  # parsed by ground.cli.archive_parser


def seconds(text: str) -> float:
    if not float(text) > 0:
        raise ValueError(text)
    return float(text)


#: The event severities, lowest first, as the vehicle names them.
SEVERITIES = tuple(str(s) for s in Severity)


def severity(text: str) -> str:
    """A severity by its name or the start of it, in any case: ``warning``, ``WARN``, ``erro``."""
    word = text.strip().upper()
    found = [name for name in SEVERITIES if word and name.startswith(word)]
    if len(found) != 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a severity (one of {', '.join(SEVERITIES)})"
        )
    return found[0]


def count(text: str) -> int:
    if int(text) < 1:
        raise ValueError(text)
    return int(text)


def _options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    env, key = os.environ.get, os.environ.get("ISRU_KEY_FILE")
    password, ca = env("ISRU_MQTT_PASSWORD_FILE"), env("ISRU_MQTT_CA_FILE")
    for flag, meta, kind, value, about in (
        (
            "--broker",
            "mqtt[s]://HOST:PORT",
            str,
            env("ISRU_BROKER") or "mqtt://127.0.0.1:1883",
            "env ISRU_BROKER, else mqtt://127.0.0.1:1883",
        ),
        ("--vehicle", "ID", str, env("ISRU_VEHICLE") or "sil", "env ISRU_VEHICLE, else sil"),
        ("--key", "FILE", Path, Path(key) if key else None, "sign commands (env ISRU_KEY_FILE)"),
        ("--timeout", "SECONDS", seconds, None, "to connect and for each stage (default 10)"),
        (
            "--username",
            "NAME",
            str,
            env("ISRU_MQTT_USERNAME") or None,
            "log in to the broker as NAME (env ISRU_MQTT_USERNAME)",
        ),
        (
            "--password-file",
            "FILE",
            Path,
            Path(password) if password else None,
            "the login's password: the first line of FILE, mode 0600 (env ISRU_MQTT_PASSWORD_FILE)",
        ),
        (
            "--ca-file",
            "FILE",
            Path,
            Path(ca) if ca else None,
            "CA certificate to verify an mqtts:// broker (env ISRU_MQTT_CA_FILE; "
            "default: the system's)",
        ),
    ):
        default = value if defaults else argparse.SUPPRESS  # after the verb: only if given
        parser.add_argument(flag, metavar=meta, type=kind, default=default, help=about)


def build_parser(description: str | None = DESCRIPTION) -> argparse.ArgumentParser:
    """The options and verbs of ``isru ground`` (common options go before or after a verb)."""
    text = argparse.RawDescriptionHelpFormatter
    top = argparse.ArgumentParser(
        prog="isru ground", description=description, epilog=EPILOG, formatter_class=text
    )
    _options(top, defaults=True)
    top.add_argument(
        "--images-dir",
        metavar="DIR",
        type=Path,
        help="the console (no verb) keeps the vehicle's images in DIR (its samples tab opens them)",
    )
    shared = argparse.ArgumentParser(add_help=False)
    _options(shared, defaults=False)
    verbs = top.add_subparsers(dest="verb", metavar="VERB")

    def verb(parent: Any, name: str, about: str, *argument: str, **options: Any) -> Any:
        parser = parent.add_parser(
            name, parents=[shared], help=about, description=about, epilog=EPILOG
        )
        parser.formatter_class = text
        if argument:
            parser.add_argument(*argument, **options)
        return parser

    send = verb(verbs, "send", "send a command, print each stage as it arrives", "name")
    send.add_argument("args", nargs="*", metavar="ARG=VALUE", help="e.g. depth_mm=30 on=true")
    send.add_argument("--wait", choices=("accepted", "started", "completed"), default="completed")
    watch = verb(
        verbs,
        "watch",
        "stream telemetry: all channels, or those named",
        "channels",
        nargs="*",
        metavar="CHANNEL",
    )
    events = verb(
        verbs,
        "events",
        "stream events",
        "--min-severity",
        type=severity,
        default="DIAGNOSTIC",
        metavar="SEVERITY",
        help=f"{', '.join(SEVERITIES)}, in any case, or the start of one as the console "
        "shows it (WARN, ERRO); default DIAGNOSTIC: every event",
    )
    seq = verb(verbs, "seq", "check, upload, start, abort sequences; show their status")
    actions = seq.add_subparsers(dest="action", metavar="ACTION", required=True)
    verb(actions, "check", "check files offline", "files", nargs="+", type=Path)
    upload = verb(actions, "upload", "check a file, then store it onboard", "file", type=Path)
    upload.add_argument("--name", help="default: the file name without its extension")
    start = verb(actions, "start", "start an uploaded sequence", "name")
    abort = verb(actions, "abort", "abort the running sequence (the payload goes SAFE)")
    status = verb(actions, "status", "print the vehicle's retained sequence status")
    for parser in (watch, events):
        parser.add_argument("--count", type=count, metavar="N", help="stop after N messages")
    for parser in (send, upload, start, abort):
        parser.add_argument("--json", action="store_true", help="each ack as a JSON line")
    for parser in (watch, events):
        parser.add_argument("--json", action="store_true", help="each message as a JSON line")
    status.add_argument("--json", action="store_true", help="the status as one JSON object")
    for name in DELEGATED:
        verbs.add_parser(name, help=f"see 'isru ground {name} --help'", add_help=False)
    return top
