"""Words and lines of ``isru ground``: its options and verbs, command arguments as typed
values, sequence files checked offline, and the text each stream prints."""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ground.messages import Ack, Event, GroundError, Telemetry
from interface.dictionary import Dictionary, Severity
from interface.sequence import MAX_BYTES, Sequence, SequenceError, parse_sequence, read_value

__all__ = [
    "DELEGATED",
    "SequenceProblems",
    "UsageError",
    "build_parser",
    "check_sequence_file",
    "command_args",
    "event_line",
    "event_picker",
    "sequence_status_line",
    "stage_line",
    "telemetry_line",
    "telemetry_picker",
]

#: What a stream prints for one message (topic suffix, document), or None to skip it.
Pick = Callable[[str, dict[str, Any]], str | None]
_ARG_NAME = re.compile(r"[a-z][a-z0-9_]*", re.ASCII)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*", re.ASCII)


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
DELEGATED = ("record", "archive", "plot")  # handled by ground.archive_cli


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


def build_parser(description: str | None) -> argparse.ArgumentParser:
    """The options and verbs of ``isru ground`` (common options go before or after a verb)."""
    text = argparse.RawDescriptionHelpFormatter
    top = argparse.ArgumentParser(
        prog="isru ground", description=description, epilog=EPILOG, formatter_class=text
    )
    _options(top, defaults=True)
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


class UsageError(GroundError):
    """The operator's words cannot be a request (exit status 2); the message says why."""


def command_args(words: list[str]) -> dict[str, Any]:
    """``name=value`` words as the sequence language reads them: ``true``/``false``, numbers
    (int unless written with ``.`` or an exponent), or a bare word."""
    args: dict[str, Any] = {}
    for word in words:
        key, eq, raw = word.partition("=")
        if not eq or not _ARG_NAME.fullmatch(key):
            raise UsageError(f"expected name=value, got {word!r}")
        if key in args:
            raise UsageError(f"argument {key}: given twice")
        args[key] = _value(key, raw)
    return args


def _value(key: str, raw: str) -> Any:
    try:
        return read_value(raw)
    except ValueError as exc:
        if _WORD.fullmatch(raw):
            return raw  # the shell also takes words with '-' (sequence names, say)
        raise UsageError(f"argument {key}: {exc}") from None


class SequenceProblems(GroundError):
    """A sequence file the dictionary rejects (exit status 1); ``lines`` are ``FILE:LINE: ...``."""

    def __init__(self, path: Path, error: SequenceError) -> None:
        super().__init__(f"{path}: {len(error.problems)} problem(s)")
        self.lines = [
            f"{path}:{p.line}: {p.message}" if p.line else f"{path}: {p}" for p in error.problems
        ]


def check_sequence_file(path: Path, dictionary: Dictionary) -> tuple[str, Sequence]:
    """The text of a sequence file and its checked steps; UsageError for an unreadable file,
    SequenceProblems for a bad one."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)
        text = data.decode("utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        return text, parse_sequence(text, name=path.stem or str(path), dictionary=dictionary)
    except SequenceError as exc:
        raise SequenceProblems(path, exc) from None


def stage_line(ack: Ack) -> str:
    return f"{ack.stage:<9} {ack.time}  {ack.name}" + ("  (replayed)" if ack.replayed else "")


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value) if value != "" else '""'


def telemetry_line(
    time: str, values: dict[str, Any], units: dict[str, str], *, replayed: bool = False
) -> str:
    """``time  channel=value unit  ...``, channels in name order."""
    shown = [
        f"{name}={_shown(value)}" + (f" {units[name]}" if units.get(name) else "")
        for name, value in sorted(values.items())
    ]
    return "  ".join([time, *shown]) + ("  (replayed)" if replayed else "")


def event_line(event: Event) -> str:
    line = f"{event.time}  {event.severity:<10} {event.id}  {event.text}"
    return line + ("  (replayed)" if event.replayed else "")


def telemetry_picker(dictionary: Dictionary, channels: list[str], *, as_json: bool) -> Pick:
    """Telemetry lines of ``channels`` (all when empty); UsageError naming an unknown one."""
    index = dictionary.channel_index
    for name in channels:
        if name not in index:
            hint = difflib.get_close_matches(name, index, n=1)
            maybe = f" (did you mean {hint[0]}?)" if hint else ""
            raise UsageError(f"unknown channel {name!r}{maybe}")
    units, wanted = {n: c.unit for n, c in index.items()}, set(channels)

    def pick(suffix: str, document: dict[str, Any]) -> str | None:
        if not suffix.startswith("tm/"):
            return None
        tm = Telemetry.from_message(suffix[3:], document)
        values = {k: v for k, v in tm.values.items() if not wanted or k in wanted}
        if not values:
            return None
        if as_json:
            return json.dumps({**document, "packet": tm.packet, "values": values})
        return telemetry_line(tm.time, values, units, replayed=tm.replayed)

    return pick


def event_picker(min_severity: str, *, as_json: bool) -> Pick:
    """Event lines at ``min_severity`` or above (an unknown severity is always shown)."""
    order = [str(s) for s in Severity]
    floor = order.index(min_severity)

    def pick(suffix: str, document: dict[str, Any]) -> str | None:
        event = Event.from_message(document) if suffix == "evr" else None
        if event is None or (event.severity in order and order.index(event.severity) < floor):
            return None
        return json.dumps(document) if as_json else event_line(event)

    return pick


def sequence_status_line(status: dict[str, Any]) -> str:
    """The retained ``seq/status`` as one line of ``key=value``."""
    state = status.get("state", "?")
    parts = [f"state={state}", f"name={status.get('name') or '-'}"]
    if state == "RUNNING":
        parts += [f"step={status.get('step', 0)}/{status.get('steps', 0)}"]
        parts += [f"line={status.get('line', 0)}", f"next={status.get('next_step') or '-'}"]
    if status.get("outcome"):
        parts.append(f"outcome={status['outcome']}")
    if status.get("reason"):
        parts.append(f"reason={status['reason']!r}")
    parts.append(f"elapsed_s={float(status.get('elapsed_s', 0.0)):.1f}")
    parts.append("uploaded=" + (",".join(status.get("uploaded") or []) or "-"))
    return "  ".join(parts)
