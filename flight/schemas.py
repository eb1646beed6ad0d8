"""The MQTT messages: topic names and the JSON schema of every message, as pydantic models.

The field names in the design's interface table are fixed, so that any MQTT client can use
the interface; every message also carries ``schema`` (this module's :data:`SCHEMA`).
"""

from __future__ import annotations

import asyncio
import socket
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from flight.auth import MAX_COUNTER

SCHEMA = 1
#: The largest payload accepted on a subscribed topic; larger ones are refused unread.
MAX_PAYLOAD_BYTES = 256 * 1024
VEHICLE_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"
#: TCP_NODELAY for every MQTT client socket (aiomqtt's ``socket_options``): with Nagle's
#: algorithm left on, a QoS 1 round trip on loopback takes ~88 ms instead of under 1 ms.
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
#: How long :func:`stop_task` lets a cancelled task clean up before cancelling it again.
STOP_RETRY_S = 0.5


async def stop_task(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and return once it has ended; what it raised, other than the
    cancellation, is raised here.

    A plain ``cancel()`` can be lost on Python 3.11: aiomqtt awaits every broker reply (CONNACK,
    SUBACK, PUBACK) through ``asyncio.wait_for``, which returns the reply and drops the
    cancellation when both arrive in the same loop turn (CPython gh-86296, fixed in 3.12). The
    task then runs on into its next wait, typically ``client.messages``, and nothing ends it.
    So the cancellation is repeated until the task is done.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=STOP_RETRY_S)
    if not task.cancelled() and (error := task.exception()) is not None:
        raise error


def parse_broker(url: str) -> tuple[str, int]:
    """``mqtt://host:port`` (or ``mqtts://``) as (host, port); ValueError naming the problem."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"broker: {url!r} is not mqtt://host:port")
    try:
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    except ValueError:
        raise ValueError(f"broker: {url!r} has a bad port") from None
    return parts.hostname, port


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


class Topics:
    """The topic tree of one vehicle: ``isru/<vehicle>/...``."""

    def __init__(self, vehicle: str, *, root: str = "isru") -> None:
        if not vehicle or any(c in vehicle for c in "/+#"):
            raise ValueError(f"vehicle: {vehicle!r} cannot be a topic segment")
        self.prefix = f"{root}/{vehicle}"
        self.status = f"{self.prefix}/status"
        self.dict = f"{self.prefix}/dict"
        self.evr = f"{self.prefix}/evr"
        self.cmd = f"{self.prefix}/cmd"
        self.ack = f"{self.prefix}/cmd/ack"
        self.seq_upload = f"{self.prefix}/seq/upload"
        self.seq_start = f"{self.prefix}/seq/start"
        self.seq_abort = f"{self.prefix}/seq/abort"
        self.seq_status = f"{self.prefix}/seq/status"

    def tm(self, packet: str) -> str:
        return f"{self.prefix}/tm/{packet}"

    @property
    def tm_all(self) -> str:
        return f"{self.prefix}/tm/+"
