"""``isru conform --port PORT --board scoop|elec|oven``: check a board against the ICD.

Prints one line per rule (PASS or FAIL, the rule, its ICD section, what was measured).
Exit 0 when every rule passes, 1 when one fails, 2 when the port cannot be opened or an
argument is wrong, 130 when interrupted (the board is stopped first).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import NoReturn

from hal.errors import PortError
from isru.conform.kit import run, select

PROG = "isru conform"
EPILOG = """\
the oven board: HEAT, HOLD, HEATER_OFF, STOP and EJECT need a sample of at least 1 g in the
oven (its load cell's SAMPLE_LOADED); without one their rules FAIL. Load one before the run,
or give --load: the kit opens the lid, asks on stderr for a sample to be tipped in, waits
up to 600 s for SAMPLE_LOADED and seals the lid. The kit heats the sample to 40 degC at most
with at most 10 W, a few seconds at a time, cools and warms the cold trap between -10 and
+10 degC, stops the board after every step, on a failure and on Ctrl-C, and ejects the
sample at the end (docs/icd.md section 11).
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description="Run the host side of every ICD rule against one board (docs/icd.md §11).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--port",
        required=True,
        metavar="PORT",
        help="the board's port: /dev/ttyUSB0, a pty path or socket://host:port",
    )
    p.add_argument(
        "--board", required=True, choices=("scoop", "elec", "oven"), help="which board it is"
    )
    p.add_argument("--baud", type=int, default=115200, metavar="N", help="baud rate (115200)")
    p.add_argument(
        "--rules",
        metavar="ID,ID",
        help="check only these rules (and the steps they need), e.g. WDG-TRIP,DUP-ONCE",
    )
    p.add_argument(
        "--load",
        action="store_true",
        help="oven: open the lid and wait for an operator to tip a sample in (see below)",
    )
    return p


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a bad argument already reported on stderr
        return exc.code if isinstance(exc.code, int) else 2
    if args.baud <= 0:
        print(f"{PROG}: error: argument --baud: must be positive, got {args.baud}", file=sys.stderr)
        return 2
    if args.load and args.board != "oven":
        print(f"{PROG}: error: argument --load: only for --board oven", file=sys.stderr)
        return 2
    only = None if args.rules is None else [r.strip() for r in args.rules.split(",") if r.strip()]
    try:
        select(args.board, only)
    except ValueError as exc:
        print(f"{PROG}: error: argument --{exc}", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(
            run(args.port, args.board, baudrate=args.baud, only=only, load=args.load, say=_say)
        )
    except PortError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; the board was sent STOP", file=sys.stderr)
        return 130
    sys.stdout.write(report.table())
    return 0 if report.passed else 1
