"""The MQTT messages: the JSON schema of every message, as pydantic models.

The field names in the design's interface table are fixed, so that any MQTT client can use
the interface; every message also carries ``schema`` (this module's :data:`SCHEMA`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from interface.signing import MAX_COUNTER

SCHEMA = 1
#: The largest payload accepted on a subscribed topic; larger ones are refused unread.
MAX_PAYLOAD_BYTES = 256 * 1024
VEHICLE_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"


Stage = Literal["ACCEPTED", "STARTED", "COMPLETED", "FAILED"]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: Annotated[int, Field(alias="schema")] = SCHEMA

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()


class CommandMessage(_Message):
    """``cmd``: ground -> flight. ``counter`` and ``mac`` when commands are signed."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: Annotated[str, Field(min_length=1, max_length=64)]
    name: Annotated[str, Field(min_length=1, max_length=64)]
    args: dict[str, Any] = Field(default_factory=dict)
    #: A JSON integer from 1 to 2^53 - 1: not a boolean, a float (``5.0``) or a string.
    counter: Annotated[StrictInt, Field(ge=1, le=MAX_COUNTER)] | None = None
    mac: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None


class AckMessage(_Message):
    """``cmd/ack``: one verification stage of one command."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str
    name: str
    stage: Stage
    time: datetime
    reason: str | None = None
    detail: str | None = None
    replayed: bool | None = None


class TelemetryMessage(_Message):
    """``tm/<packet>``: one packet's channel values, numbered per packet stream."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    time: datetime
    seq: int
    values: dict[str, Any]
    replayed: bool | None = None


class EventMessage(_Message):
    """``evr``: one event."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    time: datetime
    seq: int
    severity: str
    id: str
    text: str
    args: dict[str, Any] = Field(default_factory=dict)
    replayed: bool | None = None


class StatusMessage(_Message):
    """``status`` (retained; the last will says ``offline``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    state: Literal["online", "offline"]
    mode: str | None = None
    version: str | None = None
    dict_hash: str | None = None
    time: datetime | None = None
    #: The highest command counter accepted (vehicles with a command key only): a client
    #: that signs continues above it.
    highest_counter: int | None = None


class SequenceStatusMessage(_Message):
    """``seq/status`` (retained): what the sequencer is doing, or how the last run ended."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    time: datetime
    state: Literal["IDLE", "RUNNING"]
    name: str = ""
    line: int = 0
    step: int = 0
    steps: int = 0
    elapsed_s: float = 0.0
    next_step: str = ""
    outcome: Literal["COMPLETED", "ABORTED"] | None = None
    reason: str = ""
    uploaded: list[str] = Field(default_factory=list)
