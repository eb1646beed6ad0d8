"""What every ``isru <command> ACTION ...`` shares: the parser's verbs and the exit status.

Exit status: 0 done, 1 refused (the reason on stderr, after the command's name), 2 a usage
error (argparse has printed it; ``--help`` exits 0).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

__all__ = ["OK", "REFUSED", "USAGE", "run_verb", "verb_parser"]

OK, REFUSED, USAGE = 0, 1, 2


def verb_parser(
    prog: str, description: str
) -> tuple[argparse.ArgumentParser, argparse._SubParsersAction[argparse.ArgumentParser]]:
    """A parser for ``prog ACTION ...`` and where its actions are added."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="ACTION")
    return parser, verbs


def run_verb(
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
    run: Callable[[argparse.Namespace], int | None],
    refused: tuple[type[Exception], ...],
) -> int:
    """Parse ``argv`` and ``run`` the options; the exit status (``run``'s, or OK when it
    returns None). The ``refused`` errors are printed as one line, exit REFUSED."""
    try:
        options = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else USAGE
    try:
        status = run(options)
    except refused as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return REFUSED
    return OK if status is None else status
