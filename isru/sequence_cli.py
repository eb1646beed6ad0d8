"""``isru seq``: check sequence files offline against this build's dictionary.

``isru seq predict FILE.seq [--json]`` dry-runs one on the simulator (:mod:`isru.predict`).

``isru seq check FILE...`` prints ``FILE: ok (N steps)`` or each problem as
``FILE:LINE: message`` (compiler style) on stdout. Exit status: 0 all clean, 1 a file has
problems, 2 a usage error or an unreadable file (the reason on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from interface.catalog import DICTIONARY
from interface.sequence import MAX_BYTES, Problem, SequenceError, parse_sequence
from isru.predict import cli as predict_cli

__all__ = ["check_file", "main"]

OK, PROBLEMS, USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="isru seq",
        description="Sequence files: check them against the dictionary, predict what one does.",
    )
    commands = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = commands.add_parser(
        "check", help="check sequence files offline", description="Check sequence files."
    )
    check.add_argument("files", nargs="+", metavar="FILE", type=Path, help="sequence file")
    predict_cli.add_parser(commands)
    return parser


def check_file(path: Path) -> tuple[int, list[str]]:
    """Check one file: its exit status and the lines to print (stdout, or stderr for status 2)."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except OSError as exc:
        return USAGE, [f"isru seq: cannot read {path}: {exc.strerror or exc}"]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return PROBLEMS, [f"{path}:{line}: not UTF-8 text (byte {exc.start})"]
    if len(data) > MAX_BYTES:
        return PROBLEMS, [f"{path}: file is over {MAX_BYTES} bytes; the limit is {MAX_BYTES}"]
    try:
        sequence = parse_sequence(text, name=path.stem or str(path), dictionary=DICTIONARY)
    except SequenceError as exc:
        return PROBLEMS, [_located(path, problem) for problem in exc.problems]
    return OK, [f"{path}: ok ({len(sequence.steps)} steps)"]


def _located(path: Path, problem: Problem) -> str:
    return f"{path}:{problem.line}: {problem.message}" if problem.line else f"{path}: {problem}"


def main(argv: list[str] | None = None) -> int:
    """Run ``isru seq``; return the exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else USAGE
    if args.action == "predict":
        return predict_cli.run(args)
    status = OK
    for path in args.files:
        result, lines = check_file(path)
        stream = sys.stderr if result == USAGE else sys.stdout
        for line in lines:
            print(line, file=stream)
        status = max(status, result)
    return status


if __name__ == "__main__":
    sys.exit(main())
