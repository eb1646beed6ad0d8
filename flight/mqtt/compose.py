"""The vehicle's messages as the contract words them: status, events, sequence status and
acks built from what the vehicle says, and each message's JSON bytes."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from flight.dispatcher import Ack
from flight.events import Event
from flight.mqtt.port import VehiclePort
from interface.catalog import VERSION
from interface.messages import AckMessage, EventMessage, SequenceStatusMessage, StatusMessage


def status_json(vehicle: VehiclePort, state: str, highest_counter: int | None) -> bytes:
    """The retained status: ``state`` (online or offline), mode, version and dictionary."""
    return StatusMessage(
        state=state,  # type: ignore[arg-type]
        mode=vehicle.modes.mode.value,
        version=VERSION,
        dict_hash=vehicle.dictionary.hash,
        time=vehicle.clock.utc(),
        highest_counter=highest_counter,
    ).to_json()


def event_message(event: Event) -> EventMessage:
    """One event, its arguments made JSON-safe (what is not a plain value becomes text)."""
    return EventMessage(
        time=event.time,
        seq=event.seq,
        severity=event.severity.value,
        id=event.id,
        text=event.text,
        args=_jsonable(event.args),
    )


def sequence_status_message(vehicle: VehiclePort, time: datetime) -> SequenceStatusMessage:
    """Where the sequencer is, and what sequences are uploaded."""
    status = vehicle.sequencer.status
    return SequenceStatusMessage(
        time=time,
        state=status.state.value,
        name=status.name,
        line=status.line,
        step=status.step,
        steps=status.steps,
        elapsed_s=status.elapsed_s,
        next_step=status.next_step,
        outcome=None if status.outcome is None else status.outcome.value,
        reason=status.reason,
        uploaded=sorted(vehicle.uploaded),
    )


def ack_message(ack: Ack) -> AckMessage:
    """One verification stage of a command."""
    return AckMessage(
        id=ack.id,
        name=ack.name,
        stage=ack.stage.value,
        time=ack.time,
        reason=None if ack.reason is None else ack.reason.value,
        detail=ack.detail or None,
    )


def refusal_message(
    command_id: str, name: str, reason: str, detail: str, time: datetime
) -> AckMessage:
    """FAILED before execution (a refused message)."""
    return AckMessage(
        id=command_id,
        name=name,
        stage="FAILED",
        time=time,
        reason=reason,  # type: ignore[arg-type]
        detail=detail,
    )


def to_json(message: BaseModel) -> bytes:
    """The message as UTF-8 JSON. Never raises: text that UTF-8 cannot hold (a lone
    surrogate that reached an event's arguments, say) is sent with ``?`` in its place."""
    try:
        return message.model_dump_json(by_alias=True, exclude_none=True).encode()
    except ValueError:  # pydantic's PydanticSerializationError
        document = message.model_dump(mode="json", by_alias=True, exclude_none=True)
        text = json.dumps(document, ensure_ascii=False, default=str)
        return text.encode("utf-8", "replace")


def _jsonable(args: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, str | int | float | bool | None) else str(v) for k, v in args.items()
    }
