"""What ``isru ground`` prints: one line per ack stage, telemetry sample, event or sequence
status, and its one-line errors."""

from __future__ import annotations

import difflib
import json
import sys
from collections.abc import Callable
from typing import Any

from ground.cli.words import UsageError
from ground.messages import Ack, Event, Telemetry
from interface.dictionary import Dictionary, Severity

#: What a stream prints for one message (topic suffix, document), or None to skip it.
Pick = Callable[[str, dict[str, Any]], str | None]


def fail(code: int, message: str) -> int:
    """Print ``isru ground: message`` on stderr; returns ``code`` (the exit status)."""
    print(f"isru ground: {message}", file=sys.stderr)
    return code


def note(line: str) -> None:
    """One line on stderr, at once (what a long-running verb is doing)."""
    print(line, file=sys.stderr, flush=True)


def stage_line(ack: Ack) -> str:
    return f"{ack.stage:<9} {ack.time}  {ack.name}" + ("  (replayed)" if ack.replayed else "")


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value) if value != "" else '""'


def telemetry_line(
    time: str, values: dict[str, Any], units: dict[str, str], *, replayed: bool = False
) -> str:
    """``time  channel=value unit  ...``, channels in name order."""
    shown = [
        f"{name}={_shown(value)}" + (f" {units[name]}" if units.get(name) else "")
        for name, value in sorted(values.items())
    ]
    return "  ".join([time, *shown]) + ("  (replayed)" if replayed else "")


def event_line(event: Event) -> str:
    line = f"{event.time}  {event.severity:<10} {event.id}  {event.text}"
    return line + ("  (replayed)" if event.replayed else "")


def telemetry_picker(dictionary: Dictionary, channels: list[str], *, as_json: bool) -> Pick:
    """Telemetry lines of ``channels`` (all when empty); UsageError naming an unknown one."""
    index = dictionary.channel_index
    for name in channels:
        if name not in index:
            hint = difflib.get_close_matches(name, index, n=1)
            maybe = f" (did you mean {hint[0]}?)" if hint else ""
            raise UsageError(f"unknown channel {name!r}{maybe}")
    units, wanted = {n: c.unit for n, c in index.items()}, set(channels)

    def pick(suffix: str, document: dict[str, Any]) -> str | None:
        if not suffix.startswith("tm/"):
            return None
        tm = Telemetry.from_message(suffix[3:], document)
        values = {k: v for k, v in tm.values.items() if not wanted or k in wanted}
        if not values:
            return None
        if as_json:
            return json.dumps({**document, "packet": tm.packet, "values": values})
        return telemetry_line(tm.time, values, units, replayed=tm.replayed)

    return pick


def event_picker(min_severity: str, *, as_json: bool) -> Pick:
    """Event lines at ``min_severity`` or above (an unknown severity is always shown)."""
    order = [str(s) for s in Severity]
    floor = order.index(min_severity)

    def pick(suffix: str, document: dict[str, Any]) -> str | None:
        event = Event.from_message(document) if suffix == "evr" else None
        if event is None or (event.severity in order and order.index(event.severity) < floor):
            return None
        return json.dumps(document) if as_json else event_line(event)

    return pick


def sequence_status_line(status: dict[str, Any]) -> str:
    """The retained ``seq/status`` as one line of ``key=value``."""
    state = status.get("state", "?")
    parts = [f"state={state}", f"name={status.get('name') or '-'}"]
    if state == "RUNNING":
        parts += [f"step={status.get('step', 0)}/{status.get('steps', 0)}"]
        parts += [f"line={status.get('line', 0)}", f"next={status.get('next_step') or '-'}"]
    if status.get("outcome"):
        parts.append(f"outcome={status['outcome']}")
    if status.get("reason"):
        parts.append(f"reason={status['reason']!r}")
    parts.append(f"elapsed_s={float(status.get('elapsed_s', 0.0)):.1f}")
    parts.append("uploaded=" + (",".join(status.get("uploaded") or []) or "-"))
    return "  ".join(parts)
