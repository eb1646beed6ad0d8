"""The contract between the vehicle and the ground: the dictionary and this build's catalog,
the MQTT messages and topics, how a client talks to the broker, command signing, the
condition language and the sequence-file reader. It imports nothing else of this project."""

from interface.broker import NODELAY, parse_broker, stop_task
from interface.catalog import DICTIONARY, VERSION
from interface.condition import Condition, ConditionError, parse_condition
from interface.dictionary import (
    ArgDef,
    ArgumentError,
    ChannelDef,
    CommandDef,
    Dictionary,
    EventDef,
    InterlockDef,
    Limits,
    Mode,
    SafingResponse,
    Severity,
)
from interface.messages import (
    MAX_PAYLOAD_BYTES,
    SCHEMA,
    VEHICLE_PATTERN,
    AckMessage,
    CommandMessage,
    EventMessage,
    SequenceStatusMessage,
    StatusMessage,
    TelemetryMessage,
)
from interface.sequence import Sequence, SequenceError, parse_sequence, read_value
from interface.signing import (
    MAX_COUNTER,
    KeyFileError,
    canonical_command,
    fingerprint,
    generate_key_file,
    load_key,
    sign,
)
from interface.topics import Topics

__all__ = [
    "DICTIONARY",
    "MAX_COUNTER",
    "MAX_PAYLOAD_BYTES",
    "NODELAY",
    "SCHEMA",
    "VEHICLE_PATTERN",
    "VERSION",
    "AckMessage",
    "ArgDef",
    "ArgumentError",
    "ChannelDef",
    "CommandDef",
    "CommandMessage",
    "Condition",
    "ConditionError",
    "Dictionary",
    "EventDef",
    "EventMessage",
    "InterlockDef",
    "KeyFileError",
    "Limits",
    "Mode",
    "SafingResponse",
    "Sequence",
    "SequenceError",
    "SequenceStatusMessage",
    "Severity",
    "StatusMessage",
    "TelemetryMessage",
    "Topics",
    "canonical_command",
    "fingerprint",
    "generate_key_file",
    "load_key",
    "parse_broker",
    "parse_condition",
    "parse_sequence",
    "read_value",
    "sign",
    "stop_task",
]
