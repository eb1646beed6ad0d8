"""``isru dict``: export the dictionary as JSON, or show its hash."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from interface.catalog import DICTIONARY


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="isru dict", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)
    export = verbs.add_parser("export", help="write the dictionary (with JSON Schema) as JSON")
    export.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    verbs.add_parser("hash", help="print the dictionary hash that identifies this build")
    options = parser.parse_args(argv)
    if options.verb == "hash":
        print(DICTIONARY.hash)
        return 0
    text = json.dumps(DICTIONARY.export(), indent=2, sort_keys=True) + "\n"
    if options.output is None:
        sys.stdout.write(text)
        return 0
    try:
        options.output.write_text(text)
    except OSError as exc:
        print(f"isru dict: cannot write {options.output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {options.output} (dictionary {DICTIONARY.hash})", file=sys.stderr)
    return 0
