"""The operator's words as a request: ``name=value`` arguments as typed values, and sequence
files checked offline against the dictionary."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ground.messages import GroundError
from interface.dictionary import Dictionary
from interface.sequence import MAX_BYTES, Sequence, SequenceError, parse_sequence, read_value

_ARG_NAME = re.compile(r"[a-z][a-z0-9_]*", re.ASCII)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*", re.ASCII)


class UsageError(GroundError):
    """The operator's words cannot be a request (exit status 2); the message says why."""


def command_args(words: list[str]) -> dict[str, Any]:
    """``name=value`` words as the sequence language reads them: ``true``/``false``, numbers
    (int unless written with ``.`` or an exponent), or a bare word."""
    args: dict[str, Any] = {}
    for word in words:
        key, eq, raw = word.partition("=")
        if not eq or not _ARG_NAME.fullmatch(key):
            raise UsageError(f"expected name=value, got {word!r}")
        if key in args:
            raise UsageError(f"argument {key}: given twice")
        args[key] = _value(key, raw)
    return args


def _value(key: str, raw: str) -> Any:
    try:
        return read_value(raw)
    except ValueError as exc:
        if _WORD.fullmatch(raw):
            return raw  # the shell also takes words with '-' (sequence names, say)
        raise UsageError(f"argument {key}: {exc}") from None


class SequenceProblems(GroundError):
    """A sequence file the dictionary rejects (exit status 1); ``lines`` are ``FILE:LINE: ...``."""

    def __init__(self, path: Path, error: SequenceError) -> None:
        super().__init__(f"{path}: {len(error.problems)} problem(s)")
        self.lines = [
            f"{path}:{p.line}: {p.message}" if p.line else f"{path}: {p}" for p in error.problems
        ]


def check_sequence_file(path: Path, dictionary: Dictionary) -> tuple[str, Sequence]:
    """The text of a sequence file and its checked steps; UsageError for an unreadable file,
    SequenceProblems for a bad one."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)
        text = data.decode("utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        return text, parse_sequence(text, name=path.stem or str(path), dictionary=dictionary)
    except SequenceError as exc:
        raise SequenceProblems(path, exc) from None
