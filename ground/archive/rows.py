"""One row builder per message kind the archive stores: telemetry, events, acks.

Each builder takes the vehicle, the topic suffix, the document and its time (already parsed)
and returns the row for its table, or None for a malformed document (the archive counts it
in ``rejected``). Messages of any other kind (``status``, ``dict``, ``seq/...``, ``cmd``)
have no builder: the archive does not store them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ground.archive.query import format_time

Row = tuple[Any, ...]
Builder = Callable[[str, str, dict[str, Any], datetime], Row | None]


@dataclass(frozen=True, slots=True)
class Kind:
    """A message kind: its table, its row builder and its insert statement."""

    table: str
    build: Builder
    insert: str


def _seq(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63:
        return value
    return None


def _replayed(document: dict[str, Any]) -> int:
    return 1 if document.get("replayed") is True else 0


def _encoded(value: dict[str, Any]) -> str | None:
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=True)
    except (TypeError, ValueError):
        return None


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)


def telemetry_row(
    vehicle: str, suffix: str, document: dict[str, Any], when: datetime
) -> Row | None:
    """``(vehicle, stream, seq, time, t, values, replayed)``; ``stream`` is ``tm/<packet>``."""
    seq, values = _seq(document.get("seq")), document.get("values")
    if seq is None or not isinstance(values, dict) or not suffix[3:]:
        return None
    encoded = _encoded(values)
    if encoded is None:
        return None
    return (vehicle, suffix, seq, format_time(when), when.timestamp(), encoded, _replayed(document))


def event_row(vehicle: str, suffix: str, document: dict[str, Any], when: datetime) -> Row | None:
    """``(vehicle, seq, time, t, severity, id, text, args, replayed)``."""
    seq, args = _seq(document.get("seq")), document.get("args") or {}
    if seq is None or not isinstance(args, dict):
        return None
    encoded = _encoded(args)
    if encoded is None:
        return None
    return (
        vehicle,
        seq,
        format_time(when),
        when.timestamp(),
        str(document.get("severity", "")),
        str(document.get("id", "")),
        str(document.get("text", "")),
        encoded,
        _replayed(document),
    )


def ack_row(vehicle: str, suffix: str, document: dict[str, Any], when: datetime) -> Row | None:
    """``(vehicle, id, stage, name, time, t, reason, detail, replayed)``."""
    command_id, stage = document.get("id"), document.get("stage")
    if not isinstance(command_id, str) or not command_id or not isinstance(stage, str):
        return None
    return (
        vehicle,
        command_id,
        stage,
        str(document.get("name", "")),
        format_time(when),
        when.timestamp(),
        _optional(document.get("reason")),
        _optional(document.get("detail")),
        _replayed(document),
    )


TELEMETRY = Kind(
    "telemetry", telemetry_row, "INSERT OR IGNORE INTO telemetry VALUES (?, ?, ?, ?, ?, ?, ?)"
)
EVENTS = Kind(
    "events", event_row, "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
ACKS = Kind("acks", ack_row, "INSERT OR IGNORE INTO acks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
KINDS = (TELEMETRY, EVENTS, ACKS)


def kind_of(suffix: str) -> Kind | None:
    """The kind of the message on ``isru/<vehicle>/<suffix>``, or None if it is not stored."""
    if suffix.startswith("tm/"):
        return TELEMETRY
    if suffix == "evr":
        return EVENTS
    if suffix == "cmd/ack":
        return ACKS
    return None
