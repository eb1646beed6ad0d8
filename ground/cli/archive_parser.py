"""The command line of the archive verbs, ``isru ground [--archive PATH] record | archive
export | archive gaps | plot``: their parser and :func:`main`, which runs one of them."""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from ground.archive import FORMATS, parse_time
from ground.cli import archive, plot, record
from ground.cli.output import fail
from ground.cli.parser import FAILED, NOT_AUTHORISED, USAGE
from ground.cli.record import DEFAULT_VEHICLE
from ground.connection import LoginRefused
from ground.messages import GroundError
from ground.password import PasswordFileError

DEFAULT_ARCHIVE = Path("isru-archive.db")
DEFAULT_BROKER = "mqtt://127.0.0.1:1883"
#: Each verb's ``run(options) -> exit status``.
VERBS: dict[str, Callable[[argparse.Namespace], int]] = {
    "record": record.run,
    "archive": archive.run,
    "plot": plot.run,
}


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


def build_archive_parser() -> argparse.ArgumentParser:
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


def archive_main(argv: Sequence[str] | None = None) -> int:
    parser = build_archive_parser()
    try:
        options = parser.parse_args(argv)
        if bool(options.username) != (options.password_file is not None):
            parser.error("--username and --password-file go together")
    except SystemExit as exc:  # usage errors (2) and --help (0)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return VERBS[options.command](options)
    except KeyboardInterrupt:
        return 130
    except LoginRefused as exc:
        return fail(NOT_AUTHORISED, str(exc))
    except PasswordFileError as exc:
        return fail(USAGE, str(exc))
    except (GroundError, ValueError, TypeError, OSError, sqlite3.Error) as exc:
        return fail(FAILED, f"error: {exc}")
