"""``isru ground`` with no verb: the operators' console (:mod:`ground.console`)."""

from __future__ import annotations

import argparse
import importlib

from ground.cli.online import key, login
from ground.cli.output import fail
from ground.cli.parser import FAILED


def run(args: argparse.Namespace) -> int:
    try:
        console = importlib.import_module("ground.console")
    except ModuleNotFoundError as exc:
        return fail(FAILED, f"the console is not available (no module {exc.name}); see --help")
    options = login(args)
    command_key = key(args.key)
    return int(
        console.run_console(
            broker=args.broker,
            vehicle=args.vehicle,
            key=command_key,
            images_dir=args.images_dir,
            **options,
        )
    )
