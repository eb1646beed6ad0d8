"""``isru key``: make a command-authentication key file, or show which key a file holds.

``isru key generate FILE`` writes a new random key (mode 0600, never over an existing file)
and prints the path and the key's fingerprint; ``isru key fingerprint FILE`` prints the
fingerprint of the key in FILE. The fingerprint (first 8 hex digits of the key's SHA-256) lets
the flight and ground ends check that they hold the same key; the key itself is never printed.
Exit status: 0 done, 1 the key file was refused (the reason on stderr), 2 a usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from interface.signing import KeyFileError, fingerprint, generate_key_file, load_key

__all__ = ["main"]

OK, REFUSED, USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="isru key", description="Command-authentication key files (HMAC-SHA256)."
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="ACTION")
    generate = verbs.add_parser(
        "generate",
        help="write a new random key to FILE (mode 0600; never overwrites)",
        description="Write a new random 32-byte key, as hex, to FILE (mode 0600).",
    )
    generate.add_argument("file", metavar="FILE", type=Path, help="key file to create")
    show = verbs.add_parser(
        "fingerprint",
        help="print the fingerprint of the key in FILE",
        description="Print the first 8 hex digits of the SHA-256 of the key in FILE.",
    )
    show.add_argument("file", metavar="FILE", type=Path, help="key file to read")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``isru key``; return the exit status."""
    try:
        options = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else USAGE
    path: Path = options.file
    try:
        if options.verb == "generate":
            generate_key_file(path)
            print(f"wrote {path} (key fingerprint {fingerprint(load_key(path))})")
        else:
            print(fingerprint(load_key(path)))
    except KeyFileError as exc:
        print(f"isru key: {exc}", file=sys.stderr)
        return REFUSED
    return OK


if __name__ == "__main__":
    sys.exit(main())
