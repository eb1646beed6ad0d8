"""``isru key``: make a key file, show which key a file holds, or give a signing key's
public half.

``isru key generate FILE`` writes a new random command-authentication key (HMAC-SHA256,
mode 0600, never over an existing file) and prints the path and the key's fingerprint;
``--kind signing`` writes an Ed25519 private key (PEM, mode 0600) instead: the vehicle's
custody signing key, or an operator's countersigning key (``docs/samples.md``), a separate
key from the command key. ``isru key fingerprint FILE`` prints the fingerprint of the key in
FILE (of a signing key: of its public key). ``isru key public FILE`` prints the public key
of a signing key as PEM, or writes it to ``--out``. The fingerprint (8 hex digits of a
SHA-256) lets two ends check that they hold the same key; a secret key is never printed.
Exit status: 0 done, 1 the key file was refused (the reason on stderr), 2 a usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from interface.custody.keys import (
    PEM_BEGIN,
    generate_signing_key_file,
    key_id,
    load_public_key,
    public_pem,
    write_new_file,
)
from interface.signing import KeyFileError, fingerprint, generate_key_file, load_key
from isru.verb_cli import run_verb, verb_parser

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser, verbs = verb_parser(
        "isru key", "Key files: command authentication (HMAC-SHA256) and signing (Ed25519)."
    )
    generate = verbs.add_parser(
        "generate",
        help="write a new random key to FILE (mode 0600; never overwrites)",
        description="Write a new key to FILE (mode 0600): a random 32-byte command key as "
        "hex, or with --kind signing an Ed25519 private key as PEM.",
    )
    generate.add_argument(
        "--kind",
        choices=("command", "signing"),
        default="command",
        help="command: HMAC key for signed commands (default); signing: Ed25519 key for "
        "sample custody entries and countersignatures",
    )
    generate.add_argument("file", metavar="FILE", type=Path, help="key file to create")
    show = verbs.add_parser(
        "fingerprint",
        help="print the fingerprint of the key in FILE",
        description="Print the first 8 hex digits of the SHA-256 of the key in FILE (of a "
        "signing key: of its 32-byte public key).",
    )
    show.add_argument("file", metavar="FILE", type=Path, help="key file to read")
    public = verbs.add_parser(
        "public",
        help="print the public key of the signing key in FILE (PEM)",
        description="Print the Ed25519 public key of the signing key in FILE as PEM, or "
        "write it to --out (never over an existing file).",
    )
    public.add_argument("file", metavar="FILE", type=Path, help="signing key file to read")
    public.add_argument("--out", type=Path, metavar="PEM", help="write the public key here")
    return parser


def _is_pem(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            return stream.read(64).lstrip().startswith(PEM_BEGIN)
    except OSError:
        return False  # load_key names the problem


def _run(options: argparse.Namespace) -> None:
    path: Path = options.file
    if options.verb == "generate" and options.kind == "signing":
        key = generate_signing_key_file(path)
        print(f"wrote {path} (Ed25519 signing key; public key fingerprint {key_id(key)})")
    elif options.verb == "generate":
        generate_key_file(path)
        print(f"wrote {path} (key fingerprint {fingerprint(load_key(path))})")
    elif options.verb == "fingerprint" and _is_pem(path):
        print(key_id(load_public_key(path)))
    elif options.verb == "fingerprint":
        print(fingerprint(load_key(path)))
    else:
        pem = public_pem(load_public_key(path))
        if options.out is None:
            sys.stdout.write(pem.decode("ascii"))
        else:
            write_new_file(options.out, pem, 0o644)
            print(f"wrote {options.out} (public key fingerprint {key_id(load_public_key(path))})")


def main(argv: list[str] | None = None) -> int:
    """Run ``isru key``; return the exit status."""
    return run_verb(_parser(), argv, _run, (KeyFileError,))


if __name__ == "__main__":
    sys.exit(main())
