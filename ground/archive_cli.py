"""``isru ground record | archive export | archive gaps | plot``: the archive from a shell.

:func:`record` is the recorder: a plain MQTT client (it does not need the vehicle's
dictionary, so it records any build) with a persistent session, so that what the broker
received while the recorder was away is delivered when it comes back (up to the broker's
per-client queue; ``archive gaps`` shows anything that was lost anyway).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import signal
import sqlite3
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import aiomqtt

from ground.archive import DEFAULT_BATCH, Archive, parse_time
from ground.client import (
    LoginRefused,
    PasswordFileError,
    login_options,
    login_refused,
    read_password,
)
from ground.messages import GroundError
from interface.broker import NODELAY, parse_broker
from interface.catalog import DICTIONARY
from interface.messages import MAX_PAYLOAD_BYTES, VEHICLE_PATTERN

DEFAULT_ARCHIVE = Path("isru-archive.db")
DEFAULT_BROKER = "mqtt://127.0.0.1:1883"
DEFAULT_VEHICLE = "sil"
FLUSH_INTERVAL_S = 0.2
RECONNECT_MIN_S = 0.1
RECONNECT_MAX_S = 5.0
FORMATS = ("csv",)


def _quiet(_: str) -> None:
    pass


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def record(
    *,
    broker: str,
    vehicle: str,
    archive_path: Path,
    stop: asyncio.Event,
    identifier: str | None = None,
    flush_interval_s: float = FLUSH_INTERVAL_S,
    batch: int = DEFAULT_BATCH,
    on_commit: Callable[[Archive], None] | None = None,
    log: Callable[[str], None] = _quiet,
    username: str | None = None,
    password: str | None = None,
    ca_file: Path | None = None,
) -> dict[str, int]:
    """Store everything under ``isru/<vehicle>/#`` in the archive until ``stop`` is set.

    Connects as ``isru-ground-recorder-<vehicle>`` (or ``identifier``) with
    ``clean_session=False`` and QoS 1, and reconnects with backoff whenever the broker goes
    away. Commits every ``batch`` rows and every ``flush_interval_s``; ``on_commit(archive)``
    runs after each commit that stored rows. Returns :meth:`Archive.counts` at the end, plus
    ``rejected``: the malformed messages of this run, ignored. ``username``, ``password`` and
    ``ca_file`` are the login, as for GroundClient; a refused login raises LoginRefused (it is
    not retried: a wrong password does not come right by waiting).
    """
    host, port = parse_broker(broker)
    login = login_options(broker, username=username, password=password, ca_file=ca_file)
    if not isinstance(vehicle, str) or not re.match(VEHICLE_PATTERN, vehicle):
        raise ValueError(f"vehicle: {vehicle!r} is not a vehicle name ({VEHICLE_PATTERN})")
    if not flush_interval_s > 0:
        raise ValueError(f"flush_interval_s: must be above 0, got {flush_interval_s!r}")
    client_id = identifier or f"isru-ground-recorder-{vehicle}"
    prefix = f"isru/{vehicle}/"
    with Archive(archive_path, vehicle=vehicle, batch=batch) as archive:
        if on_commit is not None:
            archive.on_commit(lambda: on_commit(archive))
        intake = _Intake(archive, prefix)
        flusher = asyncio.create_task(_flush_every(intake, flush_interval_s))
        delay = RECONNECT_MIN_S
        try:
            while not stop.is_set():
                try:
                    async with aiomqtt.Client(
                        host,
                        port,
                        identifier=client_id,
                        clean_session=False,
                        socket_options=NODELAY,
                        queue_type=intake.queue_type(),
                        **login,
                    ) as client:
                        await client.subscribe(f"{prefix}#", qos=1)
                        log(f"recording {prefix}# from {broker} into {archive.path}")
                        delay = RECONNECT_MIN_S
                        await _until_stopped(_connection(client), stop, intake.failed)
                        if intake.error is not None:
                            raise intake.error
                except aiomqtt.MqttError as exc:
                    refused = login_refused(broker, username, exc)
                    if refused is not None:
                        raise refused from None
                    log(f"broker {broker}: {exc}; retrying in {delay:g} s")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
                    delay = min(delay * 2, RECONNECT_MAX_S)
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            archive.flush()
        return {**archive.counts(vehicle), "rejected": archive.rejected}


async def _flush_every(intake: _Intake, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            intake.archive.flush()
        except Exception as exc:
            intake.error = exc
            intake.failed.set()
            return


class _Intake:
    """Hands every message to the archive as paho decodes it.

    aiomqtt's documented extension point ``queue_type`` is used for this: the "queue" is a
    sink whose ``put_nowait`` (called in the event loop's thread, from aiomqtt's
    ``on_message``) parses and archives the message at once. The usual ``client.messages``
    iteration costs a task and an ``asyncio.wait`` per message, a third of the recorder's
    time at high rates. Nothing is ever queued; iterating ``client.messages`` then only
    reports a lost connection. An error while archiving (a full disk) is kept in ``error``
    and sets ``failed``, never raised into paho's read loop.
    """

    def __init__(self, archive: Archive, prefix: str) -> None:
        self.archive = archive
        self.prefix = prefix
        self.error: Exception | None = None
        self.failed = asyncio.Event()

    def take(self, message: aiomqtt.Message) -> None:
        archive, prefix = self.archive, self.prefix
        topic, payload = message.topic.value, message.payload
        if not topic.startswith(prefix) or not isinstance(payload, bytes | bytearray):
            return
        if len(payload) > MAX_PAYLOAD_BYTES:
            archive.rejected += 1
            return
        try:
            document = json.loads(payload)
        except ValueError:
            archive.rejected += 1
            return
        if not isinstance(document, dict):
            return
        try:
            archive.add(topic[len(prefix) :], document)
        except Exception as exc:
            self.error = exc
            self.failed.set()

    def queue_type(self) -> type[asyncio.Queue[aiomqtt.Message]]:
        take = self.take

        class Sink(asyncio.Queue[aiomqtt.Message]):
            def put_nowait(self, item: aiomqtt.Message) -> None:
                take(item)

        return Sink


async def _connection(client: aiomqtt.Client) -> None:
    """Return never; raise MqttError when the connection is lost."""
    async for _ in client.messages:
        pass


async def _until_stopped(work: Any, stop: asyncio.Event, failed: asyncio.Event) -> None:
    """Run ``work`` until it ends (its exception propagates), or ``stop`` or ``failed`` is set."""
    task: asyncio.Task[None] = asyncio.create_task(work)
    waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(failed.wait())]
    try:
        await asyncio.wait({task, *waiters}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, *waiters):
            pending.cancel()
        for pending in (task, *waiters):
            with contextlib.suppress(asyncio.CancelledError):
                await pending
    if task.done() and not task.cancelled():
        task.result()


def export(
    archive_path: Path,
    *,
    fmt: str = "csv",
    channels: Sequence[str] | None = None,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    out: Path | TextIO | None = None,
    vehicle: str | None = None,
) -> int:
    """Export samples as CSV to ``out`` (a path, a text file, or stdout); returns the rows."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt: {fmt!r} is not supported (one of: {', '.join(FORMATS)})")
    with Archive(archive_path, create=False) as archive:
        if channels is not None:
            known = set(archive.channels(vehicle)) | set(DICTIONARY.channel_index)
            unknown = [name for name in channels if name not in known]
            if unknown:
                raise ValueError(
                    f"channels: {', '.join(unknown)} neither in the archive nor in dictionary "
                    f"{DICTIONARY.version}"
                )
        if isinstance(out, Path):
            if not out.parent.is_dir():
                raise ValueError(f"out: directory {out.parent} does not exist")
            with out.open("w", newline="", encoding="utf-8") as file:
                return archive.export_csv(file, channels, start, end, vehicle=vehicle)
        return archive.export_csv(out or sys.stdout, channels, start, end, vehicle=vehicle)


def gaps(archive_path: Path, *, vehicle: str | None = None, out: TextIO | None = None) -> int:
    """Print ``stream: first-last missing`` per gap, or ``no gaps``; returns the gap count."""
    stream = out or sys.stdout
    with Archive(archive_path, create=False) as archive:
        found = archive.gap_report(vehicle)
    for gap in found:
        span = str(gap.first) if gap.first == gap.last else f"{gap.first}-{gap.last}"
        where = f" (run {gap.run} of {gap.runs}, before {gap.before})" if gap.runs > 1 else ""
        print(f"{gap.stream}: {span} missing{where}", file=stream)
    if not found:
        print("no gaps", file=stream)
    return len(found)


def plot(
    archive_path: Path,
    channels: Sequence[str],
    out: Path,
    *,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    vehicle: str | None = None,
) -> int:
    """Plot ``channels`` into the PNG ``out`` (see :func:`ground.plot.plot`); returns samples."""
    from ground.plot import plot as draw  # matplotlib only when plotting

    with Archive(archive_path, create=False) as archive:
        return draw(archive, channels, out, start, end, vehicle=vehicle)


# --- the command line ---------------------------------------------------------------------


def _time_arg(text: str) -> datetime:
    try:
        return parse_time(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time (e.g. 2026-11-21T10:00:00Z; no offset means UTC)"
        ) from None


def _common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    # On the subcommands the defaults are SUPPRESS, so an option given before the subcommand
    # is not reset by the subcommand's default.
    def default(value: object) -> object:
        return value if top else argparse.SUPPRESS

    parser.add_argument(
        "--archive",
        type=Path,
        default=default(DEFAULT_ARCHIVE),
        metavar="PATH",
        help=f"archive file (default: ./{DEFAULT_ARCHIVE})",
    )
    parser.add_argument(
        "--broker",
        default=default(DEFAULT_BROKER),
        metavar="URL",
        help=f"mqtt://host:port (default: {DEFAULT_BROKER})",
    )
    parser.add_argument(
        "--vehicle",
        default=default(None),
        help=f"vehicle id (record: default {DEFAULT_VEHICLE}; others: the archive's only vehicle)",
    )
    for flag, meta, kind, about in (
        ("--username", "NAME", str, "record: log in to the broker as NAME"),
        ("--password-file", "FILE", Path, "record: the login's password, first line, mode 0600"),
        ("--ca-file", "FILE", Path, "record: CA certificate to verify an mqtts:// broker"),
    ):
        parser.add_argument(flag, metavar=meta, type=kind, default=default(None), help=about)


def _range_args(parser: argparse.ArgumentParser) -> None:
    zone = "ISO 8601, UTC when it has no offset"
    parser.add_argument(
        "--from", dest="start", type=_time_arg, metavar="TIME", help=f"first sample time ({zone})"
    )
    parser.add_argument(
        "--to", dest="end", type=_time_arg, metavar="TIME", help=f"last sample time ({zone})"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="isru ground", description="Record, export and plot a vehicle's telemetry."
    )
    _common(parser, top=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rec = commands.add_parser("record", help="store everything the vehicle sends")
    _common(rec, top=False)

    archive = commands.add_parser("archive", help="export the archive or find its gaps")
    _common(archive, top=False)
    actions = archive.add_subparsers(dest="action", required=True, metavar="ACTION")
    exp = actions.add_parser("export", help="samples as CSV, a column per channel")
    _common(exp, top=False)
    _range_args(exp)
    exp.add_argument("--format", dest="fmt", choices=FORMATS, default="csv")
    exp.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    exp.add_argument("channels", nargs="*", metavar="CHANNEL", help="default: all")
    gap = actions.add_parser("gaps", help="missing telemetry sequence numbers")
    _common(gap, top=False)

    pl = commands.add_parser("plot", help="plot channels into a PNG, a subplot per unit")
    _common(pl, top=False)
    _range_args(pl)
    pl.add_argument("channels", nargs="+", metavar="CHANNEL")
    pl.add_argument("-o", "--output", type=Path, required=True, help="PNG file to write")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        options = parser.parse_args(argv)
        if bool(options.username) != (options.password_file is not None):
            parser.error("--username and --password-file go together")
    except SystemExit as exc:  # usage errors (2) and --help (0)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return _run(options)
    except KeyboardInterrupt:
        return 130
    except LoginRefused as exc:
        print(f"isru ground: {exc}", file=sys.stderr)
        return 5
    except PasswordFileError as exc:
        print(f"isru ground: {exc}", file=sys.stderr)
        return 2
    except (GroundError, ValueError, TypeError, OSError, sqlite3.Error) as exc:
        print(f"isru ground: error: {exc}", file=sys.stderr)
        return 1


def _run(options: argparse.Namespace) -> int:
    if options.command == "record":
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
        _stderr(
            f"archive {options.archive}: {counts['telemetry']} telemetry samples, "
            f"{counts['events']} events, {counts['acks']} acks"
            + (f" ({counts['rejected']} malformed messages ignored)" if counts["rejected"] else "")
        )
        return 0
    if options.command == "archive" and options.action == "export":
        rows = export(
            options.archive,
            fmt=options.fmt,
            channels=options.channels or None,
            start=options.start,
            end=options.end,
            out=options.output,
            vehicle=options.vehicle,
        )
        if options.output is not None:
            _stderr(f"wrote {rows} rows to {options.output}")
        return 0
    if options.command == "archive":
        gaps(options.archive, vehicle=options.vehicle)
        return 0
    samples = plot(
        options.archive,
        options.channels,
        options.output,
        start=options.start,
        end=options.end,
        vehicle=options.vehicle,
    )
    _stderr(f"wrote {options.output} ({samples} samples)")
    return 0


async def _record_until_signal(
    *, broker: str, vehicle: str, archive_path: Path, **login: Any
) -> dict[str, int]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    _stderr(f"recording vehicle {vehicle} from {broker} (Ctrl-C to stop)")
    try:
        return await record(
            broker=broker,
            vehicle=vehicle,
            archive_path=archive_path,
            stop=stop,
            log=_stderr,
            **login,
        )
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
