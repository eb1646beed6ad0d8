"""Blocks of a doc that code generates: the text between two marker comments, read or rewritten.

A generator module renders its blocks, its test compares them with :func:`between`, and
``python -m tests.<generator> --write`` rewrites them through :func:`main`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["between", "main", "replace_between", "write_blocks"]


def _span(text: str, begin: str, end: str) -> tuple[int, int]:
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise ValueError(f"markers {begin!r} ... {end!r} not found")
    return start + len(begin), stop


def between(text: str, begin: str, end: str) -> str:
    """The block between the markers of ``text``; ValueError when they are missing."""
    start, stop = _span(text, begin, end)
    return text[start:stop].strip("\n") + "\n"


def replace_between(text: str, begin: str, end: str, block: str) -> str:
    """``text`` with ``block`` between its markers; ValueError when they are missing."""
    start, stop = _span(text, begin, end)
    return f"{text[:start]}\n{block}{text[stop:]}"


def write_blocks(doc: Path, blocks: Iterable[tuple[str, str, str]]) -> None:
    """Rewrite each ``(begin, end, block)`` of ``doc``; nothing is written when markers are
    missing (ValueError naming the doc and the markers)."""
    text = doc.read_text(encoding="utf-8")
    for begin, end, block in blocks:
        try:
            text = replace_between(text, begin, end, block)
        except ValueError as exc:
            raise ValueError(f"{doc}: {exc}") from None
    doc.write_text(text, encoding="utf-8")


def main(
    argv: list[str],
    *,
    doc: Path,
    regenerate: str,
    write: Callable[[], None],
    show: Callable[[], str],
) -> int:
    """``--write``: ``write()`` the doc's blocks; no argument: print ``show()``."""
    if argv == ["--write"]:
        try:
            write()
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"updated {doc}")
    elif not argv:
        sys.stdout.write(show())
    else:
        print(f"usage: {regenerate.removesuffix(' --write')} [--write]", file=sys.stderr)
        return 2
    return 0
