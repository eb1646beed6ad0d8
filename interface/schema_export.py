"""JSON Schemas of every MQTT message, generated from the pydantic models (``isru schemas``).

Each message the flight software publishes or accepts (see docs/mqtt.md) gets one JSON Schema
(draft 2020-12) in ``docs/schemas/``, named after its topic below ``isru/<vehicle>/``:
``status.json``, ``cmd-ack.json``, ``tm-scoop.json``... and ``index.json`` maps each topic to
its file. The schemas come from the models in :mod:`interface.messages` (and for ``dict`` from
:class:`interface.dictionary.Dictionary`): what the flight publishes in their serialization
form, what it accepts (``cmd``, ``seq/...``) in their validation form. The telemetry of each
packet also gets its channels from the dictionary: their names and JSON types.

``isru schemas export [DIR]`` writes them; ``isru schemas check [DIR]`` exits 1 naming the
files that differ from what the models make now (a model changed: export again).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from interface.catalog import DICTIONARY
from interface.custody_messages import CustodyHeadMessage, ImageChunkMessage, LedgerLineMessage
from interface.dictionary import ChannelDef, Dictionary
from interface.messages import (
    AckMessage,
    CommandMessage,
    EventMessage,
    SequenceStatusMessage,
    StatusMessage,
    TelemetryMessage,
)

DIALECT = "https://json-schema.org/draft/2020-12/schema"
DEFAULT_DIR = Path("docs/schemas")
INDEX = "index.json"
#: The JSON type of each channel type (enum channels: their choices, as strings).
_JSON_TYPES = {"float": "number", "int": "integer", "bool": "boolean", "str": "string"}
#: The topics (below ``isru/<vehicle>/``) the flight publishes, and their models.
PUBLISHED: dict[str, type[BaseModel]] = {
    "status": StatusMessage,
    "evr": EventMessage,
    "cmd/ack": AckMessage,
    "seq/status": SequenceStatusMessage,
    "samples/entry": LedgerLineMessage,
    "samples/head": CustodyHeadMessage,
    "images/+": ImageChunkMessage,
}
#: The topics it accepts: every one carries a command (a ``seq/...`` topic only its own).
ACCEPTED = {
    "cmd": None,
    "seq/upload": "SEQ.UPLOAD",
    "seq/start": "SEQ.START",
    "seq/abort": "SEQ.ABORT",
}


def file_name(topic: str) -> str:
    """The schema file of a topic below ``isru/<vehicle>/``: ``cmd/ack`` -> ``cmd-ack.json``;
    ``tm/+`` (any packet) -> ``tm.json``."""
    return topic.replace("/+", "").replace("/", "-") + ".json"


def schema_for(topic: str, dictionary: Dictionary = DICTIONARY) -> str:
    """The file of the schema a message on ``topic`` (below ``isru/<vehicle>/``) must satisfy;
    KeyError for a topic the interface does not have."""
    packets = {c.packet for c in dictionary.channels}
    if topic.startswith("tm/"):
        return file_name(topic) if topic[3:] in packets else file_name("tm/+")
    if topic.startswith("images/") and "/" not in topic[7:]:
        return file_name("images/+")
    if topic in PUBLISHED or topic in ACCEPTED or topic == "dict":
        return file_name(topic)
    raise KeyError(f"no message is defined on topic {topic!r}")


def schemas(dictionary: Dictionary = DICTIONARY) -> dict[str, dict[str, Any]]:
    """Every schema by file name, and the index (topic -> file) as ``index.json``."""
    made: dict[str, tuple[str, dict[str, Any]]] = {}
    for topic, model in PUBLISHED.items():
        made[topic] = ("flight -> ground", _schema(model, "serialization"))
    made["dict"] = ("flight -> ground", _dictionary_schema(dictionary))
    made["tm/+"] = ("flight -> ground", _schema(TelemetryMessage, "serialization"))
    packets: dict[str, list[ChannelDef]] = {}
    for channel in dictionary.channels:
        packets.setdefault(channel.packet, []).append(channel)
    for packet, channels in packets.items():
        made[f"tm/{packet}"] = ("flight -> ground", _telemetry_schema(packet, channels))
    for topic, name in ACCEPTED.items():
        made[topic] = ("ground -> flight", _command_schema(name))
    files: dict[str, dict[str, Any]] = {}
    index: dict[str, dict[str, str]] = {}
    for topic, (direction, schema) in made.items():
        schema.pop("title", None)  # the model's name: the topic says more
        files[file_name(topic)] = {"$schema": DIALECT, "title": f"isru/<vehicle>/{topic}", **schema}
        index[f"isru/<vehicle>/{topic}"] = {"schema": file_name(topic), "direction": direction}
    files[INDEX] = {
        "description": "The schema of each MQTT topic (tm/+: a packet without its own file); "
        "made by `isru schemas export` from interface/messages.py and the dictionary",
        "topics": index,
    }
    return files


def render(schema: dict[str, Any]) -> str:
    """A schema as its file holds it."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def stale(directory: Path, dictionary: Dictionary = DICTIONARY) -> list[str]:
    """The files of ``directory`` that differ from what the models make now, are missing, or
    are left over (sorted)."""
    wanted = {name: render(schema) for name, schema in schemas(dictionary).items()}
    present = {p.name for p in directory.glob("*.json")} if directory.is_dir() else set()
    problems = [f"{name}: left over" for name in sorted(present - wanted.keys())]
    for name, text in sorted(wanted.items()):
        path = directory / name
        if name not in present:
            problems.append(f"{name}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{name}: differs from the models")
    return problems


def export(directory: Path, dictionary: Dictionary = DICTIONARY) -> list[str]:
    """Write every schema into ``directory`` (made if need be), remove left-over ``*.json``;
    the names written."""
    made = schemas(dictionary)
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.json"):
        if old.name not in made:
            old.unlink()
    for name, schema in made.items():
        (directory / name).write_text(render(schema), encoding="utf-8")
    return sorted(made)


def _schema(model: type[BaseModel], mode: Any) -> dict[str, Any]:
    return model.model_json_schema(by_alias=True, mode=mode)


def _telemetry_schema(packet: str, channels: list[ChannelDef]) -> dict[str, Any]:
    schema = _schema(TelemetryMessage, "serialization")
    schema["description"] = (
        f"``tm/{packet}``: channels of packet {packet}; a message carries some or all of them"
    )
    schema["properties"]["values"] = {
        "type": "object",
        "properties": {c.name: _channel(c) for c in channels},
        "additionalProperties": False,
    }
    return schema


def _channel(channel: ChannelDef) -> dict[str, Any]:
    about = channel.description + (f" [{channel.unit}]" if channel.unit else "")
    if channel.type == "enum":
        return {"enum": list(channel.choices), "description": about}
    return {"type": _JSON_TYPES[channel.type], "description": about}


def _command_schema(name: str | None) -> dict[str, Any]:
    schema = _schema(CommandMessage, "validation")
    if name is not None:
        schema["properties"]["name"] = {"const": name}
        schema["description"] = f"``seq/...``: a {name} command (no other on this topic)"
    return schema


def _dictionary_schema(dictionary: Dictionary) -> dict[str, Any]:
    """The ``dict`` document: the dictionary, each command with ``args_schema``, and ``hash``."""
    schema = type(dictionary).model_json_schema(mode="serialization")
    schema["properties"]["hash"] = {"type": "string", "pattern": "^[0-9a-f]{16}$"}
    schema["required"] = [*schema.get("required", []), "hash"]
    command = schema["$defs"]["CommandDef"]
    command["properties"]["args_schema"] = {
        "type": "object",
        "description": "JSON Schema of the command's arguments",
    }
    command["required"] = [*command.get("required", []), "args_schema"]
    return schema
