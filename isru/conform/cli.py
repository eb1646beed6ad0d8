"""``isru conform --port PORT --board scoop|elec``: check a board against the ICD.

Prints one line per rule (PASS or FAIL, the rule, its ICD section, what was measured).
Exit 0 when every rule passes, 1 when one fails, 2 when the port cannot be opened or an
argument is wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import NoReturn

from hal.errors import PortError
from isru.conform.kit import run, select

PROG = "isru conform"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description="Run the host side of every ICD rule against one board (docs/icd.md §11).",
    )
    p.add_argument(
        "--port",
        required=True,
        metavar="PORT",
        help="the board's port: /dev/ttyUSB0, a pty path or socket://host:port",
    )
    p.add_argument("--board", required=True, choices=("scoop", "elec"), help="which board it is")
    p.add_argument("--baud", type=int, default=115200, metavar="N", help="baud rate (115200)")
    p.add_argument(
        "--rules",
        metavar="ID,ID",
        help="check only these rules (and the steps they need), e.g. WDG-TRIP,DUP-ONCE",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a bad argument already reported on stderr
        return exc.code if isinstance(exc.code, int) else 2
    if args.baud <= 0:
        print(f"{PROG}: error: argument --baud: must be positive, got {args.baud}", file=sys.stderr)
        return 2
    only = None if args.rules is None else [r.strip() for r in args.rules.split(",") if r.strip()]
    try:
        select(args.board, only)
    except ValueError as exc:
        print(f"{PROG}: error: argument --{exc}", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(run(args.port, args.board, baudrate=args.baud, only=only))
    except PortError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(report.table())
    return 0 if report.passed else 1
