"""What a query of the archive names: instants (parsed, and spelled one way) and channels."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime


def parse_time(value: str | datetime, *, name: str = "time") -> datetime:
    """An aware UTC datetime from ISO 8601 text or a datetime (no offset: assumed UTC)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{name}: {value!r} is not an ISO 8601 time") from None
    elif not isinstance(value, datetime):
        raise TypeError(f"{name}: expected ISO 8601 text or a datetime, got {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_time(value: datetime) -> str:
    """UTC ISO 8601 with microseconds and ``Z``: the archive's one spelling of an instant."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def time_range(start: datetime | str | None, end: datetime | str | None) -> tuple[float, float]:
    """``start`` and ``end`` as epoch seconds (None: unbounded); ValueError if end < start."""
    low = -math.inf if start is None else parse_time(start, name="start").timestamp()
    high = math.inf if end is None else parse_time(end, name="end").timestamp()
    if low > high:
        raise ValueError(f"end: {end} is before start {start}")
    return low, high


def span_text(start: datetime | str | None, end: datetime | str | None) -> str:
    """`` from <start> to <end>`` for a message or a title (each part only when given)."""
    parts = []
    if start is not None:
        parts.append(f" from {format_time(parse_time(start, name='start'))}")
    if end is not None:
        parts.append(f" to {format_time(parse_time(end, name='end'))}")
    return "".join(parts)


def channel_list(channels: Sequence[str]) -> list[str]:
    """The channel names asked for, once each, in order; TypeError/ValueError if not names."""
    if isinstance(channels, str) or not isinstance(channels, Sequence | set | frozenset):
        raise TypeError(f"channels: expected a list of channel names, got {channels!r}")
    names = list(dict.fromkeys(channels))
    if not names:
        raise ValueError("channels: name at least one channel")
    bad = [name for name in names if not isinstance(name, str) or not name]
    if bad:
        raise ValueError(f"channels: {bad[0]!r} is not a channel name")
    return names
