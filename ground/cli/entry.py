"""``isru ground``: command and watch one vehicle from a shell; no verb opens the console.

:func:`main` parses the words (:mod:`ground.cli.parser`), hands ``record``, ``archive`` and
``plot`` to :func:`ground.cli.archive_parser.archive_main` with the broker, vehicle and login
given before the verb, and runs one verb module (``run(args) -> exit status``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from ground.cli import console, events, send, seq, watch
from ground.cli.archive_parser import archive_main
from ground.cli.output import fail
from ground.cli.parser import COMMON, DELEGATED, ENVIRONMENT, FAILED, OK, USAGE, build_parser
from ground.cli.words import SequenceProblems, UsageError

#: What the archive verbs take of the common options: the broker, the vehicle and the login.
FORWARDED = ("--broker", "--vehicle", "--username", "--password-file", "--ca-file")
#: Each verb's ``run(args) -> exit status``; no verb: the console.
VERBS: dict[str | None, Callable[[argparse.Namespace], int]] = {
    "send": send.run,
    "watch": watch.run,
    "events": events.run,
    "seq": seq.run,
    None: console.run,
}


def main(argv: list[str] | None = None) -> int:
    """Run ``isru ground``; return the exit status (see the --help epilog)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        delegated = _delegate(argv)
        args = None if delegated is not None else build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else USAGE
    if args is None:
        return delegated or OK
    try:
        return VERBS[args.verb](args)
    except UsageError as exc:
        return fail(USAGE, str(exc))
    except SequenceProblems as exc:
        print("\n".join(exc.lines))
        return FAILED
    except KeyboardInterrupt:  # Ctrl-C ends a stream normally
        return OK if args.verb in ("watch", "events") else 130


def _delegate(argv: list[str]) -> int | None:
    """``record``, ``archive``, ``plot`` go to the archive verbs, with the broker, vehicle
    and login given before the verb (or by the environment); None for any other verb."""
    at = 0
    while at < len(argv) and argv[at].split("=")[0] in COMMON:
        at += 1 if "=" in argv[at] else 2
    if at >= len(argv) or argv[at] not in DELEGATED:
        return None
    given = build_parser().parse_args(argv[:at])
    flags, forward = {word.split("=")[0] for word in argv[:at]}, []
    for flag in FORWARDED:
        if flag in flags or os.environ.get(ENVIRONMENT[flag]):
            forward += [flag, str(getattr(given, flag[2:].replace("-", "_")))]
    return archive_main([*forward, *argv[at:]])
