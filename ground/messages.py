"""What the ground receives from a vehicle, as small typed records, and its base error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel


class GroundError(Exception):
    """Base of the ground's errors; the message is written for the operator."""


@dataclass(frozen=True, slots=True)
class Ack:
    id: str
    name: str
    stage: str
    time: str
    reason: str | None = None
    detail: str | None = None
    replayed: bool = False

    @classmethod
    def from_message(cls, document: dict[str, Any]) -> Ack:
        return cls(
            str(document.get("id", "")),
            str(document.get("name", "")),
            str(document.get("stage", "")),
            str(document.get("time", "")),
            document.get("reason"),
            document.get("detail"),
            bool(document.get("replayed", False)),
        )


@dataclass(frozen=True, slots=True)
class Event:
    time: str
    seq: int
    severity: str
    id: str
    text: str
    args: dict[str, Any] = field(default_factory=dict)
    replayed: bool = False

    @classmethod
    def from_message(cls, document: dict[str, Any]) -> Event:
        return cls(
            str(document.get("time", "")),
            int(document.get("seq", 0)),
            str(document.get("severity", "")),
            str(document.get("id", "")),
            str(document.get("text", "")),
            dict(document.get("args") or {}),
            bool(document.get("replayed", False)),
        )


@dataclass(frozen=True, slots=True)
class Telemetry:
    packet: str
    time: str
    seq: int
    values: dict[str, Any]
    replayed: bool = False

    @classmethod
    def from_message(cls, packet: str, document: dict[str, Any]) -> Telemetry:
        return cls(
            packet,
            str(document.get("time", "")),
            int(document.get("seq", 0)),
            dict(document.get("values") or {}),
            bool(document.get("replayed", False)),
        )


def checked(model: type[BaseModel], document: dict[str, Any]) -> dict[str, Any]:
    """``document`` if the fields ``model`` knows have its types (pydantic's ValidationError,
    a ValueError, if not); fields it does not know, from a newer vehicle, are let through."""
    known = {info.alias or name for name, info in model.model_fields.items()}
    model.model_validate({key: value for key, value in document.items() if key in known})
    return document
