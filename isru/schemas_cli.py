"""``isru schemas``: write or check the JSON Schemas of every MQTT message (docs/schemas)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from interface.schema_export import DEFAULT_DIR, export, stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="isru schemas",
        description="JSON Schemas of every MQTT message, generated from the flight's models.",
    )
    verbs = parser.add_subparsers(dest="verb", required=True)
    for verb, about in (
        ("export", "write the schemas (and index.json) into DIR"),
        ("check", "exit 1 naming the files of DIR that the models no longer make"),
    ):
        sub = verbs.add_parser(verb, help=about, description=about)
        sub.add_argument(
            "directory",
            nargs="?",
            type=Path,
            default=DEFAULT_DIR,
            metavar="DIR",
            help=f"default: {DEFAULT_DIR}",
        )
    options = parser.parse_args(argv)
    action: Callable[[Path], list[str]] = export if options.verb == "export" else stale
    try:
        found = action(options.directory)
    except OSError as exc:
        print(f"isru schemas: {options.directory}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if options.verb == "export":
        print(f"wrote {len(found)} files to {options.directory}", file=sys.stderr)
        return 0
    for problem in found:
        print(f"{options.directory}/{problem}")
    if found:
        print("isru schemas: stale; run: isru schemas export", file=sys.stderr)
        return 1
    print(f"{options.directory}: up to date", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
